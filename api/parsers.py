"""The JSON parser of every dialect: DRF's, with the nesting bounded before anything recurses.

DRF's own parser catches only ValueError, so a body nested a thousand levels deep raised
RecursionError, a 500. This one is the `DEFAULT_PARSER_CLASSES` entry and the JSON parser of
views that list their parsers, so each dialect answers 400 in its own shape.
"""

from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json as drf_json

from core import jsonlimits


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding) if stream is not None else ""
            return jsonlimits.loads(text, parse_constant=drf_json.strict_constant if self.strict else float)
        except ValueError as exc:  # JSONTooDeep and UnicodeDecodeError included
            raise ParseError(f"JSON parse error - {exc}") from exc
