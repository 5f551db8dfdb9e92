"""The command-line options of a service's settings (:mod:`kernel.settings`): one option per
field, grouped by the settings group that declares it, with help built from the field's
description, default and allowed values, so that ``--help`` and docs/configuration.md say
the same. Secrets are options naming a file; the secret itself on the command line is refused.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args, get_origin

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from kernel import schema

if TYPE_CHECKING:
    from kernel.settings import ServiceSettings

PREFIX = "JAGAJALAN_"


@dataclass(frozen=True)
class Option:
    """How one field is given: ``--flag`` (``dest`` in argparse) or ``env``."""

    name: str
    field: FieldInfo
    group: str
    secret: bool

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-") + ("-file" if self.secret else "")

    @property
    def dest(self) -> str:
        return self.name + ("_file" if self.secret else "")

    @property
    def env(self) -> str:
        return PREFIX + self.name.upper()

    @property
    def file_env(self) -> str:
        return self.env + "_FILE"

    @property
    def label(self) -> str:
        """Both ways to give it, for problems with a value that was not given."""
        if self.secret:
            return f"{self.flag} (env {self.file_env} or {self.env})"
        return f"{self.flag} (env {self.env})"


def _is_secret(field: FieldInfo) -> bool:
    return schema.unwrap(field.annotation)[0] is SecretStr


def options(cls: type[ServiceSettings]) -> list[Option]:
    """The options of *cls*, grouped by the group (mixin) that declares each field."""
    owner: dict[str, type] = {}
    for klass in cls.__mro__:  # the group that first declares a field places it, even when
        for name in getattr(klass, "__annotations__", {}):  # a subclass refines the field
            if name in cls.model_fields:
                owner[name] = klass
    mro = list(cls.__mro__)
    found = [
        Option(name, field, getattr(owner[name], "group", "options"), _is_secret(field))
        for name, field in sorted(cls.model_fields.items(), key=lambda f: mro.index(owner[f[0]]))
    ]
    order = list(dict.fromkeys(o.group for o in found))
    return sorted(found, key=lambda o: order.index(o.group))


def _help(option: Option) -> str:
    field = option.field
    text = field.description or option.name.replace("_", " ")
    if option.secret:
        text = f"file holding the {text} [env {option.file_env}, or the secret in {option.env}]"
        return text.replace("%", "%%")
    details = []
    if get_origin(schema.unwrap(field.annotation)[0]) is not Literal:
        details.append(schema.allowed(field))
    default = schema.default_text(field)
    if default is not None and default != "(not set)":
        details.append(f"default {default}")
    elif default is None:
        details.append("required")
    text = f"{text} ({'; '.join(details)}) [env {option.env}]"
    return text.replace("%", "%%")


def _whole_words(base: Any) -> Any:
    """*base* (an argparse formatter class) wrapping help lines between words only."""
    if getattr(base, "whole_words", False):
        return base

    class WholeWords(base):  # type: ignore[misc, valid-type]
        whole_words = True

        def _split_lines(self, text: str, width: int) -> list[str]:
            import textwrap

            text = self._whitespace_matcher.sub(" ", text).strip()
            return textwrap.wrap(text, width, break_on_hyphens=False)

    return WholeWords


def add_options(parser: argparse.ArgumentParser, cls: type[ServiceSettings]) -> None:
    """One option per field of *cls*, in argument groups; every default is None, so that
    :func:`load` can tell what was given on the command line. Abbreviated options are
    turned off: ``--mqtt-password x`` must not be taken for ``--mqtt-password-file x``. Help
    lines never break inside a hyphenated word (``ngsi-ld``, ``2/2-TT``): the help says what
    the reference says, word for word."""
    parser.allow_abbrev = False
    parser.formatter_class = _whole_words(parser.formatter_class)
    groups: dict[str, Any] = {}
    for option in options(cls):
        if option.group not in groups:
            groups[option.group] = parser.add_argument_group(option.group)
        kind = schema.unwrap(option.field.annotation)[0]
        kwargs: dict[str, Any] = {"dest": option.dest, "default": None, "help": _help(option)}
        if kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif option.secret:
            kwargs["metavar"] = "FILE"
        elif get_origin(kind) is Literal:
            kwargs["metavar"] = "{" + ",".join(str(v) for v in get_args(kind)) + "}"
        else:
            kwargs["metavar"] = _metavar(option, kind)
        groups[option.group].add_argument(option.flag, **kwargs)
        if option.secret:
            parser.add_argument(
                option.flag.removesuffix("-file"),
                action=_RefuseSecret,
                help=argparse.SUPPRESS,
                file_flag=option.flag,
                env=option.env,
            )


class _RefuseSecret(argparse.Action):
    """``--x SECRET``: refused without echoing the value (argparse would, as an unknown
    argument); a secret on the command line shows in ``ps`` and the shell history."""

    def __init__(self, *args: Any, file_flag: str, env: str, **kwargs: Any) -> None:
        self.file_flag, self.env = file_flag, env
        super().__init__(*args, nargs="?", **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        parser.error(
            f"{self.option_strings[0]}: a secret is never given on the command line (it would "
            f"show in ps and the shell history); use {self.file_flag} or {self.env}"
        )


def _metavar(option: Option, kind: Any) -> str:
    extra = option.field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("metavar"), str):
        return extra["metavar"]
    if kind is int or kind is float:
        return "N"
    if kind is Path or option.name.endswith("_file"):
        return "FILE"
    return option.name.split("_")[-1].upper()
