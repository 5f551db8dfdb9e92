"""Loading TOML config files into pydantic models, with errors that point.

Every problem in the file is collected and reported at once, each naming the file, the key
(dotted path, with list indices), the bad value and what is allowed there (from the model:
:mod:`kernel.schema`); an unknown key lists the keys its table accepts. Never a traceback for
a config mistake.
"""

from __future__ import annotations

import difflib
import errno
import re
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from kernel import schema
from kernel.text import Lang, T, Text, TextError, tr

M = TypeVar("M", bound=BaseModel)

#: Validation-context key: the folder of the config file being validated (the base of its
#: relative paths, :func:`kernel.fields.resolve_path`).
CONFIG_DIR = "config_dir"


#: Problems that are not about one key: the catalogue's name for them.
PSEUDO_KEYS = {
    "(file)": "config.key.file",
    "(syntax)": "config.key.syntax",
    "(top level)": "config.key.top",
}


class ConfigError(Exception):
    """Every problem of a config file: ``problems`` holds (key, value, English message) and
    ``texts`` the same messages as catalogue text (:class:`kernel.text.Text`) for the
    technician's language, or None where only the English exists. A message given as a
    :class:`~kernel.text.TextError` fills both; so does a problem given as
    (key, value, message, text)."""

    def __init__(
        self,
        path: str | Path,
        problems: list[tuple[Any, ...]],
        texts: list[Text | None] | None = None,
    ) -> None:
        self.path = str(path)
        self.problems: list[tuple[str, Any, str]] = []  # (key, value, message)
        self.texts: list[Text | None] = []
        given = texts if texts is not None else [None] * len(problems)
        for problem, text in zip(problems, given, strict=True):
            key, value, message = problem[:3]
            if len(problem) > 3:  # (key, value, message, text)
                text = text or problem[3]
            if isinstance(message, TextError):
                text = text or message.text
            self.problems.append((key, value, str(message)))
            self.texts.append(text)
        super().__init__(self.render())

    def problem_texts(self) -> list[Text]:
        """Each problem's message as catalogue text (the English quoted where no text)."""
        return [
            text if text is not None else T("problem.other", text=message)
            for text, (_, _, message) in zip(self.texts, self.problems, strict=True)
        ]

    def render_in(self, lang: Lang) -> str:
        """Every problem in *lang*, one line each, as :meth:`render` does in English."""
        lines = [tr("config.err.head", lang, file=self.path, n=len(self.problems))]
        for (key, value, _), text in zip(self.problems, self.problem_texts(), strict=True):
            shown = repr(value)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            key = tr(PSEUDO_KEYS[key], lang) if key in PSEUDO_KEYS else key
            line = tr("config.err.line", lang, file=self.path, key=key, value=shown, problem=text)
            lines.append("  " + line)
        return "\n".join(lines)

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
        texts: list[Text | None] = []
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
            texts.append(problem_text(err, str(loc[-1]) if loc else "", table))
        raise ConfigError(path, problems, texts) from None


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


#: pydantic error types -> catalogue key of the problem (arguments from the error's ctx).
TYPE_KEYS = {
    "greater_than": ("config.err.gt", "gt"),
    "greater_than_equal": ("config.err.ge", "ge"),
    "less_than": ("config.err.lt", "lt"),
    "less_than_equal": ("config.err.le", "le"),
    "string_pattern_mismatch": ("config.err.pattern", "pattern"),
    "literal_error": ("config.err.choice", "expected"),
    "enum": ("config.err.choice", "expected"),
    "string_too_short": ("config.err.too_short", "min_length"),
    "string_too_long": ("config.err.too_long", "max_length"),
    "too_short": ("config.err.too_few", "min_length"),
    "too_long": ("config.err.too_many", "max_length"),
}
#: pydantic type errors -> the kind of value wanted.
KIND_OF = {
    "int": "int",
    "float": "float",
    "string": "str",
    "bool": "bool",
    "dict": "table",
    "model": "table",
    "list": "list",
    "tuple": "list",
    "datetime": "time",
}


def problem_text(err: Any, key: str, table: type[BaseModel] | None) -> Text:
    """A pydantic error as catalogue text, for the technician's language: a validator's own
    :class:`~kernel.text.TextError`, else a message per error type; an error type without one
    is shown with pydantic's English message quoted (:func:`tr` key ``problem.other``)."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if isinstance(ctx.get("error"), TextError):
        return ctx["error"].text
    if kind == "missing":
        return T("config.err.missing")
    if kind == "extra_forbidden":
        keys = schema.keys_of(table) if table is not None else []
        close = difflib.get_close_matches(key, keys, n=1)
        shown = ", ".join(keys) or "-"
        if close:
            return T("config.err.unknown_key_close", close=close[0], keys=shown)
        return T("config.err.unknown_key", keys=shown)
    if kind in TYPE_KEYS:
        message_key, arg = TYPE_KEYS[kind]
        value = str(ctx.get(arg, "-"))
        if arg == "expected":
            value = value.replace(" or ", ", ").replace("'", "")
        return T(message_key, limit=value)
    head = kind.split("_")[0]
    if kind.endswith(("_type", "_parsing")) and head in KIND_OF:
        return T("config.err.kind", kind=T(f"config.kind.{KIND_OF[head]}"))
    return T("problem.other", text=err["msg"])


def load_toml(model: type[M], path: str | Path) -> M:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(p, [("(file)", str(p), TextError("config.err.no_file"))]) from None
    except OSError as exc:
        text = TextError("config.err.unreadable", errno=errno.errorcode.get(exc.errno or 0, "-"))
        raise ConfigError(
            p, [("(file)", str(p), f"cannot read: {exc.strerror}")], [text.text]
        ) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(p, [("(file)", str(p), TextError("config.err.not_utf8"))]) from None
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"line (\d+), column (\d+)", str(exc))
        line, column = where.groups() if where else ("-", "-")
        text = T("config.err.toml", line=line, column=column)
        raise ConfigError(p, [("(syntax)", None, f"not valid TOML: {exc}")], [text]) from None
    return validate(model, data, p)
