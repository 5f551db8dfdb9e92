"""One module per dashboard, each with ``build(lang) -> Dashboard``; :data:`BOARDS` lists them
by the file name they are written to (dashboards/<name>.json)."""

from __future__ import annotations

from dashboards.boards import flood, gateway, traffic, udara

BOARDS = {
    "lalu-lintas": traffic.build,
    "banjir-cuaca": flood.build,
    "kualitas-udara": udara.build,
    "kesehatan-gateway": gateway.build,
}
