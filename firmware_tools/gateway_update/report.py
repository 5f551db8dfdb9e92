"""What the gateway-update command says to the technician, in Bahasa Indonesia or English
(kernel/messages/update.toml)."""

from __future__ import annotations

from collections.abc import Callable

from firmware_tools.gateway_update.layout import Journal, Layout
from firmware_tools.gateway_update.updater import Outcome, manifest_version
from kernel.text import Lang, tr


def reason(key: str, detail: str, lang: Lang) -> str:
    if key == "update.no_bundle":
        path, _, found = detail.partition("|")
        return tr(key, lang, path=path, found=found)
    if key in ("update.no_keys",):
        return tr(key, lang, path=detail)
    return tr(key, lang, detail=detail)


def problem(key: str, detail: str, lang: Lang) -> str:
    return reason(key, detail, lang)


def outcome(out: Outcome, lang: Lang) -> str:
    why = reason(out.key, out.detail, lang) if out.key else ""
    if out.result == "committed":
        return tr("update.committed", lang, version=out.version, reason=why, old=out.old or "-")
    return tr(f"update.{out.result}", lang, version=out.version or "-", new=out.new, reason=why)


def progress(verified, path: object, timeout: float, lang: Lang) -> Callable[[str], None]:
    """Prints a line as the update reaches its long steps (the step hook of update())."""
    version = manifest_version(verified)
    print(tr("update.verified", lang, version=version, path=path), flush=True)

    def step(name: str) -> None:
        if name == "staging":
            print(tr("update.phase.staging", lang, version=version), flush=True)
        elif name == "trial":
            print(tr("update.phase.trial", lang, version=version, timeout=f"{timeout:.0f}"))

    return step


def recovered(layout: Layout, journal: Journal | None, lang: Lang) -> str:
    if journal is None:
        return status(layout, lang)
    return tr(
        "update.recovered",
        lang,
        new=journal.new,
        phase=journal.phase,
        version=layout.current_version() or "-",
    )


def status(layout: Layout, lang: Lang) -> str:
    journal = layout.read_journal()
    version = layout.current_version() or "-"
    if journal is None:
        return tr("update.status_none", lang, version=version)
    why = f" ({reason(journal.reason, journal.detail or '', lang)})" if journal.reason else ""
    return tr(
        "update.status",
        lang,
        version=version,
        old=layout.previous_version() or "-",
        new=journal.new,
        phase=journal.phase,
        reason=why,
    )
