"""`/` is a landing page (also the console's "View site"), never a 404."""

import pytest
from rest_framework.test import APIClient

from api.docs import DOCUMENTED

pytestmark = pytest.mark.django_db


def test_root_links_the_console_the_docs_of_every_dialect_and_health():
    response = APIClient().get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for link in ('href="/admin/"', 'href="/api/docs/"', 'href="/healthz"'):
        assert link in page
    for slug in DOCUMENTED:
        assert f'href="/api/docs/{slug}/"' in page and f'href="/api/redoc/{slug}/"' in page


def test_the_linked_pages_answer():
    for path in ("/admin/login/", "/api/docs/", "/healthz"):
        assert APIClient().get(path).status_code == 200, path


def test_view_site_leads_to_the_landing_page(client, admin_account):
    client.force_login(admin_account)
    assert 'href="/">View site</a>' in client.get("/admin/").content.decode()
