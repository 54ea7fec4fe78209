"""Masking of secret values in task inputs, outputs, logs, events and error messages.

Secret values must never reach a response, a log line, an event or a stored task input
(DIALECTS.md: security). The engine records every secret a render used and builds a
`Masker` from them before anything is written.
"""

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "******"

#: Values shorter than this are not masked: masking every "a" or "1" would garble
#: every output while protecting nothing, since such a value is guessable anyway.
MIN_SECRET_LENGTH = 3


class Masker:
    """Replaces every occurrence of the given secret values with `MASK`.

    All values are compiled into one regular expression (longest first, so a secret
    that contains another is masked whole), which keeps masking large outputs linear.
    The forms a value takes in the text that reaches storage are masked too: JSON-escaped
    (logs and events carry JSON text), Python-repr-escaped (exception messages quote
    values with `repr`) and URL-encoded (an upstream may echo the URL it was called with).
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        variants: set[str] = set()
        for value in secrets:
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                variants |= {value, json.dumps(value, ensure_ascii=False)[1:-1], json.dumps(value)[1:-1]}
                variants |= {repr(value)[1:-1], ascii(value)[1:-1], quote(value, safe=""), quote_plus(value)}
        ordered = sorted(variants, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def mask_text(self, text: str) -> str:
        """Return `text` with every secret value replaced by `MASK`."""
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def mask(self, value: Any) -> Any:
        """Return a copy of a JSON-like structure with secret values masked in its strings.

        Strings inside lists, tuples, dict values and dict keys (at any depth) are masked:
        a key can be data too (`{{ {secret('X'): 1} }}`, an upstream answer keyed by a
        token). Numbers, booleans and None are returned untouched.
        """
        if isinstance(value, str):
            return self.mask_text(value)
        if isinstance(value, dict):
            return {self.mask(key): self.mask(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.mask(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.mask(item) for item in value)
        return value
