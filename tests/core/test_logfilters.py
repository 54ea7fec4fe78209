"""Tokens never reach the logs: uvicorn's request and WebSocket lines, Django's request logs
and anything propagating to the root handlers carry `***` instead."""

import io
import logging

import pytest
from uvicorn.logging import AccessFormatter, DefaultFormatter

from core.logfilters import REQUEST_LOGGERS, TokenRedactingFilter, install_token_redaction, redact

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2NvdW50X2lkIjoiMSJ9.c2lnbmF0dXJlLXBhcnQ"
API_TOKEN = "mr_Q2hhbmdlTWVQbGVhc2VJbUFUb2tlbg"


@pytest.fixture
def captured():
    """Capture what `logger` writes through `formatter`, as uvicorn's own handlers would."""
    attached: list[tuple[logging.Logger, logging.Handler, int]] = []

    def capture(name: str, formatter: logging.Formatter) -> io.StringIO:
        logger, out = logging.getLogger(name), io.StringIO()
        handler = logging.StreamHandler(out)
        handler.setFormatter(formatter)
        attached.append((logger, handler, logger.level))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        return out

    yield capture
    for logger, handler, level in attached:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_uvicorn_access_lines_lose_the_token_but_keep_their_shape(captured):
    out = captured("uvicorn.access", AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))

    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET", f"/ws/executions/1?since=4&token={JWT}", "1.1", 200
    )
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "PUT", "/v1/callbacks/cb-secret-123", "1.1", 200
    )

    text = out.getvalue()
    assert JWT not in text and "cb-secret-123" not in text
    assert '127.0.0.1:50000 - "GET /ws/executions/1?since=4&token=*** HTTP/1.1" 200' in text
    assert '"PUT /v1/callbacks/*** HTTP/1.1" 200' in text


def test_uvicorn_websocket_handshake_lines_lose_the_token(captured):
    out = captured("uvicorn.error", DefaultFormatter("%(levelprefix)s %(message)s", use_colors=False))

    logging.getLogger("uvicorn.error").info(
        '%s - "WebSocket %s" [accepted]', "127.0.0.1:50000", f"/ws/executions/1?token={API_TOKEN}"
    )

    text = out.getvalue()
    assert API_TOKEN not in text
    assert '"WebSocket /ws/executions/1?token=***" [accepted]' in text


def test_the_request_loggers_get_the_filter_at_startup_and_root_handlers_too():
    for name in REQUEST_LOGGERS:
        assert any(isinstance(f, TokenRedactingFilter) for f in logging.getLogger(name).filters), name
    root, out = logging.getLogger(), io.StringIO()
    handler = logging.StreamHandler(out)
    root.addHandler(handler)
    try:
        install_token_redaction()
        install_token_redaction()  # once each
        assert sum(isinstance(f, TokenRedactingFilter) for f in handler.filters) == 1
        logging.getLogger("millrace.anything").warning("Calling /x?token=%s", JWT)
    finally:
        root.removeHandler(handler)
    assert out.getvalue() == "Calling /x?token=***\n"


def test_a_record_with_a_mapping_or_objects_as_arguments():
    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "%(path)s", (), None)
    record.args = {"path": f"/api/v1/flows?access_token={JWT}", "status": 401}
    TokenRedactingFilter().filter(record)
    assert record.getMessage() == "/api/v1/flows?access_token=***"

    class Request:
        def __str__(self) -> str:
            return f"<Request GET /x?token={JWT}>"

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "Bad request %s (%d)", (Request(), 3), None)
    TokenRedactingFilter().filter(record)
    assert record.getMessage() == "Bad request <Request GET /x?token=***> (3)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {JWT}", "Authorization: Bearer ***"),
        (f"{{'authorization': 'Bearer {API_TOKEN}'}}", "{'authorization': 'Bearer ***'}"),
        ("authorization=Zm9vOmJhcmJheg==", "authorization=***"),
        (f"Sec-WebSocket-Protocol: bearer, {JWT}", "Sec-WebSocket-Protocol: bearer, ***"),
        ("/api/v1/agents/a1/webhook/hook-secret?x=1", "/api/v1/agents/a1/webhook/***?x=1"),
        ("/api/v1/flows?limit=5&tokens=3", "/api/v1/flows?limit=5&tokens=3"),
        ("Invalid token provided", "Invalid token provided"),
        ("Calling /x?token=%s, /v1/callbacks/%s", "Calling /x?token=%s, /v1/callbacks/%s"),  # placeholders stay
        ("Authorization: %(auth)s", "Authorization: %(auth)s"),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected
