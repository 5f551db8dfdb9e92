"""Markdown reference tables generated from config models: the docs cannot drift from the code.

:func:`options_table` documents a service's settings (:mod:`kernel.settings`): option,
environment variable, default, what is allowed, description. :func:`toml_tables` documents a
TOML file model: one table per TOML table (``[mqtt]``, ``[[sites]]``, ``[sites.flood]``),
key, default, allowed, description. Both take every word from the models (their field
descriptions, defaults and constraints, :mod:`kernel.schema`) and refuse a field without a
description (:class:`UndocumentedError`). Pure: text in, text out.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from kernel import schema
from kernel.settings import ServiceSettings, options


class UndocumentedError(ValueError):
    """Fields without a description (``Model.field``), which the reference cannot explain."""


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def code(text: str) -> str:
    return f"`{text}`"


def _default(info: FieldInfo) -> str:
    text = schema.default_text(info)
    if text is None:
        return "required"
    return "not set" if text == "(not set)" else code(text)


def options_table(cls: type[ServiceSettings]) -> str:
    """The options of one command, by group."""
    lines: list[str] = []
    missing = [f"{cls.__name__}.{o.name}" for o in options(cls) if not o.field.description]
    if missing:
        raise UndocumentedError(", ".join(missing))
    group = None
    for option in options(cls):
        if option.group != group:
            group = option.group
            lines += ["", f"**{group}**", ""]
            lines += ["| option | environment | default | allowed | description |"]
            lines += ["|---|---|---|---|---|"]
        if option.secret:
            env = f"{code(option.file_env)}, or the secret itself in {code(option.env)}"
            flag = f"{code(option.flag)} FILE"
        else:
            env, flag = code(option.env), code(option.flag)
        row = (
            flag,
            env,
            _default(option.field),
            schema.allowed(option.field),
            option.field.description or "",
        )
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return "\n".join(lines).lstrip("\n")


@dataclass
class Table:
    """One TOML table of a file: its heading, what it is, its keys."""

    heading: str  # "[mqtt]", "[[sites]]", "[sites.flood]", "(top level)"
    about: str
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """(model, is a list of it) when *annotation* is a table or an array of tables."""
    kind, _ = schema.unwrap(annotation)
    many = get_origin(kind) is list
    if many:
        kind, _ = schema.unwrap((get_args(kind) or (Any,))[0])
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return kind, many
    return None, False


def _about(model: type[BaseModel], info: FieldInfo | None = None) -> str:
    doc = inspect.cleandoc(model.__doc__ or "").split("\n\n")[0].replace("\n", " ")
    if info is not None and info.description:
        return f"{info.description[0].upper()}{info.description[1:]}. {doc}".strip()
    return doc


def toml_tables(
    model: type[BaseModel],
    path: str = "",
    many: bool = False,
    skip: Iterable[str] = (),
    info: FieldInfo | None = None,
) -> list[Table]:
    """The tables of *model* at *path* (``""`` = the top level), sub-tables after it.

    Keys in *skip* are left out (documented elsewhere); fields typed as a union of tables
    (the gateway's devices) are left to the caller.
    """
    heading = "(top level)" if not path else (f"[[{path}]]" if many else f"[{path}]")
    table = Table(heading, _about(model, info))
    nested: list[Table] = []
    missing: list[str] = []
    for name, field_info in model.model_fields.items():
        if name in skip:
            continue
        key = field_info.alias or name
        sub, sub_many = _model_of(field_info.annotation)
        if sub is not None:
            nested += toml_tables(sub, f"{path}.{key}" if path else key, sub_many, (), field_info)
            continue
        if not field_info.description:
            missing.append(f"{model.__name__}.{name}")
            continue
        table.rows.append(
            (code(key), _default(field_info), schema.allowed(field_info), field_info.description)
        )
    if missing:
        raise UndocumentedError(", ".join(missing))
    return ([table] if table.rows else []) + nested


def render_tables(tables: Iterable[Table], level: str = "###") -> str:
    out: list[str] = []
    for table in tables:
        out += [f"{level} {code(table.heading) if table.heading[0] == '[' else table.heading}", ""]
        if table.about:
            out += [table.about, ""]
        out += ["| key | default | allowed | description |", "|---|---|---|---|"]
        out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
        out.append("")
    return "\n".join(out)
