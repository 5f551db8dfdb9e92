"""Loading TOML config files into pydantic models, with errors that point.

Every problem in the file is collected and reported at once, each naming the file, the key
(dotted path, with list indices), the bad value and what is allowed there (from the model:
:mod:`kernel.schema`); an unknown key lists the keys its table accepts. Never a traceback for
a config mistake.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from kernel import schema

M = TypeVar("M", bound=BaseModel)

#: Validation-context key: the folder of the config file being validated (the base of its
#: relative paths, :func:`kernel.fields.resolve_path`).
CONFIG_DIR = "config_dir"


class ConfigError(Exception):
    def __init__(self, path: str | Path, problems: list[tuple[str, Any, str]]) -> None:
        self.path = str(path)
        self.problems = problems  # (key, value, message)
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"config error in {self.path}: {len(self.problems)} problem(s)"]
        for key, value, message in self.problems:
            shown = repr(value)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            lines.append(f"  {self.path}: {key} = {shown}: {message}")
        return "\n".join(lines)


def _key(loc: tuple[Any, ...], data: Any) -> tuple[str, Any]:
    """Dotted key for a pydantic location, plus the value found there (if any)."""
    parts: list[str] = []
    node: Any = data
    missing = object()
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{item}]"]
        else:
            parts.append(str(item))
        if isinstance(node, dict):
            node = node.get(item, missing)
        elif isinstance(node, list) and isinstance(item, int) and item < len(node):
            node = node[item]
        else:
            node = missing
    return ".".join(parts) or "(top level)", (None if node is missing else node)


def validate(model: type[M], data: dict[str, Any], path: str | Path) -> M:
    """*data* read from the file *path*, as *model*: relative paths in it are resolved against
    the file's folder (:data:`kernel.fields.CONFIG_DIR`, the rule of
    :func:`kernel.fields.resolve_path`)."""
    context = {CONFIG_DIR: Path(path).absolute().parent}
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            # Drop the union/tag members pydantic inserts into the location.
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
            key, value = _key(loc, data)
            field, table = schema.field_at(model, err["loc"])
            if err["type"] == "missing":
                value = None
                message = "required key is missing" + _expected(field)
            elif err["type"] == "extra_forbidden":
                message = "unknown key (misspelt?)" + _known_keys(str(loc[-1]), table)
            else:
                message = err["msg"].removeprefix("Value error, ")
                message += _allowed(err["type"], message, field)
            problems.append((key, value, message))
        raise ConfigError(path, problems) from None


#: Error types whose message already says what is allowed (choices), or that come from a
#: validator function of the model, whose message must say it.
SELF_EXPLAINING = frozenset(
    {
        "literal_error",
        "enum",
        "value_error",
        "assertion_error",
        "unknown_driver",
        "union_tag_invalid",
        "union_tag_not_found",
    }
)


def allowed_suffix(error_type: str, text: str | None) -> str:
    """`` (allowed: ...)`` for a pydantic error, unless its message already says it."""
    if text is None or error_type in SELF_EXPLAINING:
        return ""
    return f" (allowed: {text})"


def _allowed(error_type: str, message: str, field: Any) -> str:
    if field is None:
        return ""
    text = schema.allowed(field)
    if text.removeprefix("text matching ") in message:  # pydantic quoted the pattern
        return ""
    return allowed_suffix(error_type, text)


def _expected(field: Any) -> str:
    if field is None:
        return ""
    what = schema.allowed(field)
    return f" ({field.description}: {what})" if field.description else f" ({what})"


def _known_keys(key: str, table: type[BaseModel] | None) -> str:
    if table is None:
        return ""
    keys = schema.keys_of(table)
    close = difflib.get_close_matches(key, keys, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"{hint} (keys here: {', '.join(keys)})"


def load_toml(model: type[M], path: str | Path) -> M:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(p, [("(file)", str(p), "file not found")]) from None
    except OSError as exc:
        raise ConfigError(p, [("(file)", str(p), f"cannot read: {exc.strerror}")]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(p, [("(file)", str(p), "not UTF-8 text")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(p, [("(syntax)", None, f"not valid TOML: {exc}")]) from None
    return validate(model, data, p)
