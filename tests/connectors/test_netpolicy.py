"""The network policy: which hosts outbound HTTP may reach, and MILLRACE_HTTP_ALLOWED_NETWORKS."""

import ipaddress

import pytest
from django.core.exceptions import ImproperlyConfigured

from connectors.netpolicy import (
    InvalidOutboundURL,
    OutboundPolicyError,
    check_url,
    parse_ip_literal,
    refusal_reason,
)

# (host as written in a URL, the reason it is refused, a network that allows it)
REFUSED = [
    ("127.0.0.1", "loopback", "127.0.0.0/8"),
    ("10.1.2.3", "private", "10.0.0.0/8"),
    ("172.16.5.4", "private", "172.16.0.0/12"),
    ("192.168.1.1", "private", "192.168.0.0/16"),
    ("169.254.169.254", "cloud metadata", "169.254.169.254/32"),
    ("169.254.10.10", "link-local", "169.254.0.0/16"),
    ("[::1]", "loopback", "::1/128"),
    ("[::ffff:127.0.0.1]", "loopback", "127.0.0.0/8"),
    ("[::ffff:10.0.0.1]", "private", "10.0.0.0/8"),
    ("0.0.0.0", "loopback", "0.0.0.0/32"),
    ("[::]", "loopback", "::/128"),
    ("2130706433", "loopback", "127.0.0.0/8"),  # decimal 127.0.0.1
    ("0177.0.0.1", "loopback", "127.0.0.0/8"),  # octal
    ("0x7f.0.0.1", "loopback", "127.0.0.0/8"),  # hex
    ("127.1", "loopback", "127.0.0.0/8"),  # short form
    ("localhost", "loopback", "127.0.0.0/8"),  # a name resolving to 127.0.0.1
    ("224.0.0.1", "multicast", "224.0.0.0/4"),
    ("100.64.0.1", "non-public", "100.64.0.0/10"),  # carrier-grade NAT
    ("[fe80::1]", "link-local", "fe80::/10"),
    ("[fc00::1]", "private", "fc00::/7"),
    ("[2002:7f00:1::]", "loopback", "127.0.0.0/8"),  # 6to4 wrapping 127.0.0.1
    ("[64:ff9b::a00:1]", "private", "10.0.0.0/8"),  # NAT64 wrapping 10.0.0.1
]


@pytest.mark.parametrize(("host", "reason", "network"), REFUSED)
def test_refused_by_default(host: str, reason: str, network: str, settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    with pytest.raises(OutboundPolicyError, match=f"is a {reason} address") as caught:
        check_url(f"http://{host}/path")
    assert caught.value.code == "NETWORK_POLICY_ERROR"


@pytest.mark.parametrize(("host", "reason", "network"), REFUSED)
def test_allowed_when_the_network_is_listed(host: str, reason: str, network: str, settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = [network]
    target = check_url(f"http://{host}:8080/path")
    assert target.port == 8080
    assert target.addresses
    assert all(refusal_reason(address) is None for address in target.addresses)


def test_allowing_one_network_does_not_allow_another(settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    check_url("http://127.0.0.1/")
    for host in ("10.0.0.1", "169.254.169.254", "[::1]", "192.168.0.1"):
        with pytest.raises(OutboundPolicyError):
            check_url(f"http://{host}/")


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://93.184.216.34/", "93.184.216.34"),
        ("https://[2606:4700:4700::1111]/", "2606:4700:4700::1111"),
        ("http://8.8.8.8:81/x", "8.8.8.8"),
        ("http://[::ffff:8.8.8.8]/", "::ffff:808:808"),  # a mapped public address reaches a public host
    ],
)
def test_public_addresses_are_allowed(url: str, address: str, settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    assert [str(each) for each in check_url(url).addresses] == [address]


def test_only_http_and_https(settings) -> None:
    for url in ("ftp://example.com/file", "file:///etc/passwd", "gopher://example.com/", "javascript:alert(1)"):
        with pytest.raises(OutboundPolicyError, match="only http and https"):
            check_url(url)


def test_a_url_without_host_or_with_a_bad_port_is_invalid() -> None:
    with pytest.raises(InvalidOutboundURL):
        check_url("http:///path")
    with pytest.raises(InvalidOutboundURL):
        check_url("http://example.com:99999/")


def test_numeric_spellings_parse_to_the_address_they_mean() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    for spelling in ("2130706433", "0177.0.0.1", "0x7f000001", "0x7f.0.0.1", "127.1", "[::ffff:127.0.0.1]"):
        address = parse_ip_literal(spelling)
        assert address == loopback or getattr(address, "ipv4_mapped", None) == loopback
    assert parse_ip_literal("example.com") is None
    assert parse_ip_literal("1e100.net") is None
    with pytest.raises(InvalidOutboundURL):
        parse_ip_literal("99999999999")


def test_an_invalid_allowed_network_is_a_configuration_error(settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["not-a-network"]
    with pytest.raises(ImproperlyConfigured, match="MILLRACE_HTTP_ALLOWED_NETWORKS"):
        check_url("http://93.184.216.34/")
