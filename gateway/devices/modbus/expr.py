"""Tiny, safe arithmetic for the derived fields of Modbus profiles (``[[derived]]``).

An expression such as ``reference - distance`` is parsed once with :mod:`ast` (parsing runs
no code) and turned into a tree of small closures. Only these are allowed:

- numbers (``250``, ``0.1``, ``1e3``) and names (the profile's fields, its params and
  earlier derived fields);
- ``+ - * /``, unary ``-`` and ``+``, parentheses;
- the functions ``min(a, b, ...)``, ``max(a, b, ...)`` and ``abs(x)``.

Anything else (attributes, subscripts, ``**``, comparisons, keywords, strings...) is refused
when the profile is loaded, with a message naming the construct. Nothing is ever passed to
``eval``. Evaluation raises :class:`ExpressionError` for a missing name, a division by zero or
a result that is not a finite number; it never raises anything else.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_LENGTH = 200

Env = Mapping[str, float]
Node = Callable[[Env], float]

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_FUNCTIONS: dict[str, tuple[Callable[..., float], int, int]] = {
    # name: (function, least arguments, most arguments)
    "min": (min, 2, 16),
    "max": (max, 2, 16),
    "abs": (abs, 1, 1),
}


class ExpressionError(ValueError):
    """An expression that cannot be parsed or evaluated; the message says why."""


@dataclass(frozen=True)
class Expression:
    """A parsed expression: :attr:`names` it reads, and ``expr(env) -> float``."""

    text: str
    names: frozenset[str]
    _node: Node

    def __call__(self, env: Env) -> float:
        try:
            value = self._node(env)
        except ZeroDivisionError:
            raise ExpressionError(f"{self.text}: division by zero") from None
        except OverflowError:
            raise ExpressionError(f"{self.text}: result too large") from None
        if not math.isfinite(value):
            raise ExpressionError(f"{self.text}: result {value} is not a finite number")
        return value


def parse_expression(text: str) -> Expression:
    """Parse *text*; raise :class:`ExpressionError` naming what is not allowed."""
    if not text.strip():
        raise ExpressionError("empty expression")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        detail = getattr(exc, "msg", None) or type(exc).__name__
        raise ExpressionError(f"not an arithmetic expression ({detail})") from None
    names: set[str] = set()
    try:
        node = _build(tree.body, names)
    except RecursionError:
        raise ExpressionError("nested too deeply") from None
    return Expression(text=text, names=frozenset(names), _node=node)


def _build(node: ast.AST, names: set[str]) -> Node:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ExpressionError(f"only numbers are allowed, not {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise ExpressionError(f"{value!r} is not a finite number")
        return lambda env: number
    if isinstance(node, ast.Name):
        name = node.id
        names.add(name)

        def lookup(env: Env) -> float:
            try:
                return env[name]
            except KeyError:
                raise ExpressionError(f"{name!r} has no value") from None

        return lookup
    if isinstance(node, ast.BinOp):
        op = _BINARY.get(type(node.op))
        if op is None:
            raise ExpressionError(f"operator {_show(node)!r} is not allowed (only + - * /)")
        left, right = _build(node.left, names), _build(node.right, names)
        return lambda env: op(left(env), right(env))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _build(node.operand, names)
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        return lambda env: sign * operand(env)
    if isinstance(node, ast.Call):
        return _call(node, names)
    raise ExpressionError(
        f"{_show(node)!r} is not allowed (numbers, names, + - * /, min, max, abs)"
    )


def _call(node: ast.Call, names: set[str]) -> Node:
    if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
        raise ExpressionError(f"unknown function in {_show(node)!r} (known: min, max, abs)")
    fn, least, most = _FUNCTIONS[node.func.id]
    if node.keywords or not least <= len(node.args) <= most:
        raise ExpressionError(
            f"{node.func.id}() takes {least}"
            + (f" to {most}" if most > least else "")
            + " positional argument(s)"
        )
    args = [_build(a, names) for a in node.args]
    return lambda env: float(fn(*(a(env) for a in args)))


def _show(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse of a parsed node does not fail
        return type(node).__name__
