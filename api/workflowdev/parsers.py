"""Request parsers beyond JSON: raw YAML for flow validation, any body for webhooks."""

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser


class YamlTextParser(BaseParser):
    """`application/x-yaml` (and the other YAML media types) as text; the caller parses it safely."""

    media_type = "application/x-yaml"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> str:
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            return stream.read().decode(encoding) if stream is not None else ""
        except UnicodeDecodeError as exc:
            raise ParseError(f"The YAML body is not {encoding} text.") from exc


class TextYamlParser(YamlTextParser):
    media_type = "text/yaml"


class ApplicationYamlParser(YamlTextParser):
    media_type = "application/yaml"


class RawBodyParser(BaseParser):
    """Any other content type (a webhook caller's form, text or XML) as text."""

    media_type = "*/*"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> str:
        return stream.read().decode("utf-8", errors="replace") if stream is not None else ""


YAML_PARSERS = [YamlTextParser, TextYamlParser, ApplicationYamlParser]
