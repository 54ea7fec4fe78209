"""Compiled definitions, cached per process by their source.

An execution freezes its source at start, so a compiled flow never goes stale. The cache
is keyed by the source string itself: Python keeps a string's hash on the object, so a
step that asks again with the same execution's source pays no hashing.
"""

from functools import lru_cache

from flows.definitions import compile_definition
from flows.definitions.ir import CompiledFlow


@lru_cache(maxsize=512)
def compiled(source: str) -> CompiledFlow:
    """The compiled flow for `source`; raises the definitions' error when it does not compile."""
    return compile_definition(source)
