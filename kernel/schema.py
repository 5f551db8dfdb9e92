"""What a config model allows, in words: one source for error messages, ``--help`` and docs.

:func:`allowed` turns a pydantic field (its type, ``ge``/``le``/``gt``/``lt``, lengths,
pattern, ``Literal`` choices, or an explicit :class:`Allowed` marker) into a short phrase
such as "a whole number from 1 to 65535" or "one of: auto, 5, 3.1.1". :func:`field_at`
finds the field an error location points at (through nested tables, lists and the
``driver``-tagged union of gateway devices), :func:`keys_of` the keys a table accepts.
Pure: no I/O, nothing read from the environment.
"""

from __future__ import annotations

import datetime as dt
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel, SecretStr, Tag
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined


class Allowed:
    """``Annotated[str, Allowed("mqtt://host[:port] or mqtts://host[:port]")]``: the phrase
    to show for a type whose rule a validator function enforces."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Allowed({self.text!r})"


def unwrap(annotation: Any) -> tuple[Any, list[Any]]:
    """Strip ``Annotated`` and ``None`` from a union: (the type, the metadata found)."""
    metadata: list[Any] = []
    while True:
        if get_origin(annotation) is Annotated:
            annotation, *extra = get_args(annotation)
            metadata.extend(extra)
            continue
        if _is_union(annotation):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation, _flatten(metadata)


def _flatten(metadata: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in metadata:
        if isinstance(item, FieldInfo):
            out.extend(item.metadata)
        elif isinstance(item, at.Interval):
            out.extend(item)  # Interval(ge=1, le=5) -> Ge(1), Le(5)
        else:
            out.append(item)
    return out


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _bounds(metadata: list[Any]) -> str:
    low = high = ""
    for m in metadata:
        if isinstance(m, at.Ge):
            low = f"at least {_number(m.ge)}"
        elif isinstance(m, at.Gt):
            low = f"more than {_number(m.gt)}"
        elif isinstance(m, at.Le):
            high = f"at most {_number(m.le)}"
        elif isinstance(m, at.Lt):
            high = f"less than {_number(m.lt)}"
    if low.startswith("at least") and high.startswith("at most"):
        return f"from {low.removeprefix('at least ')} to {high.removeprefix('at most ')}"
    return ", ".join(part for part in (low, high) if part)


def _lengths(metadata: list[Any], unit: str) -> str:
    low = next((m.min_length for m in metadata if isinstance(m, at.MinLen)), None)
    high = next((m.max_length for m in metadata if isinstance(m, at.MaxLen)), None)
    if low and high:
        return f"{low} to {high} {unit}"
    if low:
        return f"at least {low} {unit}"
    if high:
        return f"at most {high} {unit}"
    return ""


def describe(annotation: Any, extra: list[Any] | None = None) -> str:
    """What values of *annotation* (with constraint metadata *extra*) are allowed."""
    kind, metadata = unwrap(annotation)
    metadata = _flatten(list(extra or [])) + metadata
    for m in metadata:
        if isinstance(m, Allowed):
            return m.text
    origin = get_origin(kind)
    if origin is Literal:
        return "one of: " + ", ".join(str(v) for v in get_args(kind))
    if kind is bool:
        return "true or false"
    if kind is int or kind is float:
        word = "a whole number" if kind is int else "a number"
        bounds = _bounds(metadata)
        if bounds.startswith("at "):
            return f"{word}, {bounds}"
        return f"{word} {bounds}" if bounds else word
    if kind is str:
        pattern = next((m.pattern for m in _pydantic_metadata(metadata) if m.pattern), None)
        if pattern:
            return f"text matching {pattern}"
        lengths = _lengths(metadata, "characters")
        if lengths == "at least 1 characters":
            return "text, not empty"
        return f"text of {lengths}" if lengths else "text"
    if kind is SecretStr:
        return "a secret"
    if kind is Path:
        return "a file path"
    if kind is dt.date:
        return "a date, YYYY-MM-DD"
    if origin is list:
        (item,) = get_args(kind) or (Any,)
        lengths = _lengths(metadata, "")
        return f"a list of {_plural(item)}" + (f" ({lengths.strip()})" if lengths else "")
    if origin is tuple:
        args = get_args(kind)
        if len(args) == 2 and args[0] == args[1]:
            return f"a pair [first, second] of {_plural(args[0])}"
        return "a list of " + ", ".join(describe(a) for a in args)
    if origin is dict:
        key, value = get_args(kind) or (str, Any)
        if value is Any:
            return "a table"
        return f"a table of {describe(key)} = {describe(value)}"
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return "a table"
    if _is_union(kind):
        members = [unwrap(a)[0] for a in get_args(kind)]
        if all(isinstance(m, type) and issubclass(m, BaseModel) for m in members):
            return "a table"
        return " or ".join(describe(a) for a in get_args(kind))
    return getattr(kind, "__name__", str(kind))


def _plural(annotation: Any) -> str:
    text = describe(annotation)
    if text == "a table":
        return "tables"
    for word, plural in (
        ("a whole number", "whole numbers"),
        ("a number", "numbers"),
        ("text", "text values"),
    ):
        if text.startswith(word):
            return plural + text[len(word) :]
    return f"items, each {text}"


def _pydantic_metadata(metadata: list[Any]) -> list[Any]:
    """The metadata objects that carry ``pattern`` (pydantic's general metadata)."""
    return [m for m in metadata if hasattr(m, "pattern")]


def allowed(field: FieldInfo) -> str:
    """What values *field* accepts, in words."""
    return describe(field.annotation, field.metadata)


def default_text(field: FieldInfo) -> str | None:
    """The default as written in a config (None when the field is required); a field may
    say how to show it (``json_schema_extra={"default_shown": '["13:00", "17:00"]'}``)."""
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("default_shown"), str):
        return extra["default_shown"]
    if field.default is PydanticUndefined and field.default_factory is None:
        return None
    if field.default_factory is not None:
        try:
            value = field.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return "(computed)"
    else:
        value = field.default
    return show(value)


def show(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number(value)
    if value == "":
        return '""'
    if isinstance(value, BaseModel):
        return "(table)"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{k} = {show(v)}" for k, v in value.items()) + " }"
    return str(value)


def _tag_of(annotation: Any) -> str | None:
    if get_origin(annotation) is Annotated:
        for m in get_args(annotation)[1:]:
            if isinstance(m, Tag):
                return m.tag
    return None


def field_at(
    model: type[BaseModel], loc: tuple[Any, ...]
) -> tuple[FieldInfo | None, type[BaseModel] | None]:
    """The field a pydantic error location points at, and the model (table) holding it.

    *loc* is pydantic's raw location, with union tags such as ``driver[modbus]`` still in it.
    Best effort: (None, table) when the location leaves the known structure.
    """
    annotation: Any = model
    field: FieldInfo | None = None
    table: type[BaseModel] | None = model
    for item in loc:
        kind, _ = unwrap(annotation)
        origin = get_origin(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            table = kind
            field = kind.model_fields.get(str(item))
            if field is None:
                return None, table
            annotation = field.annotation
        elif _is_union(kind):
            member = next((a for a in get_args(kind) if _tag_of(a) == item), None)
            if member is None:
                return field, table
            annotation = member
        elif origin in (list, tuple) and isinstance(item, int):
            args = get_args(kind)
            annotation = args[min(item, len(args) - 1)] if args else Any
            field = FieldInfo.from_annotation(annotation)
        elif origin is dict:
            args = get_args(kind)
            annotation = args[1] if args else Any
            field = FieldInfo.from_annotation(annotation)
        else:
            return field, table
    return field, table


def keys_of(table: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in table.model_fields.items()]
