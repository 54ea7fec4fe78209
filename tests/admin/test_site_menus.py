"""The console's menus: "API tokens" spelled so, and Django's Groups and JWT blacklist left out
of them (superusers still reach both by URL; others not at all)."""

from tests.admin.helpers import admin_url

PLUMBING = (
    "/admin/auth/group/",
    "/admin/token_blacklist/blacklistedtoken/",
    "/admin/token_blacklist/outstandingtoken/",
)


def test_the_menus_leave_out_groups_and_the_token_blacklist(client, superuser, ns_admin):
    for account in (superuser, ns_admin):
        client.force_login(account)
        page = client.get(admin_url("index")).content.decode()
        assert "/admin/accounts/apitoken/" in page and ">API tokens<" in page and "Api tokens" not in page
        for url in PLUMBING:
            assert url not in page
        assert "Token blacklist" not in page and ">Groups<" not in page
        sidebar = client.get("/admin/flows/flow/").content.decode()
        assert "Blacklisted" not in sidebar and ">Groups<" not in sidebar


def test_superusers_still_reach_them_and_others_do_not(client, superuser, ns_admin):
    client.force_login(superuser)
    for url in PLUMBING:
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/auth/").status_code == 200
    client.force_login(ns_admin)
    for url in PLUMBING:
        assert client.get(url).status_code in (403, 404), url


def test_the_token_pages_say_api_tokens(client, superuser):
    client.force_login(superuser)
    page = client.get("/admin/accounts/apitoken/").content.decode()
    assert "<title>Select API token to view" in page and "Api token" not in page
