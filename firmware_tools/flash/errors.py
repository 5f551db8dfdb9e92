"""Why a flashing run stopped, for people: a message key (kernel/messages/flash.toml) and its
arguments, rendered in the technician's language by the command."""

from __future__ import annotations

from typing import Any

from kernel.text import Lang, tr


class FlashError(Exception):
    """A flashing run that cannot go on. ``code`` names the catalogue message
    ``flash.<code>``; ``args`` are its arguments. ``str()`` is the English text (logs)."""

    def __init__(self, code: str, **args: Any) -> None:
        self.code = code
        self.args_ = args
        super().__init__(tr(f"flash.{code}", "en", **args))

    def render(self, lang: Lang) -> str:
        return tr(f"flash.{self.code}", lang, **self.args_)
