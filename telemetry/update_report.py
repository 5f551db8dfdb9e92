"""The ``update`` of a gateway status (docs/protocol.md, section 3): how the gateway's last
software update ended, and the ``gateway_status`` fields ingest stores it as (section 4).

``update`` is read leniently, like ``firmware``: a status whose ``update`` is not one (another
implementation, an older gateway) is stored without it, never refused, so statuses that were
valid before this rule stay valid. Texts are clipped to their limits.

=================  ======  =====================================================================
field              type    from ``update``
=================  ======  =====================================================================
``update_version`` string  ``version``: the release the update tried (or the refused command
                           named; "" when it named none that could be read)
``update_result``  string  ``result``: committed, rolled_back, aborted, refused, kept_unhealthy
``update_reason``  string  ``reason``: message key (kernel/messages/update.toml), else ""
``update_detail``  string  ``detail``: the failed check's own words, else ""
``update_rollout`` string  ``rollout``: the id of the rollout whose command it was, else ""
``update_time``    int     ``time``: when the updater finished (ms, UTC); only when given
=================  ======  =====================================================================
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from telemetry.models import MAX_TIME_MS, MIN_TIME_MS

UPDATE_RESULTS = ("committed", "rolled_back", "aborted", "refused", "kept_unhealthy")
#: Results that are not a success: the gateway does not run what the update tried.
FAILED_RESULTS = frozenset(UPDATE_RESULTS) - {"committed"}
MAX_UPDATE_TEXT = 200
UPDATE_FIELDS: dict[str, type] = {
    "update_version": str,
    "update_result": str,
    "update_reason": str,
    "update_detail": str,
    "update_rollout": str,
    "update_time": int,
}


def _clip(limit: int):
    def clip(value: Any) -> Any:
        return value[:limit] if isinstance(value, str) else value

    return BeforeValidator(clip)


class UpdateReport(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    version: Annotated[str, _clip(64), Field(strict=True)]
    result: Literal["committed", "rolled_back", "aborted", "refused", "kept_unhealthy"]
    reason: Annotated[str, _clip(64), Field(strict=True)] = ""
    detail: Annotated[str, _clip(MAX_UPDATE_TEXT), Field(strict=True)] = ""
    rollout: Annotated[str, _clip(100), Field(strict=True)] = ""
    time: Annotated[int, Field(strict=True, ge=MIN_TIME_MS, lt=MAX_TIME_MS)] | None = None


def update_report(extra: dict[str, Any] | None) -> UpdateReport | None:
    """The ``update`` among a status's extra keys (``status.model_extra``), or None when it
    carries none or what it carries is not one."""
    given = (extra or {}).get("update")
    if not isinstance(given, dict):
        return None
    try:
        return UpdateReport.model_validate(given)
    except ValidationError:
        return None


def update_fields(extra: dict[str, Any] | None) -> dict[str, str | int]:
    """The ``gateway_status`` fields of the status's ``update`` (none when it has none)."""
    report = update_report(extra)
    if report is None:
        return {}
    fields: dict[str, str | int] = {
        "update_version": report.version,
        "update_result": report.result,
        "update_reason": report.reason,
        "update_detail": report.detail,
        "update_rollout": report.rollout,
    }
    if report.time is not None:
        fields["update_time"] = report.time
    return fields
