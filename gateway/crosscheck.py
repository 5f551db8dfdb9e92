"""Cross-field checks of a gateway config (gateway/config.py) that pydantic's per-field
validation cannot state well: device ids repeated across ``[[devices]]`` entries, and an unknown
or missing ``driver`` pointed at the ``driver`` key with the closest known name ("did you
mean"). Pure functions over the raw TOML data and the validation problems; every problem keeps
its catalogue text (kernel/messages/config.toml) for the technician's language.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from kernel.text import T, Text, TextError

#: How the discriminated union of device models (gateway.config) words an unknown driver;
#: :func:`refine` recognises its problems by this start.
UNKNOWN_DRIVER = "unknown or missing driver"


def duplicate_ids(data: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """Duplicate device ids, checked on the raw data so they show next to other problems."""
    devices = data.get("devices")
    if not isinstance(devices, list):
        return []
    problems: list[tuple[str, Any, str]] = []
    seen: dict[str, int] = {}
    for i, device in enumerate(devices):
        ident = device.get("id") if isinstance(device, dict) else None
        if not isinstance(ident, str):
            continue
        if ident in seen:
            other = f"devices[{seen[ident]}]"
            problems.append(
                (f"devices[{i}].id", ident, TextError("config.err.duplicate_id", other=other))
            )
        else:
            seen[ident] = i
    return problems


def refine(
    problems: list[tuple[str, Any, str]], data: dict[str, Any], texts: list[Text | None]
) -> list[tuple[str, Any, str, Text | None]]:
    """Point unknown-driver problems at the ``driver`` key; drop duplicate-id repeats. Each
    problem keeps its catalogue text (:attr:`kernel.config.ConfigError.texts`)."""
    devices = data.get("devices")
    out: list[tuple[str, Any, str, Text | None]] = []
    for (key, value, message), text in zip(problems, texts, strict=True):
        if key == "devices" and "duplicate device id" in message:
            continue  # reported by duplicate_ids with the exact key
        m = re.fullmatch(r"devices\[(\d+)\]", key)
        if m and message.startswith(UNKNOWN_DRIVER) and isinstance(devices, list):
            device = devices[int(m[1])]
            driver = device.get("driver") if isinstance(device, dict) else None
            known = message[len(UNKNOWN_DRIVER) :].strip()
            names = known.removeprefix("(known drivers: ").removesuffix(")")
            if driver is None:
                missing = T("config.err.no_driver", known=names)
                out.append((f"{key}.driver", None, f"required key is missing {known}", missing))
            else:
                names_list = [n.strip() for n in names.split(",")]
                close = difflib.get_close_matches(str(driver), names_list, n=1)
                unknown = (
                    T("config.err.unknown_driver_close", close=close[0], known=names)
                    if close
                    else T("config.err.unknown_driver", known=names)
                )
                out.append((f"{key}.driver", driver, f"unknown driver {known}", unknown))
            continue
        out.append((key, value, message.removeprefix("Value error, "), text))
    return out
