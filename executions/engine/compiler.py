"""Compiled definitions, cached per process by the hash of their source.

An execution freezes its source at start, so a compiled flow never goes stale.
"""

import hashlib
from functools import lru_cache

from flows.definitions import compile_definition
from flows.definitions.ir import CompiledFlow


@lru_cache(maxsize=512)
def _compile(digest: str, source: str) -> CompiledFlow:
    return compile_definition(source)


def compiled(source: str) -> CompiledFlow:
    """The compiled flow for `source`; raises the definitions' error when it does not compile."""
    return _compile(hashlib.sha256(source.encode()).hexdigest(), source)
