"""`check_literal_url`: what saving a flow or an agent refuses without resolving a name."""

import socket

import pytest

from connectors.netpolicy import check_literal_url

from .test_netpolicy import REFUSED


@pytest.mark.parametrize(("host", "reason", "network"), REFUSED)
def test_literal_addresses_the_policy_refuses(host: str, reason: str, network: str, settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    assert f"a {reason} address" in check_literal_url(f"http://{host}:8080/x")
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = [network]
    assert check_literal_url(f"http://{host}:8080/x") is None


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://example.com/", "ftp://example.com/", "dict://x:11/"])
def test_other_schemes_are_refused(url: str) -> None:
    assert "only http and https" in check_literal_url(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("example.com/path", "not an absolute URL"),
        ("http://", "no host"),
        ("http://example.com:99999/", "not a valid URL"),
        ("http://[::1:8790/", "not a valid URL"),
        ("http://99999999999/", "not a valid URL"),
    ],
)
def test_urls_that_cannot_work_are_refused(url: str, reason: str) -> None:
    assert reason in check_literal_url(url)


def test_names_are_not_resolved(settings, monkeypatch) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []

    def no_dns(*args, **kwargs):
        raise AssertionError("a name was resolved at save time")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    assert check_literal_url("https://api.example.com/items?x=1") is None
    assert check_literal_url("http://rebind.test:8080/") is None  # judged when it runs
    assert check_literal_url("https://93.184.216.34/") is None
