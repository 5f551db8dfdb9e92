"""The text catalogue: every sentence people read, in Bahasa Indonesia and English.

Used by the field technician's tools (``gateway doctor``, ``gateway scan``) and the simulators'
commands; the data is in ``kernel/messages/*.toml``, one file per tool, so a translator edits
text, not code. Every line comes from :data:`CATALOGUE`: a message key maps to the
Bahasa Indonesia text (the default) and the English one, both ``str.format`` templates with
the same named arguments. Code builds a :class:`Text` (key + arguments) and renders it in the
chosen language only when printing, so ``--json`` can carry both the key and the text.
A test checks that every key has both languages with the same arguments, and that every key
used in the code exists.
"""

from __future__ import annotations

import os
import string
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Lang = Literal["id", "en"]
LANGS: tuple[Lang, ...] = ("id", "en")
DEFAULT_LANG: Lang = "id"

#: The catalogue's data: one TOML file per tool, ``["key"] id = "..." en = "..."``.
MESSAGES_DIR = Path(__file__).with_name("messages")


def load_catalogue(folder: Path = MESSAGES_DIR) -> dict[str, tuple[str, str]]:
    """Every message of every ``*.toml`` in *folder*: key -> (Bahasa Indonesia, English).
    A key defined twice, or a message without both languages, raises ValueError naming the
    file and the key (a broken catalogue is a bug the tests catch, not a user error)."""
    merged: dict[str, tuple[str, str]] = {}
    where: dict[str, str] = {}
    for path in sorted(folder.glob("*.toml")):
        for key, texts in tomllib.loads(path.read_text(encoding="utf-8")).items():
            if key in merged:
                raise ValueError(f"{path.name}: message key {key!r} is already in {where[key]}")
            if not isinstance(texts, dict) or set(texts) != set(LANGS):
                raise ValueError(f"{path.name}: message {key!r} needs exactly {list(LANGS)}")
            merged[key] = (texts["id"], texts["en"])
            where[key] = path.name
    return merged


CATALOGUE = load_catalogue()


def placeholders(template: str) -> set[str]:
    """The named arguments of a format template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def tr(key: str, lang: Lang = DEFAULT_LANG, /, **args: Any) -> str:
    """The message *key* in *lang*, formatted with *args*. A :class:`Text` or :class:`Joined`
    argument is rendered in the same language. An unknown key raises KeyError (a bug, which
    the tests catch)."""
    indonesian, english = CATALOGUE[key]
    template = english if lang == "en" else indonesian
    rendered = {k: v.render(lang) if isinstance(v, Text | Joined) else v for k, v in args.items()}
    return template.format(**rendered)


@dataclass(frozen=True)
class Text:
    """A message to show later: its key and arguments, rendered in any language."""

    key: str
    args: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: Lang = DEFAULT_LANG) -> str:
        return tr(self.key, lang, **self.args)


@dataclass(frozen=True)
class Joined:
    """Several texts shown as one, e.g. a list of problems."""

    items: tuple[Text, ...]
    separator: str = ", "

    def render(self, lang: Lang = DEFAULT_LANG) -> str:
        return self.separator.join(item.render(lang) for item in self.items)


def T(key: str, /, **args: Any) -> Text:
    """Shorthand for ``Text(key, args)``."""
    return Text(key, args)


class TextError(ValueError):
    """A ValueError whose message is catalogue text: ``str()`` is the English (for logs and
    code that only knows ValueError), :attr:`text` renders in any language. Validators raise
    it so that a config problem reaches the technician in one language
    (:func:`kernel.config.validate` keeps the text)."""

    def __init__(self, key: str, /, **args: Any) -> None:
        self.text = Text(key, args)
        super().__init__(self.text.render("en"))


class Said(str):
    """An English string that also carries its catalogue text: code that prints or compares
    strings keeps working, and a caller with a language renders :attr:`text` instead."""

    text: Text

    def __new__(cls, key: str, /, **args: Any) -> Said:
        text = Text(key, args)
        said = super().__new__(cls, text.render("en"))
        said.text = text
        return said


def said(value: object) -> Text:
    """*value* as catalogue text: its own (a :class:`Said`, a :class:`TextError`), else the
    English quoted as a technical detail (key ``problem.other``)."""
    text = getattr(value, "text", None)
    return text if isinstance(text, Text) else T("problem.other", text=str(value))


def default_lang() -> Lang:
    """``JAGAJALAN_LANG=en`` switches the default; anything else means Bahasa Indonesia."""
    return "en" if os.environ.get("JAGAJALAN_LANG", "").lower().startswith("en") else "id"


def duration(seconds: float | None) -> Text:
    """A short human duration: 45 detik, 12 menit, 3 jam 5 menit, 2 hari 4 jam."""
    if seconds is None:
        return T("age.none")
    s = max(0, int(seconds))
    if s < 90:
        return T("dur.seconds", n=s)
    if s < 3600:
        return T("dur.minutes", m=round(s / 60))
    if s < 86400:
        return T("dur.hours", h=s // 3600, m=(s % 3600) // 60)
    return T("dur.days", d=s // 86400, h=(s % 86400) // 3600)


def size(nbytes: float) -> str:
    """Bytes for people: 512 KB, 37 MB, 1.4 GB (decimal units, as df -H)."""
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if nbytes >= factor:
            value = nbytes / factor
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{int(nbytes)} B"
