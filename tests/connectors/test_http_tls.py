"""https through the pinned connection: the IP is pinned, yet SNI and the certificate check use the name."""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pytest_httpserver import HTTPServer

from connectors import http

pytestmark = pytest.mark.usefixtures("allow_loopback")


def _certificate(tmp: Path) -> tuple[Path, Path]:
    """A self-signed CA certificate valid for the name `localhost` only (no IP address)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HTTPServer, str]]:
    cert_path, key_path = _certificate(tmp_path_factory.mktemp("tls"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    yield server, str(cert_path)
    server.clear()
    server.stop()


def test_https_by_name_verifies_the_certificate_for_that_name(tls_server: tuple[HTTPServer, str]) -> None:
    server, ca_bundle = tls_server
    server.clear()
    server.expect_request("/secure").respond_with_json({"tls": True})
    response = http.request("GET", f"https://localhost:{server.port}/secure", ca_bundle=ca_bundle)
    assert response.body() == {"tls": True}
    assert server.log[0][0].headers["Host"] == f"localhost:{server.port}"


def test_the_certificate_is_checked_against_the_url_host_not_the_pinned_ip(tls_server: tuple[HTTPServer, str]) -> None:
    server, ca_bundle = tls_server
    with pytest.raises(http.OutboundConnectionError, match=r"TLS error.*(IP address mismatch|doesn.t match)"):
        http.request("GET", f"https://127.0.0.1:{server.port}/secure", ca_bundle=ca_bundle)


def test_an_untrusted_certificate_is_refused(tls_server: tuple[HTTPServer, str]) -> None:
    server, _ca_bundle = tls_server
    with pytest.raises(http.OutboundConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        http.request("GET", f"https://localhost:{server.port}/secure")
