"""One module per dashboard, each with ``build(lang) -> Dashboard``; :data:`BOARDS` lists them
by the file name they are written to (dashboards/<name>.json)."""

from __future__ import annotations

from dashboards.boards import gateway, traffic, udara

BOARDS = {
    "lalu-lintas": traffic.build,
    "kualitas-udara": udara.build,
    "kesehatan-gateway": gateway.build,
}
