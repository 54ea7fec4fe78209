"""`check_host`: the network policy for a host and port reached without a URL (databases, SMTP)."""

import ipaddress
import re
import socket

import pytest

from connectors.netpolicy import (
    InvalidOutboundURL,
    OutboundConnectionError,
    OutboundPolicyError,
    check_host,
    refusal_reason,
)

from .test_netpolicy import REFUSED


@pytest.mark.parametrize(("host", "reason", "network"), REFUSED)
def test_refused_by_default_as_for_urls(host: str, reason: str, network: str, settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    with pytest.raises(OutboundPolicyError, match=f"is a {reason} address") as caught:
        check_host(host, 5432)
    assert caught.value.code == "NETWORK_POLICY_ERROR"


@pytest.mark.parametrize(("host", "reason", "network"), REFUSED)
def test_allowed_when_the_network_is_listed(host: str, reason: str, network: str, settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = [network]
    target = check_host(host, 3306)
    assert (target.port, target.scheme) == (3306, "tcp")
    assert target.addresses
    assert all(refusal_reason(address) is None for address in target.addresses)


def test_public_addresses_pass_and_the_name_is_kept(settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    target = check_host("8.8.8.8", 25, scheme="smtp")
    assert (target.host, target.port, target.scheme) == ("8.8.8.8", 25, "smtp")
    assert target.addresses == (ipaddress.ip_address("8.8.8.8"),)
    assert check_host("[2606:4700:4700::1111]", 587).host == "2606:4700:4700::1111"


def test_a_name_is_judged_by_what_it_resolves_to(settings, monkeypatch) -> None:
    """A public-looking name that resolves to a private address is refused (DNS rebinding's first half)."""
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []

    def private_answer(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr(socket, "getaddrinfo", private_answer)
    with pytest.raises(
        OutboundPolicyError, match=re.escape("Refused host 'db.example.com': 10.0.0.7 is a private address")
    ):
        check_host("db.example.com", 5432)


def test_only_allowed_addresses_are_returned(settings, monkeypatch) -> None:
    """A name answering with a public and a loopback address may only be reached at the public one."""
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []

    def mixed(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", mixed)
    assert check_host("mixed.example.com", 5432).addresses == (ipaddress.ip_address("93.184.216.34"),)


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("/var/run/postgresql", id="socket-dir"),
        pytest.param("@abstract", id="abstract-socket"),
        pytest.param("%2Fvar%2Frun", id="escaped-socket"),
        pytest.param("db1,db2", id="host-list"),
        pytest.param("fe80::1%eth0", id="zone-id"),
        pytest.param("", id="empty"),
        pytest.param("exa mple.com", id="space"),
        pytest.param("host\nname", id="newline"),
        pytest.param("db.example.com\n", id="trailing-newline"),
        pytest.param("a" * 300, id="too-long"),
        pytest.param(None, id="none"),
        pytest.param(42, id="number"),
    ],
)
def test_things_that_are_not_hosts_are_refused(host, settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["0.0.0.0/0", "::/0"]
    with pytest.raises(InvalidOutboundURL, match="not a host name or IP address") as caught:
        check_host(host, 5432)
    assert caught.value.code == "INVALID_URL"


@pytest.mark.parametrize("port", [0, -1, 65536, 10**12, "5432", True, None, 5432.0])
def test_bad_ports_are_refused(port, settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    with pytest.raises(InvalidOutboundURL, match="Invalid port"):
        check_host("127.0.0.1", port)


def test_an_unresolvable_name_is_a_connection_error(settings) -> None:
    settings.MILLRACE_HTTP_ALLOWED_NETWORKS = []
    with pytest.raises(
        OutboundConnectionError, match=re.escape("Cannot resolve host 'no-such-host.invalid'")
    ) as caught:
        check_host("no-such-host.invalid", 5432)
    assert caught.value.code == "CONNECTION_ERROR"
