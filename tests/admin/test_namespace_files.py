"""The console's namespace files pages: browse by directory, download, upload, edit text files,
delete; viewers read only, other namespaces are invisible, every form needs its CSRF token."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.models import Namespace
from core import storage
from files.services import namespace_file_put
from tests.admin.conftest import Tenant
from tests.admin.helpers import change_url

pytestmark = pytest.mark.django_db


def url(name: str, namespace: Namespace, path: str | None = None) -> str:
    base = reverse(f"admin:accounts_namespace_{name}", args=[namespace.pk])
    return base if path is None else f"{base}?path={path}"


def stored(namespace: Namespace) -> dict[str, bytes]:
    return {key: storage.open_file(key).read() for key in storage.walk(namespace.name)}


@pytest.fixture
def files_a(tenant_a: Tenant, global_admin) -> Namespace:
    for path, content in (("scripts/etl.py", b"print('etl')\n"), ("readme.md", b"# A"), ("data/blob.bin", b"\xff\xfe")):
        namespace_file_put(account=global_admin, namespace=tenant_a.namespace, path=path, content=content)
    return tenant_a.namespace


def test_the_namespace_page_links_its_files(client, viewer_a, files_a):
    client.force_login(viewer_a)
    page = client.get(change_url(files_a))
    assert url("files", files_a) in page.content.decode()


def test_a_viewer_browses_directories_and_downloads(client, viewer_a, files_a):
    client.force_login(viewer_a)
    root = client.get(url("files", files_a))
    assert root.status_code == 200
    rows = [row.path for row in root.context["rows"]]
    assert rows == ["data", "scripts", "readme.md"]
    html = root.content.decode()
    assert "Upload" not in html and "Delete" not in html and "New text file" not in html
    scripts = client.get(url("files", files_a, "/scripts/"))
    assert [row.path for row in scripts.context["rows"]] == ["scripts/etl.py"]
    assert scripts.context["crumbs"] == [("scripts", "scripts")] and scripts.context["parent"] == ""
    download = client.get(url("file_download", files_a, "scripts/etl.py"))
    assert b"".join(download.streaming_content) == b"print('etl')\n"
    assert download["Content-Disposition"] == 'attachment; filename="etl.py"'


def test_a_viewer_reads_a_text_file_but_cannot_save_it(client, viewer_a, files_a):
    client.force_login(viewer_a)
    page = client.get(url("file_edit", files_a, "scripts/etl.py"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "print(&#x27;etl&#x27;)" in html and "readonly" in html and 'value="Save"' not in html
    assert client.post(url("file_edit", files_a, "scripts/etl.py"), {"content": "x"}).status_code == 403
    upload = {"file": SimpleUploadedFile("x.txt", b"x")}
    assert client.post(url("file_upload", files_a), upload).status_code == 403
    assert client.get(url("file_delete", files_a, "readme.md")).status_code == 403
    assert client.post(url("file_delete", files_a, "readme.md")).status_code == 403
    assert stored(files_a)[f"{files_a.name}/_files/scripts/etl.py"] == b"print('etl')\n"
    assert client.get(url("file_edit", files_a, "new.py")).status_code == 302  # no new file for a viewer


def test_an_editor_edits_a_text_file(client, editor_a, files_a):
    client.force_login(editor_a)
    page = client.get(url("file_edit", files_a, "scripts/etl.py"))
    assert page.context["form"].initial["content"] == "print('etl')\n" and "readonly" not in page.content.decode()
    saved = client.post(url("file_edit", files_a, "scripts/etl.py"), {"content": "print('v2')\r\nok = 1\r\n"})
    assert saved.status_code == 302 and saved["Location"] == url("files", files_a, "scripts")
    assert stored(files_a)[f"{files_a.name}/_files/scripts/etl.py"] == b"print('v2')\nok = 1\n"


def test_an_editor_creates_a_new_text_file(client, editor_a, files_a):
    client.force_login(editor_a)
    page = client.get(url("file_edit", files_a, "lib/new.py"))
    assert page.status_code == 200 and page.context["is_new"] is True
    assert client.post(url("file_edit", files_a, "lib/new.py"), {"content": "x = 1\n"}).status_code == 302
    assert stored(files_a)[f"{files_a.name}/_files/lib/new.py"] == b"x = 1\n"


def test_a_file_that_is_not_text_or_too_large_is_not_edited(client, editor_a, files_a, global_admin):
    client.force_login(editor_a)
    binary = client.get(url("file_edit", files_a, "data/blob.bin"), follow=True)
    assert "not UTF-8 text" in binary.content.decode()
    namespace_file_put(account=global_admin, namespace=files_a, path="big.txt", content=b"a" * (1024 * 1024 + 1))
    big = client.get(url("file_edit", files_a, "big.txt"), follow=True)
    assert "download it instead" in big.content.decode()
    directory = client.get(url("file_edit", files_a, "scripts"), follow=True)
    assert "is a directory" in directory.content.decode()


def test_an_editor_uploads_into_the_current_directory(client, editor_a, files_a):
    client.force_login(editor_a)
    done = client.post(url("file_upload", files_a, "scripts"), {"file": SimpleUploadedFile("load.sql", b"SELECT 1")})
    assert done.status_code == 302 and done["Location"] == url("files", files_a, "scripts")
    renamed = {"file": SimpleUploadedFile("x", b"y"), "name": "sub/renamed.txt"}
    client.post(url("file_upload", files_a, "scripts"), renamed)
    keys = stored(files_a)
    assert keys[f"{files_a.name}/_files/scripts/load.sql"] == b"SELECT 1"
    assert keys[f"{files_a.name}/_files/scripts/sub/renamed.txt"] == b"y"
    assert client.get(url("file_upload", files_a)).status_code == 405  # a POST only
    nothing = client.post(url("file_upload", files_a), {}, follow=True)
    assert "choose a file to upload" in nothing.content.decode()


@pytest.mark.parametrize(
    ("directory", "name", "message"),
    [("", "../up.txt", "may not contain"), ("", "x" * 256, "at most 255"), ("readme.md", "", "is a file")],
    ids=["dotdot", "long-name", "under-a-file"],
)
def test_a_refused_upload_says_why_and_stores_nothing(client, editor_a, files_a, directory, name, message):
    client.force_login(editor_a)
    before = stored(files_a)
    upload = {"file": SimpleUploadedFile("in.txt", b"z"), "name": name}
    page = client.post(url("file_upload", files_a, directory), upload, follow=True)
    assert message in page.content.decode()
    assert stored(files_a) == before


def test_an_upload_over_the_cap_is_refused(client, editor_a, files_a, settings):
    settings.MILLRACE_MAX_FILE_BYTES = 10
    client.force_login(editor_a)
    page = client.post(url("file_upload", files_a), {"file": SimpleUploadedFile("big.bin", b"b" * 11)}, follow=True)
    assert "larger than the limit of 10 bytes" in page.content.decode()
    assert f"{files_a.name}/_files/big.bin" not in stored(files_a)


def test_an_editor_deletes_a_file_and_a_directory_after_confirming(client, editor_a, files_a):
    client.force_login(editor_a)
    confirm = client.get(url("file_delete", files_a, "scripts"))
    assert confirm.status_code == 200 and "every file under it" in confirm.content.decode()
    assert client.post(url("file_delete", files_a, "scripts")).status_code == 302
    assert client.post(url("file_delete", files_a, "/readme.md")).status_code == 302
    assert set(stored(files_a)) == {f"{files_a.name}/_files/data/blob.bin"}
    missing = client.post(url("file_delete", files_a, "readme.md"), follow=True)
    assert "not found" in missing.content.decode()


def test_bad_paths_go_back_to_the_listing_with_the_reason(client, viewer_a, files_a):
    client.force_login(viewer_a)
    for page in ("files", "file_download", "file_edit"):
        response = client.get(url(page, files_a, "../../etc/passwd"), follow=True)
        assert response.redirect_chain[-1][0] == url("files", files_a), page
        assert "may not contain" in response.content.decode()
    missing = client.get(url("files", files_a, "nowhere"), follow=True)
    assert "not found" in missing.content.decode()


def test_another_namespace_is_invisible(client, editor_a, tenant_b, global_admin):
    namespace_file_put(account=global_admin, namespace=tenant_b.namespace, path="secret.txt", content=b"b-secret")
    client.force_login(editor_a)
    for page in ("files", "file_download", "file_edit", "file_delete"):
        response = client.get(url(page, tenant_b.namespace, "secret.txt"))
        assert response.status_code == 302 and response["Location"] == reverse("admin:index"), page
    upload = client.post(url("file_upload", tenant_b.namespace), {"file": SimpleUploadedFile("x", b"x")})
    assert upload.status_code == 302
    assert client.post(url("file_delete", tenant_b.namespace, "secret.txt")).status_code == 302
    assert stored(tenant_b.namespace) == {f"{tenant_b.namespace.name}/_files/secret.txt": b"b-secret"}


def test_forms_need_their_csrf_token(editor_a, files_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor_a)
    listing = client.get(url("files", files_a)).content.decode()
    assert "csrfmiddlewaretoken" in listing.split('id="upload-form"')[1].split("</form>")[0]
    upload = client.post(url("file_upload", files_a), {"file": SimpleUploadedFile("x.txt", b"x")})
    edit = client.post(url("file_edit", files_a, "readme.md"), {"content": "changed"})
    delete = client.post(url("file_delete", files_a, "readme.md"))
    assert upload.status_code == edit.status_code == delete.status_code == 403
    assert stored(files_a)[f"{files_a.name}/_files/readme.md"] == b"# A"


def test_an_editor_by_membership_writes_a_namespace_it_is_not_homed_in(client, ns_admin, files_a):
    """ns_admin is a viewer at home and admin of A by membership: it writes A's files."""
    client.force_login(ns_admin)
    assert client.post(url("file_edit", files_a, "by-admin.txt"), {"content": "hi"}).status_code == 302
    assert stored(files_a)[f"{files_a.name}/_files/by-admin.txt"] == b"hi"
