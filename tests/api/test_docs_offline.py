"""The API docs load nothing from another origin: no Google Fonts, and Redoc's bundle is
served with its attribution logo from here instead of Redocly's CDN."""

import pytest

from api.docs import DOCUMENTED, REDOCLY_LOGO

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("slug", list(DOCUMENTED))
def test_the_redoc_page_names_only_local_files(client, slug):
    page = client.get(f"/api/redoc/{slug}/").content.decode()
    assert "fonts.googleapis" not in page and "fonts.gstatic" not in page
    assert '<script src="/api/redoc/redoc.standalone.js"></script>' in page
    assert 'rel="icon" href="/static/millrace/favicon.svg"' in page
    assert "https://" not in page


def test_the_bundle_has_no_cdn_logo(client):
    response = client.get("/api/redoc/redoc.standalone.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    bundle = response.content.decode()
    assert REDOCLY_LOGO not in bundle and "cdn.redoc.ly" not in bundle
    assert 'src:"/static/millrace/favicon.svg"' in bundle
    assert "Redoc" in bundle and len(bundle) > 500_000  # the whole bundle, not a stub
