"""The Jinja2 sandbox task inputs render in: limits, refused constructs, guarded filters.

A template is untrusted code (any flow editor writes one) running inside a worker. It runs
in Jinja2's `ImmutableSandboxedEnvironment` (no private attributes, no mutation of lists or
dicts, `str.format` refused) with only `range`, `secret()` and `kv()` as globals, and within
limits: computed values and output text are capped at `MAX_VALUE_SIZE` (checked before
`*`, `**`, `+`, `~`, `%`, join/replace/padding build them), loops at `MAX_LOOP_ITERATIONS`,
time at `MAX_RENDER_SECONDS` (checked per loop iteration). Constructs that can multiply
work unseen (macros, call/filter/set/block blocks, recursive loops, include) are refused.
"""

import base64
import datetime
import decimal
import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from functools import lru_cache, partial, wraps
from typing import TYPE_CHECKING, Any, NoReturn

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, Undefined, nodes, pass_eval_context
from jinja2.environment import TemplateExpression
from jinja2.filters import do_join, do_replace
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError, safe_range
from jinja2.visitor import NodeTransformer

from executions.engine.templating import taint as secrets

if TYPE_CHECKING:
    from executions.engine.templating import TemplateRenderer

MAX_VALUE_SIZE = 1024 * 1024  # characters (plus items of lists and dicts) of a rendered or computed value
MAX_INT_BITS = 4096
MAX_LOOP_ITERATIONS = 100_000  # per rendered string
MAX_RENDER_SECONDS = 5.0  # per rendered string

_SECRET_REF = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_.\-]*)\}")
_WIDE_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0 +\-]*(?:\*|\d{7,}|\d*\.(?:\*|\d{7,}))")
_SIZED_ARGUMENT_FILTERS = frozenset({"center", "batch", "slice"})
# Tags that render a body more than once or load other templates.
_FORBIDDEN = (nodes.Macro, nodes.CallBlock, nodes.AssignBlock, nodes.FilterBlock, nodes.Block)
_FORBIDDEN += (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
_MISSING: Any = object()


_ACTIVE: ContextVar["TemplateRenderer | None"] = ContextVar("millrace_template_renderer", default=None)


def _active() -> "TemplateRenderer":
    renderer = _ACTIVE.get()
    if renderer is None:
        raise RuntimeError("templates render only through TemplateRenderer")
    return renderer


def _secret_read() -> bool:
    """Whether this render has read a secret: before it has, no value can hold one."""
    renderer = _ACTIVE.get()
    return renderer is not None and renderer._read_secret


def _derive(result: Any) -> Any:
    """A value computed from a secret is a secret too: tainted, and recorded for masking."""
    result = secrets.taint(result)
    renderer = _ACTIVE.get()
    if renderer is not None:
        renderer._taint(result)
    return result


def _refuse(message: str) -> NoReturn:
    raise SecurityError(message)


def _size(value: Any) -> int:
    """Characters, digits and items of a value, counted until the count passes MAX_VALUE_SIZE."""
    total, stack = 0, [value]
    while stack and total <= MAX_VALUE_SIZE:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, int):
            total += item.bit_length() // 3
        elif isinstance(item, list | tuple | dict):
            total += len(item)
            if total <= MAX_VALUE_SIZE:
                stack.extend(item.items() if isinstance(item, dict) else item)
    return total


def _bounded(value: Any) -> Any:
    if _size(value) > MAX_VALUE_SIZE:
        _refuse(f"a computed value is larger than {MAX_VALUE_SIZE} characters or items")
    return value


def _check_printf(text: str) -> None:
    if _WIDE_PRINTF.search(text):
        _refuse("a %-format with a '*' or a width or precision of a million or more is not allowed")


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse `*`, `**` and `+` whose result would be huge, before Python builds it."""
    ints = isinstance(left, int) and isinstance(right, int)
    if operator == "**" and ints and right > 0 and abs(left) > 1 and right * left.bit_length() > MAX_INT_BITS:
        _refuse(f"the power is larger than {MAX_INT_BITS} bits")
    elif operator == "*" and ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
        _refuse(f"the product is larger than {MAX_INT_BITS} bits")
    elif operator == "*":
        for sequence, times in ((left, right), (right, left)):
            if isinstance(times, int) and times > 0 and _size(sequence) * times > MAX_VALUE_SIZE:
                _refuse(f"a repeated value would be larger than {MAX_VALUE_SIZE} characters or items")
    elif operator == "+" and _size(left) + _size(right) > MAX_VALUE_SIZE:
        _refuse(f"a sum would be larger than {MAX_VALUE_SIZE} characters or items")
    elif operator == "%" and isinstance(left, str):
        _check_printf(left)


def _replaced_size(text: str, old: str, new: str, count: int = -1) -> int:
    occurrences = text.count(old) if old else len(text) + 1
    if count >= 0:
        occurrences = min(occurrences, count)
    return len(text) + occurrences * (len(new) - len(old))


def _check_str_method(text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse str method calls that would build a huge string; return the (materialized) arguments."""
    if name in ("format", "format_map"):
        _refuse_str_format()
    if any(isinstance(arg, int) and arg > MAX_VALUE_SIZE for arg in (*args, *kwargs.values())):
        _refuse(f"a size argument of {MAX_VALUE_SIZE} or more is not allowed")
    estimate = 0
    if name == "join" and args:
        items = list(args[0])
        args = (items, *args[1:])
        estimate = _size(items) + len(text) * len(items)
    elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        estimate = _replaced_size(text, *args[:3])
    elif name == "expandtabs":
        estimate = len(text) * (args[0] if args else kwargs.get("tabsize", 8))
    if estimate > MAX_VALUE_SIZE:
        _refuse(f"the result would be larger than {MAX_VALUE_SIZE} characters")
    return args


def _refuse_str_format(*args: Any, **kwargs: Any) -> NoReturn:
    _refuse("str.format is not available in task inputs; use ~ or the format filter")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox plus size, loop and time limits on operators, calls and loops."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        derived = _secret_read() and (secrets.holds_secret(left) or secrets.holds_secret(right))
        if derived and operator not in ("+", "*"):
            secrets.refuse(f"cannot be an operand of '{operator}'")
        _check_binop(operator, left, right)
        result = _bounded(super().call_binop(context, operator, left, right))
        return _derive(result) if derived and isinstance(result, str) else result

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(obj, "__self__", None)
        # The sandbox's own methods that _Hardener calls check secrets themselves.
        derived = owner is not self and _secret_read() and secrets.check_call(obj, args, kwargs)
        if isinstance(owner, str):
            args = _check_str_method(owner, obj.__name__, args, kwargs)
        result = _bounded(super().call(context, obj, *args, **kwargs))
        return _derive(result) if derived else result

    def getattr(self, obj: Any, attribute: str) -> Any:
        if secrets.is_secret(obj) and attribute not in secrets.WHOLE_METHODS:
            secrets.refuse(f"has no attribute '{attribute}' in task inputs")
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if secrets.is_secret(obj):
            secrets.refuse("cannot be indexed or sliced")
        if secrets.is_secret(argument):
            secrets.refuse("cannot be a key or an index")
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        return None if super().wrap_str_format(value) is None else _refuse_str_format

    # Called by the code that _Hardener rewrites into each template.
    def bounded_iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        renderer = _active()
        if secrets.is_secret(iterable):
            secrets.refuse("cannot be looped over")
        for item in iterable:
            renderer._count_iteration()
            yield item

    def bounded_concat(self, parts: list[Any]) -> str:
        texts = [str(part) for part in parts]
        if sum(map(len, texts)) > MAX_VALUE_SIZE:
            _refuse(f"a concatenation would be larger than {MAX_VALUE_SIZE} characters")
        joined = "".join(texts)
        return _derive(joined) if _secret_read() and any(map(secrets.holds_secret, parts)) else joined

    def compared(self, value: Any) -> Any:
        """An operand of `==`, `<`, `in`, ...: a secret compared would leak its content bit by bit."""
        if _secret_read() and secrets.holds_secret(value):
            secrets.refuse("cannot be compared or searched")
        return value

    def dollar_secret(self, name: str) -> str:
        return _active()._lookup("secret", name)


def _call(method: str, argument: nodes.Expr, lineno: int) -> nodes.Call:
    return nodes.Call(nodes.EnvironmentAttribute(method, lineno=lineno), [argument], [], None, None, lineno=lineno)


class _Hardener(NodeTransformer):
    """Rewrites a parsed template: `${NAME}` lookups in its text, bounded loops and concatenation."""

    def visit(self, node: nodes.Node, *args: Any, **kwargs: Any) -> Any:
        if isinstance(node, _FORBIDDEN):
            message = "macros, call/filter/block/set…endset blocks, extends, include and import are not allowed"
            raise TemplateSyntaxError(f"{message} in task inputs ({type(node).__name__})", node.lineno)
        return super().visit(node, *args, **kwargs)

    def visit_TemplateData(self, node: nodes.TemplateData) -> list[nodes.Expr]:
        pieces, line = _SECRET_REF.split(node.data), node.lineno  # text, ($ | ''), NAME, text, ...
        parts: list[nodes.Expr] = []
        text = pieces[0]
        for escaped, name, after in zip(pieces[1::3], pieces[2::3], pieces[3::3], strict=True):
            if escaped:
                text += "${" + name + "}"
            else:
                parts += [nodes.TemplateData(text, lineno=line), _call("dollar_secret", nodes.Const(name), line)]
                text = ""
            text += after
        return [*parts, nodes.TemplateData(text, lineno=line)]

    def visit_Const(self, node: nodes.Const) -> nodes.Const:
        if isinstance(node.value, str):
            for match in _SECRET_REF.finditer(node.value):
                if not match.group(1):
                    hint = f"write secret('{match.group(2)}') inside {{{{ }}}} and {{% %}}"
                    raise TemplateSyntaxError(f"{match.group(0)} is replaced only in text; {hint}", node.lineno)
            node.value = _SECRET_REF.sub(lambda match: match.group(0)[1:], node.value)
        return node

    def visit_For(self, node: nodes.For) -> nodes.For:
        if node.recursive:
            raise TemplateSyntaxError("recursive loops are not allowed in task inputs", node.lineno)
        self.generic_visit(node)
        node.iter = _call("bounded_iter", node.iter, node.lineno)
        return node

    def visit_Compare(self, node: nodes.Compare) -> nodes.Compare:
        self.generic_visit(node)
        node.expr = _call("compared", node.expr, node.lineno)
        for operand in node.ops:
            operand.expr = _call("compared", operand.expr, node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Call:
        self.generic_visit(node)
        return _call("bounded_concat", nodes.List(node.nodes, lineno=node.lineno), node.lineno)


_PRINTABLE = (datetime.date, decimal.Decimal, uuid.UUID)


def _finalize(value: Any) -> Any:
    """Print None, booleans, lists and dicts as JSON in text, as flow authors expect."""
    if value is None or isinstance(value, bool | list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    if not isinstance(value, (str, int, float, Undefined, *_PRINTABLE)):
        # a function, loop or generator would print its repr, memory address included
        _refuse(f"a {type(value).__name__} cannot be printed; print data")
    return value


@pass_eval_context
def _join_filter(eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: str | int | None = None) -> str:
    items = list(value)
    if _size(items) + len(str(d)) * len(items) > MAX_VALUE_SIZE:
        _refuse(f"the joined text would be larger than {MAX_VALUE_SIZE} characters")
    return do_join(eval_ctx, items, d, attribute)


@pass_eval_context
def _replace_filter(eval_ctx: EvalContext, value: str, old: str, new: str, count: int | None = None) -> str:
    if _replaced_size(str(value), str(old), str(new), -1 if count is None else count) > MAX_VALUE_SIZE:
        _refuse(f"the replaced text would be larger than {MAX_VALUE_SIZE} characters")
    return do_replace(eval_ctx, value, old, new, count)


def _format_filter(value: Any, *args: Any, **kwargs: Any) -> str:
    text = str(value)
    _check_printf(text)
    return text % (kwargs or args)


def _guarded(name: str, filter_function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a filter with the size-argument limits and the result size limit."""
    skip = 2 if getattr(filter_function, "jinja_pass_arg", None) else 1  # pass_* argument, then the value

    @wraps(filter_function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if name in _SIZED_ARGUMENT_FILTERS and any(
            isinstance(arg, int) and arg > MAX_VALUE_SIZE for arg in (*args[skip:], *kwargs.values())
        ):
            _refuse(f"a size argument of {MAX_VALUE_SIZE} or more is not allowed")
        derived = False
        if _secret_read() and len(args) >= skip:
            derived = secrets.check_filter(name, args[skip - 1], args[skip:], kwargs)
        result = filter_function(*args, **kwargs)
        if _secret_read() and isinstance(result, Iterator):
            result = list(result)  # lazy results (map, select, reverse...) can be looked through
        result = _bounded(result)
        return _derive(result) if derived else result

    return guarded


def _guarded_test(name: str, test_function: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a test: a test of a secret's content (`in`, `lower`, `eq`) would leak it bit by bit."""
    skip = 2 if getattr(test_function, "jinja_pass_arg", None) else 1

    @wraps(test_function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if _secret_read() and len(args) >= skip:
            secrets.check_test(name, args[skip - 1], args[skip:], kwargs)
        return test_function(*args, **kwargs)

    return guarded


def _build_environment() -> _Sandbox:
    env = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True, finalize=_finalize)
    env.globals.clear()  # no lipsum, cycler, joiner, namespace or dict
    env.globals.update(
        range=safe_range,
        secret=lambda name: _active()._lookup("secret", name),
        kv=lambda key, default=_MISSING: _active()._lookup("kv", key, default),
    )
    for unbounded in ("indent", "wordwrap"):  # their string arguments multiply the output
        del env.filters[unbounded]
    env.filters.update(
        format=_format_filter,
        join=_join_filter,
        replace=_replace_filter,
        tojson=lambda value, indent=None: json.dumps(value, ensure_ascii=False, indent=indent),
        fromjson=lambda text: json.loads(text),
        b64encode=lambda value: base64.b64encode(str(value).encode("utf-8")).decode("ascii"),
        b64decode=lambda value: base64.b64decode(str(value)).decode("utf-8"),
        sha256=lambda value: hashlib.sha256(str(value).encode("utf-8")).hexdigest(),
    )
    env.filters = {name: _guarded(name, function) for name, function in env.filters.items()}
    env.tests = {name: _guarded_test(name, function) for name, function in env.tests.items()}
    return env


_ENV = _build_environment()


def _single_expression(ast: nodes.Template) -> nodes.Expr | None:
    """The expression of a template that is exactly one `{{ expr }}` plus whitespace."""
    if len(ast.body) != 1 or not isinstance(ast.body[0], nodes.Output):
        return None
    parts = [n for n in ast.body[0].nodes if not (isinstance(n, nodes.TemplateData) and not n.data.strip())]
    if len(parts) == 1 and not isinstance(parts[0], nodes.TemplateData):
        return parts[0]
    return None


def _render_text(template: Template, variables: dict[str, Any]) -> str:
    chunks, total = [], 0
    for chunk in template.generate(variables):
        total += len(chunk)
        if total > MAX_VALUE_SIZE:
            _refuse(f"the rendered text is longer than {MAX_VALUE_SIZE} characters")
        chunks.append(chunk)
    return "".join(chunks)


@lru_cache(maxsize=2048)
def _compile(source: str) -> tuple[bool, Callable[[dict[str, Any]], Any]]:
    """Compile once per distinct string: `(native, run)`."""
    ast = _ENV.parse(source)
    expression = _single_expression(ast)
    if expression is not None:
        line = expression.lineno
        ast = nodes.Template(
            [nodes.Assign(nodes.Name("result", "store", lineno=line), expression, lineno=line)], lineno=1
        )
    ast = _Hardener().visit(ast)
    ast.set_environment(_ENV)
    template = _ENV.from_string(ast)
    if expression is not None:
        return True, TemplateExpression(template, undefined_to_none=False)
    return False, partial(_render_text, template)
