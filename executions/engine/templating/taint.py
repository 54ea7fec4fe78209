"""Secrets in templates are write-only: a template may use a secret whole, never take it apart.

`secret('X')` and `${X}` give a `SecretStr`. A template may print it, concatenate it
(`~`, `+`, `join`), pass it whole through a few filters that keep it one value
(`WHOLE_FILTERS`: `b64encode`, `upper`, `tojson`, ...) and put it into lists and dict values.
Everything that would hand out its pieces or bits is refused with a `SecurityError` that
never quotes the value: iterating, indexing, slicing, str methods other than `WHOLE_METHODS`,
other filters and tests, comparisons (`==`, `<`, `in`), `%`-formatting, dict keys. Values
derived from a secret are `SecretStr` again (so they cannot be taken apart either) and are
recorded for masking by the renderer.

The masking of outputs catches a secret and its derived values only when they reach a
reader whole; this module makes sure nothing else can be built from a secret.
"""

from collections.abc import Callable, Iterator, MappingView
from typing import Any, NoReturn

from jinja2 import Undefined
from jinja2.sandbox import SecurityError

from vault.masking import MIN_SECRET_LENGTH

#: Filters that keep a secret one value; any other filter given a secret is refused.
WHOLE_FILTERS = frozenset({"b64encode", "d", "default", "lower", "sha256", "string", "tojson", "trim", "upper"})
WHOLE_FILTERS |= {"urlencode"}
#: Filters that may take a list or dict holding a secret: they move the secret as a whole
#: (or stringify it whole); those that compare, sort or count items are refused.
CONTAINER_FILTERS = frozenset(
    {"batch", "d", "default", "first", "items", "join", "last", "length", "count", "list", "map", "random"}
)
CONTAINER_FILTERS |= {"reject", "rejectattr", "reverse", "select", "selectattr", "slice", "string", "tojson"}
CONTAINER_FILTERS |= {"urlencode"}
#: Of those, the ones that build new text from the secret (the others move items as they are).
TEXT_FILTERS = frozenset({"join", "string", "tojson", "urlencode"})
#: Filters that may take a secret as an argument: they give back one of their arguments whole.
CHOOSING_FILTERS = frozenset({"d", "default"})
#: Tests that reveal nothing of a secret's content.
WHOLE_TESTS = frozenset({"defined", "undefined", "none", "string"})
#: Argument-free str methods that keep a secret one value.
WHOLE_METHODS = frozenset({"lower", "strip", "upper"})

WHOLE_ONLY = (
    "a secret can be used whole only: printed, joined with ~, or passed whole through "
    "b64encode, sha256, urlencode, tojson, upper, lower or trim"
)


class SecretStr(str):
    """A secret value, or a value derived from one, inside a template render.

    The sandbox refuses the operations that take it apart before they run; these
    overrides refuse the ones Python performs implicitly (unpacking, `in`, sorting,
    comparing, hashing) so no path around the sandbox's checks is left.
    """

    __slots__ = ()

    def __iter__(self) -> NoReturn:
        refuse("cannot be iterated")

    def __getitem__(self, key: Any) -> NoReturn:
        refuse("cannot be indexed or sliced")

    def __contains__(self, item: Any) -> NoReturn:
        refuse("cannot be searched")

    def __hash__(self) -> NoReturn:  # type: ignore[override]
        refuse("cannot be a dict key or a set member")

    def __eq__(self, other: object) -> NoReturn:  # type: ignore[override]
        refuse("cannot be compared")

    __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __eq__  # type: ignore[assignment]

    def __mod__(self, other: Any) -> NoReturn:
        refuse("cannot be a %-format")

    def __rmod__(self, other: Any) -> NoReturn:
        refuse("cannot be %-formatted")

    def __reduce__(self) -> tuple[Callable[..., str], tuple[str]]:
        return str, (str(self),)  # a copy outside the sandbox is a plain value


def refuse(why: str) -> NoReturn:
    raise SecurityError(f"a secret {why} ({WHOLE_ONLY})")


def is_secret(value: Any) -> bool:
    return isinstance(value, SecretStr)


_PLAIN = (str, bytes, int, float, type(None), range, Undefined)


def holds_secret(value: Any, budget: int = 100_000) -> bool:
    """Whether a value is or contains (in items, dict keys or values) a secret.

    Cautious where it cannot look: a value too large to look through, or a lazy iterator
    (looking would consume it), counts as holding one."""
    stack = [value]
    while stack:
        item = stack.pop()
        budget -= 1
        if isinstance(item, SecretStr) or budget < 0:
            return True
        if isinstance(item, _PLAIN):
            continue
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset | MappingView):
            stack.extend(item)
        elif isinstance(item, Iterator):
            return True
    return False


def check_filter(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Refuse a filter that would take a secret apart; True when it builds new text from one."""
    if name not in CHOOSING_FILTERS and any(holds_secret(arg) for arg in (*args, *kwargs.values())):
        refuse(f"cannot be an argument of the '{name}' filter")
    if is_secret(value):
        if name not in WHOLE_FILTERS:
            refuse(f"cannot go through the '{name}' filter")
        if name == "trim" and (args or kwargs):
            refuse("cannot be trimmed of chosen characters")
        return name not in CHOOSING_FILTERS
    if holds_secret(value):
        if name not in CONTAINER_FILTERS:
            refuse(f"in a list or dict cannot go through the '{name}' filter")
        return name in TEXT_FILTERS
    return False


def check_test(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    if any(holds_secret(item) for item in (*args, *kwargs.values())) or (
        holds_secret(value) and name not in WHOLE_TESTS
    ):
        refuse(f"cannot be tested with '{name}'")


def check_call(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Refuse a call that would take a secret apart; True when its result derives from one.

    A secret's own methods are limited to `WHOLE_METHODS` without arguments; a secret may
    be an argument only of `str.join` (which keeps it whole)."""
    owner = getattr(obj, "__self__", None)
    name = getattr(obj, "__name__", "")
    tainted_args = any(holds_secret(arg) for arg in (*args, *kwargs.values()))
    if is_secret(owner):
        if name not in WHOLE_METHODS or args or kwargs:
            refuse(f"has no method '{name}' in task inputs")
        return True
    if tainted_args:
        if not (isinstance(owner, str) and name == "join"):
            refuse("cannot be passed to a function or method")
        return True
    return False


def taint(value: Any) -> Any:
    """A string derived from a secret as a SecretStr; a derived string too short to be masked
    (1 or 2 characters cut from a secret) is refused."""
    if isinstance(value, str) and not isinstance(value, SecretStr):
        if 0 < len(value) < MIN_SECRET_LENGTH:
            refuse("cannot be cut to fewer than 3 characters")
        return SecretStr(value)
    return value
