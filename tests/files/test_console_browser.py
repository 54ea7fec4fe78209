"""The console's namespace files page in a real browser: an editor finds it from the namespace,
uploads into a directory, opens and edits a text file and downloads it; a viewer reads only.

The browser and the console server are those of the browser tests (tests/browser/conftest.py).
"""

import pytest

from accounts.models import Account
from accounts.roles import Role
from core import storage
from files.services import namespace_file_put
from tests.browser import conftest as browser_tests
from tests.browser.helpers import click_through, outside_playwright
from tests.factories import AccountFactory, NamespaceFactory

pytestmark = pytest.mark.browser
browser, console_server, server_url = browser_tests.browser, browser_tests.console_server, browser_tests.server_url
page, login = browser_tests.page, browser_tests.login


@pytest.fixture
def space(transactional_db):
    namespace = outside_playwright(lambda: NamespaceFactory(name="production"))
    admin = outside_playwright(lambda: AccountFactory(username="root", role=Role.ADMIN, default_namespace=None))
    outside_playwright(
        lambda: namespace_file_put(account=admin, namespace=namespace, path="/scripts/etl.py", content=b"print(1)\n")
    )
    return namespace


def account(space, role: str) -> Account:
    return outside_playwright(lambda: AccountFactory(username=role, role=role, default_namespace=space))


def test_an_editor_uploads_edits_and_downloads_a_file(page, login, space, tmp_path) -> None:
    login(page, account(space, Role.EDITOR))
    page.goto(f"/admin/accounts/namespace/{space.pk}/change/")
    click_through(page, f"a[href='/admin/accounts/namespace/{space.pk}/files/']")
    paths = "rows => rows.map(row => row.dataset.path)"
    assert page.locator("#file-list tbody tr").evaluate_all(paths) == ["scripts"]

    upload = tmp_path / "report.csv"
    upload.write_bytes(b"city,n\nLyon,3\n")
    page.set_input_files("#upload-form input[type=file]", str(upload))
    page.fill("#upload-form input[name=name]", "my data/é report.csv")
    click_through(page, "#upload-form input[type=submit]")  # to the directory it went into
    assert page.locator("#file-list tbody tr.mr-file").evaluate_all(paths) == ["my data/é report.csv"]
    click_through(page, "#file-list a:text-is('..')")
    assert page.locator("#file-list tbody tr.mr-directory").evaluate_all(paths) == ["my data", "scripts"]
    click_through(page, "#file-list a:text-is('my data/')")
    click_through(page, "#file-list a:text-is('é report.csv')")
    assert page.locator("textarea").input_value() == "city,n\nLyon,3\n"

    page.fill("textarea", "city,n\nOslo,5\n")
    click_through(page, "#edit-form input[type=submit]")
    key = "production/_files/my data/é report.csv"
    assert outside_playwright(lambda: storage.open_file(key).read()) == b"city,n\nOslo,5\n"

    with page.expect_download() as download:
        page.locator("#file-list tr.mr-file a.mr-download").click()
    assert download.value.suggested_filename == "é report.csv"
    assert download.value.path().read_bytes() == b"city,n\nOslo,5\n"


def test_a_viewer_reads_but_finds_no_way_to_write(page, login, space) -> None:
    login(page, account(space, Role.VIEWER))
    page.goto(f"/admin/accounts/namespace/{space.pk}/files/?path=scripts")
    assert page.locator("#upload-form").count() == 0 and page.locator("a.mr-delete").count() == 0
    click_through(page, "#file-list a:text-is('etl.py')")
    assert page.locator("textarea").input_value() == "print(1)\n"
    assert page.locator("#edit-form input[type=submit]").count() == 0
