"""The network policy for outbound HTTP (which addresses Millrace may connect to) and the outbound errors.

Flows are written by tenants, so a URL in a flow must not reach the platform's own loopback
services, the private network or a cloud metadata endpoint. Addresses are judged after name
resolution (and in every spelling an IP literal can take), and `MILLRACE_HTTP_ALLOWED_NETWORKS`
is the operator's way to open a network on purpose (a local test server, an intranet API).
The client in `connectors.http` connects only to addresses `check_url` returned; the error
types live here so the policy and the client raise the same ones (import them from either).
Plugins that speak other protocols (a database, an SMTP server) check a host and port with
`check_host` and connect to an address it returned, under the same rules and errors.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Numeric IPv4 spellings that inet_aton accepts: 2130706433, 0177.0.0.1, 0x7f.1, 127.1 ...
_NUMERIC_HOST = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}$", re.IGNORECASE)


class OutboundError(Exception):
    """Base of every refusal or failure of an outbound call; `code` is the error code callers report."""

    code = "OUTBOUND_ERROR"


class OutboundPolicyError(OutboundError):
    """The URL's scheme or address is refused by the network policy."""

    code = "NETWORK_POLICY_ERROR"


class InvalidOutboundURL(OutboundError):
    """The URL cannot be parsed or has no host."""

    code = "INVALID_URL"


class OutboundTimeout(OutboundError):
    """The call did not finish within its deadline."""

    code = "TIMEOUT_ERROR"


class OutboundConnectionError(OutboundError):
    """The host could not be resolved or reached, or the connection broke (TLS failures included)."""

    code = "CONNECTION_ERROR"


class ResponseTooLarge(OutboundError):
    """The response body is larger than the cap."""

    code = "RESPONSE_TOO_LARGE"


class TooManyRedirects(OutboundError):
    """More than MAX_REDIRECTS redirects."""

    code = "TOO_MANY_REDIRECTS"


def allowed_networks() -> list[IPNetwork]:
    """The networks `MILLRACE_HTTP_ALLOWED_NETWORKS` opens up (read on every call so tests and reloads apply)."""
    networks = []
    for cidr in settings.MILLRACE_HTTP_ALLOWED_NETWORKS:
        try:
            networks.append(ipaddress.ip_network(cidr, strict=False))
        except ValueError as error:
            raise ImproperlyConfigured(f"MILLRACE_HTTP_ALLOWED_NETWORKS: {error}") from error
    return networks


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, 6to4, Teredo, NAT64): they reach the IPv4 host."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    found = [address.ipv4_mapped, address.sixtofour, address.teredo[1] if address.teredo else None]
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [ipv4 for ipv4 in found if ipv4 is not None]


def _classify(address: IPAddress) -> str | None:
    if address.is_unspecified or address.is_loopback:
        return "loopback"  # 0.0.0.0 and :: reach the local host too
    if address in _METADATA:
        return "cloud metadata"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "non-public"
    return None


def refusal_reason(address: IPAddress) -> str | None:
    """Why the policy refuses an address ("loopback", "private", ...), or None when it may be contacted."""
    embedded = _embedded_ipv4(address)
    networks = allowed_networks()
    if any(each in network for each in (*embedded, address) for network in networks):
        return None
    for candidate in embedded or [address]:  # a wrapped IPv4 address is judged by the host it reaches
        reason = _classify(candidate)
        if reason:
            return reason
    return None


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host names literally, in any spelling (0177.0.0.1 and 2130706433 included), else None."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError as error:
            raise InvalidOutboundURL(f"'{host}' is not a valid IP address.") from error
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to, in the resolver's order, without duplicates."""
    literal = parse_ip_literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise OutboundConnectionError(f"Cannot resolve host '{host}': {error}") from error
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


@dataclass(frozen=True)
class Target:
    """Where a checked URL may connect: the host as written and the addresses the policy allows."""

    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def split_url(url: str) -> SplitResult:
    """`urlsplit` raising InvalidOutboundURL where urllib raises ValueError (`http://[::1:8790/`)."""
    try:
        return urlsplit(url)
    except ValueError as error:  # the URL itself stays out of the message: it may carry a token
        raise InvalidOutboundURL(f"The URL cannot be parsed: {error}.") from error


def check_url(url: str) -> Target:
    """Apply the network policy to a URL; raise OutboundPolicyError/InvalidOutboundURL when it is refused."""
    parts = split_url(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise OutboundPolicyError(f"Refused URL scheme '{scheme}': only http and https are allowed.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as error:
        raise InvalidOutboundURL(f"Invalid port in URL: {error}") from error
    host = parts.hostname
    if not host:
        raise InvalidOutboundURL("The URL has no host.")
    return _target(scheme, host, port)


def _target(scheme: str, host: str, port: int) -> Target:
    """Resolve `host` and keep the addresses the policy allows; refused when none is left."""
    addresses = resolve(host, port)
    allowed = tuple(address for address in addresses if refusal_reason(address) is None)
    if not allowed:
        address = addresses[0]
        raise OutboundPolicyError(
            f"Refused host '{host}': {address} is a {refusal_reason(address)} address "
            "not allowed by MILLRACE_HTTP_ALLOWED_NETWORKS."
        )
    return Target(scheme=scheme, host=host, port=port, addresses=allowed)


# A DNS name or an IPv4 spelling; IPv6 literals are recognised by `ipaddress`. Anything else (a
# socket path, `host1,host2`, `%`-escapes, a zone id) is refused rather than handed to a driver.
_HOST_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_.])?")


def check_host(host: str, port: int, *, scheme: str = "tcp") -> Target:
    """Apply the network policy to a host and port reached without a URL (a database, an SMTP server).

    The same rules and errors as `check_url`; the caller connects to one of the returned
    addresses, never to the name again, so a DNS answer that changes in between cannot
    slip past the policy. A unix-socket path or a list of hosts is not a host and is refused.
    """
    name = host[1:-1] if isinstance(host, str) and host.startswith("[") and host.endswith("]") else host
    if not isinstance(name, str) or not (_HOST_NAME.fullmatch(name) or _ipv6_literal(name)):
        raise InvalidOutboundURL(f"{str(host)[:100]!r} is not a host name or IP address (sockets are refused).")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise InvalidOutboundURL(f"Invalid port {port!r}: use 1 to 65535.")
    return _target(scheme, name.lower(), port)


def _ipv6_literal(name: str) -> bool:
    if "%" in name:  # a zone id names an interface of this host
        return False
    try:
        return isinstance(ipaddress.ip_address(name), ipaddress.IPv6Address)
    except ValueError:
        return False


_LOOPBACK_NAMES = re.compile(r"^(?:.+\.)?localhost\.?$", re.IGNORECASE)


def check_literal_url(url: str) -> str | None:
    """Why the policy will refuse `url` whatever DNS answers, or None: saving a flow or agent refuses it.

    A wrong scheme, a URL that does not parse, and a host that is an IP literal (any
    spelling) or `localhost` (RFC 6761) in a refused range. Other names are not resolved:
    what they resolve to when saved says nothing about when they run, so `check_url` judges
    them then.
    """
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if not scheme:
            return "not an absolute URL: begin it with http:// or https://"
        if scheme not in ("http", "https"):
            return f"refused URL scheme '{scheme}': only http and https are allowed"
        parts.port  # noqa: B018  (raises ValueError for a bad port)
        host = parts.hostname
        if not host:
            return "the URL has no host"
        address = _literal_address(host)
    except (ValueError, InvalidOutboundURL) as error:
        return f"not a valid URL: {error}"
    return _refused_address(host, address)


def check_literal_host(host: str) -> str | None:
    """Why the policy will refuse a server named without a URL (a database's, an SMTP server's)
    whatever DNS answers, or None: `check_literal_url`'s rules for what `check_host` judges.

    A value that is no host name or IP address (a socket path, a list of hosts) is refused
    as `check_host` refuses it; other names are judged when the step runs.
    """
    name = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not (_HOST_NAME.fullmatch(name) or _ipv6_literal(name)):
        return f"{host[:100]!r} is not a host name or IP address (sockets are refused)"
    try:
        address = _literal_address(name)
    except InvalidOutboundURL as error:
        return f"not a valid host: {error}"
    return _refused_address(name.lower(), address)


def _literal_address(host: str) -> IPAddress | None:
    """The address a host names whatever DNS answers: an IP literal, or loopback for `localhost`."""
    return ipaddress.ip_address("127.0.0.1") if _LOOPBACK_NAMES.match(host) else parse_ip_literal(host)


def _refused_address(host: str, address: IPAddress | None) -> str | None:
    reason = refusal_reason(address) if address is not None else None
    if reason:
        return f"refused host '{host}': a {reason} address not allowed by MILLRACE_HTTP_ALLOWED_NETWORKS"
    return None
