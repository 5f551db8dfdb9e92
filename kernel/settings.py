"""Settings of a service: the command line wins, else ``JAGAJALAN_<NAME>``, else the default.

A service's settings are one pydantic model (a :class:`ServiceSettings` built from the
shared groups of :mod:`kernel.fields`). From it come the argparse options
(:func:`add_options`: ``--some-name``, help from the field's description, its default and
what it allows, ``[env JAGAJALAN_SOME_NAME]``), the loader (:func:`load`) and the reference
in docs/configuration.md, so ``--help``, the checks and the docs cannot drift apart.

Secrets (fields of type :data:`kernel.fields.Secret`) are never command-line values: they come
from a file (``--x-file`` or ``JAGAJALAN_X_FILE``) or from ``JAGAJALAN_X`` in the environment.
They are :class:`pydantic.SecretStr` from the moment they are read: never in a repr, an error
or a log line, and empty or well-known default secrets are refused.

:func:`load` reports every problem at once (:class:`SettingsError`, a
:class:`kernel.config.ConfigError`: ``jagajalan`` prints it and exits 2, no traceback), each
naming where the value came from (the option or the environment variable), the value (hidden
for secrets; a secret file is named by its path) and what is allowed. Building the parser
reads nothing; only :func:`load` reads the environment and secret files. Environment
variables are read with pydantic-settings (imported there, so ``jagajalan --help`` does not
pay for it).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import ConfigDict, SecretStr, ValidationError, model_validator

from kernel import schema
from kernel.config import ConfigError, allowed_suffix
from kernel.fields import Rule, SettingsGroup
from kernel.options import PREFIX, Option, add_options, options

__all__ = ["PREFIX", "Option", "ServiceSettings", "SettingsError", "add_options", "load", "options"]

HIDDEN = "(hidden)"

S = TypeVar("S", bound="ServiceSettings")

#: Shorter words for pydantic's messages about text given where a number is wanted.
PLAIN = {
    "missing": "required",
    "int_parsing": "not a number",
    "float_parsing": "not a number",
    "int_from_float": "not a whole number",
    "bool_parsing": "not true or false",
    "string_pattern_mismatch": "wrong form",
}


class ServiceSettings(SettingsGroup):
    """Base of the settings of one command (``command``, e.g. "jagajalan api run")."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    command: ClassVar[str] = "jagajalan"

    @model_validator(mode="after")
    def _rules(self) -> ServiceSettings:
        broken = rules(type(self), self.__dict__)
        if broken:
            raise ValueError("; ".join(message for _, message in broken))
        return self


def rules(cls: type[SettingsGroup], values: Mapping[str, Any]) -> list[Rule]:
    """Every rule of every group of *cls* that *values* break."""
    out: list[Rule] = []
    for klass in cls.__mro__:
        own = vars(klass).get("rules")
        if isinstance(own, classmethod):
            out += [r for r in own.__func__(cls, values) if r not in out]
    return out


class SettingsError(ConfigError):
    """Problems with the settings of a command: (where, value or None, message) each."""

    def __init__(self, command: str, problems: list[tuple[str, Any, str]]) -> None:
        super().__init__(command, problems)

    def render(self) -> str:
        lines = [f"config error in {self.path}: {len(self.problems)} problem(s)"]
        for where, value, message in self.problems:
            shown = "" if value is None else f" = {_show(value)}"
            lines.append(f"  {where}{shown}: {message}")
        return "\n".join(lines)


_CREDENTIALS = re.compile(r"(//[^/@:\s]*:)[^@/\s]*@")


#: Characters of a value a problem shows; a longer one is cut in its middle.
SHOWN = 240


def _show(value: Any) -> str:
    if value == HIDDEN:
        return HIDDEN
    shown = _CREDENTIALS.sub(r"\1***@", repr(value))  # a password inside a URL
    # A long value keeps its start and its end: a path's file name is what must be named.
    return (
        shown if len(shown) <= SHOWN else shown[: SHOWN // 2 - 2] + "..." + shown[-SHOWN // 2 + 1 :]
    )


@dataclass(frozen=True)
class _Origin:
    where: str  # "command line: --port", "environment: JAGAJALAN_PORT"
    shown: Any  # the value as given, or HIDDEN, or a secret file's path


#: A secret that was given but could not be read (its problem is reported already).
_UNREADABLE = object()


def _read_file(path: str) -> str:
    """A secret file's text without its line ending. Raises ValueError saying why not."""
    try:
        return Path(path).read_text(encoding="utf-8").strip("\r\n")
    except UnicodeDecodeError:
        raise ValueError("cannot read: not UTF-8 text") from None
    except OSError as exc:
        raise ValueError(f"cannot read: {exc.strerror or exc}") from None


class _Problems:
    """Problems kept in the order of the options they are about."""

    def __init__(self, cls: type[ServiceSettings]) -> None:
        self.order = {o.name: i for i, o in enumerate(options(cls))}
        self.found: list[tuple[int, str, Any, str]] = []

    def add(self, name: str | None, where: str, value: Any, message: str) -> None:
        self.found.append((self.order.get(name, len(self.order)), where, value, message))

    def sorted(self) -> list[tuple[str, Any, str]]:
        return [p[1:] for p in sorted(self.found, key=lambda p: p[0])]


def _secret(
    option: Option, args: argparse.Namespace, env: Mapping[str, str], problems: _Problems
) -> tuple[Any, _Origin] | None:
    """(SecretStr or _UNREADABLE, where it came from), or None when not given."""
    path = getattr(args, option.dest, None)
    if path is not None:
        origin = _Origin(f"command line: {option.flag}", path)
    elif option.file_env in env and option.env in env:
        where = f"environment: {option.file_env} and {option.env}"
        problems.add(option.name, where, None, "give the secret in one of the two, not both")
        return _UNREADABLE, _Origin(where, None)
    elif option.file_env in env:
        path = env[option.file_env]
        origin = _Origin(f"environment: {option.file_env}", path)
    elif option.env in env:
        return SecretStr(env[option.env]), _Origin(f"environment: {option.env}", HIDDEN)
    else:
        return None
    try:
        return SecretStr(_read_file(path)), origin
    except ValueError as exc:
        problems.add(option.name, origin.where, path, str(exc))
        return _UNREADABLE, origin


def _environment(
    cls: type[ServiceSettings], env: Mapping[str, str], problems: _Problems
) -> dict[str, Any]:
    """The non-secret fields set in *env*, read by pydantic-settings (``JAGAJALAN_`` prefix,
    any case, empty variables ignored, JSON for list and table fields)."""
    from pydantic_settings import EnvSettingsSource
    from pydantic_settings.sources.utils import parse_env_vars

    class Source(EnvSettingsSource):
        def _load_env_vars(self) -> Mapping[str, str | None]:
            return parse_env_vars(env, False, True, None)

    source = Source(cls, env_prefix=PREFIX, case_sensitive=False, env_ignore_empty=True)  # type: ignore[arg-type]
    found: dict[str, Any] = {}
    for option in options(cls):
        if option.secret:
            continue
        raw, _key, is_complex = source.get_field_value(option.field, option.name)
        try:
            value = source.prepare_field_value(option.name, option.field, raw, is_complex)
        except ValueError:
            message = f"not valid JSON (allowed: {schema.allowed(option.field)})"
            problems.add(option.name, f"environment: {option.env}", raw, message)
            continue
        if value is not None:
            found[option.name] = value
    return found


def _joined(places: list[str]) -> str:
    """ "command line: --a" and "command line: --b" -> "command line: --a and --b"."""
    heads = {p.split(": ", 1)[0] for p in places}
    if len(heads) == 1 and all(": " in p for p in places):
        return f"{heads.pop()}: " + " and ".join(p.split(": ", 1)[1] for p in places)
    return " and ".join(places)


def load(cls: type[S], args: argparse.Namespace, env: Mapping[str, str]) -> S:
    """The settings from *args* (options not given are None), else *env*, else defaults.
    Raises :class:`SettingsError` listing every problem."""
    problems = _Problems(cls)
    values: dict[str, Any] = {}
    origins: dict[str, _Origin] = {}
    from_env = _environment(cls, env, problems)
    for option in options(cls):
        if option.secret:
            found = _secret(option, args, env, problems)
            if found is not None:
                values[option.name], origins[option.name] = found
            continue
        given = getattr(args, option.dest, None)
        if given is not None:
            values[option.name] = given
            origins[option.name] = _Origin(f"command line: {option.flag}", given)
        elif option.name in from_env:
            values[option.name] = from_env[option.name]
            origins[option.name] = _Origin(f"environment: {option.env}", env.get(option.env))
    by_name = {o.name: o for o in options(cls)}

    def where(name: str) -> tuple[str, Any]:
        if name in origins:
            return origins[name].where, origins[name].shown
        return by_name[name].label, None

    view = {name: values.get(name, field.default) for name, field in cls.model_fields.items()}
    broken = rules(cls, view)
    for names, message in broken:
        if len(names) == 1:
            problems.add(names[0], *where(names[0]), message)
        else:
            problems.add(names[0], _joined([where(n)[0] for n in names]), None, message)
    unreadable = [name for name, value in values.items() if value is _UNREADABLE]
    try:
        settings = cls(**{k: v for k, v in values.items() if k not in unreadable})
    except ValidationError as exc:
        settings = None
        for err in exc.errors(include_url=False):
            if not err["loc"]:
                if not broken and not unreadable:  # else: the rules reported above
                    message = err["msg"].removeprefix("Value error, ")
                    problems.add(None, cls.command, None, message)
                continue
            name = str(err["loc"][0])
            place, shown = where(name)
            message = PLAIN.get(err["type"], err["msg"].removeprefix("Value error, "))
            message += allowed_suffix(err["type"], schema.allowed(by_name[name].field))
            problems.add(name, place, shown, message)
    if problems.found or settings is None:
        raise SettingsError(cls.command, problems.sorted())
    return settings
