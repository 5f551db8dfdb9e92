"""Messages of the field technician's tools (``gateway doctor``, ``gateway scan``).

Every line a technician reads comes from :data:`CATALOGUE`: a message key maps to the
Bahasa Indonesia text (the default) and the English one, both ``str.format`` templates with
the same named arguments. Code builds a :class:`Text` (key + arguments) and renders it in the
chosen language only when printing, so ``--json`` can carry both the key and the text.
A test checks that every key has both languages with the same arguments, and that every key
used in the code exists.
"""

from __future__ import annotations

import os
import string
from dataclasses import dataclass, field
from typing import Any, Literal

from kernel.messages import doctor as doctor_messages
from kernel.messages import scan as scan_messages

Lang = Literal["id", "en"]
LANGS: tuple[Lang, ...] = ("id", "en")
DEFAULT_LANG: Lang = "id"

# key: (Bahasa Indonesia, English). Messages shared by both tools; each tool keeps its own
# in kernel/messages/doctor.py and kernel/messages/scan.py.
COMMON: dict[str, tuple[str, str]] = {
    "status.pass": ("LULUS", "PASS"),
    "status.warn": ("PERINGATAN", "WARN"),
    "status.fail": ("GAGAL", "FAIL"),
    "status.skip": ("DILEWATI", "SKIP"),
    "table.status": ("Status", "Status"),
    "table.check": ("Pemeriksaan", "Check"),
    "table.result": ("Hasil dan saran", "Result and remedy"),
    "check.timeout": (
        "Pemeriksaan tidak selesai dalam {seconds} detik",
        "Check did not finish within {seconds} s",
    ),
    "check.timeout.remedy": (
        "Jalankan doctor lagi; kalau terulang, kirim hasil `--json` ke admin",
        "Run doctor again; if it happens again, send the `--json` output to the admin",
    ),
    "check.crashed": ("Kesalahan tak terduga: {error}", "Unexpected error: {error}"),
    "check.crashed.remedy": (
        "Kirim hasil `--json` dan log ke admin",
        "Send the `--json` output and the log to the admin",
    ),
    "age.none": ("-", "-"),
    "dur.seconds": ("{n} detik", "{n} s"),
    "dur.minutes": ("{m} menit", "{m} min"),
    "dur.hours": ("{h} jam {m} menit", "{h} h {m} min"),
    "dur.days": ("{d} hari {h} jam", "{d} d {h} h"),
}


def _merge(*tables: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    merged: dict[str, tuple[str, str]] = {}
    for table in tables:
        for key, texts in table.items():
            if key in merged:
                raise ValueError(f"message key {key!r} is defined twice")
            merged[key] = texts
    return merged


CATALOGUE = _merge(COMMON, doctor_messages.MESSAGES, scan_messages.MESSAGES)


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
