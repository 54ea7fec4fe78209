"""The one outbound HTTP client. Plugins, connector commands, callbacks and webhooks all send through it.

URLs in flows are written by tenants, so every request is untrusted: it could aim at an
internal address, hang a worker, or stream gigabytes into memory. Here, and only here:

- only http and https;
- every request (every redirect hop included) passes `netpolicy.check_url`, and the
  connection goes to an address that check returned, while the original name still travels
  in the Host header and TLS SNI/certificate check, so a DNS answer that changes between
  check and connect cannot slip past the policy;
- redirects are followed one hop at a time, at most MAX_REDIRECTS;
- a deadline covers the whole call, and the body is read in chunks up to a size cap.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from functools import lru_cache
from http.cookiejar import DefaultCookiePolicy
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

from connectors.netpolicy import (
    InvalidOutboundURL,
    IPAddress,
    OutboundConnectionError,
    OutboundError,
    OutboundPolicyError,
    OutboundTimeout,
    ResponseTooLarge,
    Target,
    TooManyRedirects,
    check_url,
    split_url,
)
from core import jsonlimits

__all__ = [
    "MAX_REDIRECTS",
    "MAX_TIMEOUT_SECONDS",
    "InvalidOutboundURL",
    "OutboundConnectionError",
    "OutboundError",
    "OutboundPolicyError",
    "OutboundResponse",
    "OutboundTimeout",
    "PolicyAdapter",
    "ResponseTooLarge",
    "Target",
    "TooManyRedirects",
    "check_url",
    "display_host",
    "request",
]

MAX_REDIRECTS = 5
MAX_TIMEOUT_SECONDS = 300.0  # a call holds a worker; no call may take longer (unless the default is higher)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024


# urllib3 logs every request line, query string included, at DEBUG: a URL written in a flow
# can carry an API key, and a DEBUG log level must not put it in the log. This module logs
# what it needs itself (host only); urllib3 keeps its warnings.
logging.getLogger("urllib3").setLevel(logging.INFO)

_pinned_address: contextvars.ContextVar[IPAddress | None] = contextvars.ContextVar("pinned_address", default=None)


class PolicyAdapter(HTTPAdapter):
    """Transport adapter that checks every request it sends and connects to a checked address only.

    The connection pool is keyed on the checked IP; the original host name goes in the Host
    header and, for https, in SNI and the certificate check (`server_hostname`).
    """

    def __init__(self) -> None:
        super().__init__(max_retries=0)  # a retried POST could run twice; callers decide about retries

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Check the URL, then send to the first checked address that accepts a connection.

        `proxies` is ignored: a proxy would resolve the name itself, past the policy.
        """
        target = check_url(request.url or "")
        request.headers["Host"] = split_url(request.url or "").netloc.rpartition("@")[2]
        last = len(target.addresses) - 1
        for index, address in enumerate(target.addresses):
            token = _pinned_address.set(address)
            try:
                return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=None)
            except requests.ConnectionError as error:
                # Refused or unreachable before anything was sent: the next checked address may answer.
                if index == last or not _never_connected(error):
                    raise
            finally:
                _pinned_address.reset(token)
        raise AssertionError("check_url returns at least one address")

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        address = _pinned_address.get()
        if address is None:
            raise OutboundPolicyError("Refused a request that was not checked against the network policy.")
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = host_params["host"]
        host_params["host"] = str(address)
        return host_params, pool_kwargs


def _never_connected(error: requests.ConnectionError) -> bool:
    if isinstance(error, requests.ConnectTimeout):
        return False  # the deadline is spent; do not wait again on another address
    reason = error.args[0] if error.args else None
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, NewConnectionError)


class _RefuseCookies(DefaultCookiePolicy):
    """The session is shared by every tenant: it must never carry a cookie from one call to the next."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False


@lru_cache(maxsize=1)
def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies, .netrc or CA bundles from the environment
    session.cookies.set_policy(_RefuseCookies())
    adapter = PolicyAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass(frozen=True)
class OutboundResponse:
    """A finished response whose body has been read in full (within the cap)."""

    status_code: int
    headers: CaseInsensitiveDict[str]
    content: bytes
    url: str  # after redirects
    redirects: tuple[str, ...] = ()  # the URLs that redirected, in order

    @property
    def media_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    @property
    def is_json(self) -> bool:
        return self.media_type == "application/json" or self.media_type.endswith("+json")

    @property
    def text(self) -> str:
        """The body decoded with the declared charset; UTF-8 (replacing bad bytes) when none is declared."""
        message = Message()
        message["Content-Type"] = self.headers.get("Content-Type", "")
        charset = message.get_content_charset() or "utf-8"
        try:
            return self.content.decode(charset, errors="replace")
        except LookupError:
            return self.content.decode("utf-8", errors="replace")

    def body(self) -> Any:
        """The body as JSON when the content type says JSON (and it parses), else as text."""
        if self.is_json:
            try:
                return jsonlimits.loads(self.text)  # a deep body must not overflow the worker
            except ValueError:
                pass
        return self.text


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    data: Mapping[str, Any] | str | bytes | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float | None = None,
    max_bytes: int | None = None,
    allow_redirects: bool = True,
    ca_bundle: str | None = None,
    sink: IO[bytes] | None = None,
) -> OutboundResponse:
    """Send one request under the network policy and return it fully read.

    `timeout` (seconds) bounds the whole call, redirects and body included; it defaults to
    MILLRACE_HTTP_TIMEOUT and is capped. `max_bytes` may lower MILLRACE_HTTP_MAX_RESPONSE_BYTES,
    never raise it. `ca_bundle` trusts a private CA; certificate checks cannot be turned off.
    With `sink`, the body is written there as it arrives (the response's `content` stays empty):
    it is not held in memory, so MILLRACE_MAX_FILE_BYTES caps it instead (a download to a file).
    Raises an OutboundError subclass on any refusal or failure.
    """
    seconds = _timeout_seconds(timeout)
    ceiling = settings.MILLRACE_HTTP_MAX_RESPONSE_BYTES if sink is None else settings.MILLRACE_MAX_FILE_BYTES
    limit = min(max_bytes or ceiling, ceiling)
    deadline = time.monotonic() + seconds
    _require_http(url)
    session = _session()
    try:
        prepared = session.prepare_request(
            requests.Request(method.upper(), url, headers=headers, params=params, json=json, data=data, auth=auth)
        )
    except (requests.RequestException, ValueError) as error:
        raise InvalidOutboundURL(f"Invalid request: {error}") from error
    redirects: list[str] = []
    while True:
        response = _send(session, prepared, deadline, seconds, ca_bundle)
        location = session.get_redirect_target(response) if allow_redirects else None
        if response.status_code not in REDIRECT_STATUSES or not location:
            return _read(response, prepared.url or url, tuple(redirects), limit, deadline, seconds, sink)
        response.close()  # a redirect's own body is never read
        if len(redirects) >= MAX_REDIRECTS:
            raise TooManyRedirects(f"More than {MAX_REDIRECTS} redirects, starting at {display_host(url)}.")
        redirects.append(prepared.url or url)
        prepared = _redirected(prepared, response.status_code, _joined(prepared.url or url, location))


def _timeout_seconds(timeout: float | None) -> float:
    default = float(settings.MILLRACE_HTTP_TIMEOUT)
    if timeout is None or timeout <= 0:
        return default
    return min(float(timeout), max(default, MAX_TIMEOUT_SECONDS))


def _joined(base: str, location: str) -> str:
    try:
        return urljoin(base, location)
    except ValueError as error:
        raise InvalidOutboundURL(f"Invalid redirect location: {error}") from error


def _require_http(url: str) -> None:
    scheme = split_url(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise OutboundPolicyError(f"Refused URL scheme '{scheme}': only http and https are allowed.")


def _send(
    session: requests.Session,
    prepared: requests.PreparedRequest,
    deadline: float,
    seconds: float,
    ca_bundle: str | None,
) -> requests.Response:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _timed_out(prepared.url or "", seconds)
    try:
        return session.send(
            prepared, stream=True, timeout=remaining, allow_redirects=False, verify=ca_bundle or True, proxies={}
        )
    except requests.RequestException as error:
        raise _translate(error, seconds, prepared.url or "") from error
    except ValueError as error:  # requests prepares the next hop of a redirect, parsing its Location
        host = display_host(prepared.url or "")
        raise InvalidOutboundURL(f"Invalid redirect location from {host}: {error}") from error


def _read(
    response: requests.Response,
    url: str,
    redirects: tuple[str, ...],
    limit: int,
    deadline: float,
    seconds: float,
    sink: IO[bytes] | None = None,
) -> OutboundResponse:
    too_large = ResponseTooLarge(f"The response from {display_host(url)} is larger than the {limit}-byte limit.")
    chunks: list[bytes] = []
    size = 0
    try:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit and response.request.method != "HEAD":
            raise too_large
        for chunk in response.iter_content(_CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                raise too_large
            if time.monotonic() > deadline:
                raise _timed_out(url, seconds)
            if sink is None:
                chunks.append(chunk)
            else:
                sink.write(chunk)
    except requests.RequestException as error:
        raise _translate(error, seconds, url) from error
    finally:
        response.close()
    return OutboundResponse(response.status_code, response.headers, b"".join(chunks), url, redirects)


def _redirected(prepared: requests.PreparedRequest, status: int, url: str) -> requests.PreparedRequest:
    """The next hop of a redirect, with the method, body and credentials browsers would keep."""
    _require_http(url)
    following = prepared.copy()
    try:
        following.prepare_url(url, None)
    except requests.RequestException as error:
        raise InvalidOutboundURL(f"Invalid redirect location: {error}") from error
    if (status == 303 and prepared.method != "HEAD") or (status in (301, 302) and prepared.method == "POST"):
        following.method = "GET"
    if status not in (307, 308):
        following.body = None
        for name in ("Content-Type", "Content-Length", "Transfer-Encoding"):
            following.headers.pop(name, None)
    following.headers.pop("Host", None)
    if _origin(prepared.url or "") != _origin(url):
        for name in ("Authorization", "Cookie", "Proxy-Authorization"):
            following.headers.pop(name, None)  # credentials are for the origin they were given to
    return following


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = split_url(url)
    return parts.scheme.lower(), parts.hostname, parts.port or (443 if parts.scheme.lower() == "https" else 80)


def _translate(error: requests.RequestException, seconds: float, url: str) -> OutboundError:
    """Map a requests error to ours, naming the host and the root cause but not the path or query."""
    host = display_host(url)
    reason = error.args[0] if error.args else None
    if isinstance(error, requests.Timeout) or isinstance(reason, ReadTimeoutError):
        return _timed_out(url, seconds)
    if isinstance(error, requests.exceptions.SSLError):
        return OutboundConnectionError(f"TLS error with {host}: {_root_cause(error)}")
    if isinstance(error, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return OutboundConnectionError(f"Connection to {host} failed: {_root_cause(error)}")
    if isinstance(error, requests.exceptions.InvalidURL | requests.exceptions.InvalidHeader):
        return InvalidOutboundURL(f"Invalid request: {error}")
    return OutboundError(f"Request to {host} failed: {_root_cause(error)}")


def _timed_out(url: str, seconds: float) -> OutboundTimeout:
    return OutboundTimeout(f"Request to {display_host(url)} timed out after {seconds:g} seconds.")


def display_host(url: str) -> str:
    """host[:port] of a URL for messages and logs: paths and queries can carry tokens, so errors leave
    them out. Never raises: a URL that does not parse is named as such."""
    try:
        return urlsplit(url).netloc.rpartition("@")[2]
    except ValueError:
        return "(a URL that does not parse)"


def _root_cause(error: BaseException) -> BaseException:
    """The innermost error (an OSError, an SSL error): urllib3's wrappers repeat the URL and say little."""
    seen: set[int] = set()
    while id(error) not in seen:
        seen.add(id(error))
        inner = getattr(error, "reason", None) or error.__cause__ or (error.args[0] if error.args else None)
        if not isinstance(inner, BaseException):
            break
        error = inner
    return error
