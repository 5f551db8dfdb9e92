"""One module per dashboard, each with ``build(lang, tiles) -> Dashboard`` (*tiles*: the
summary map's base layer, an XYZ tile URL; None: offline outlines); :data:`BOARDS` lists them
by the file name they are written to (dashboards/<name>.json)."""

from __future__ import annotations

from dashboards.boards import flood, gateway, summary, traffic, udara

BOARDS = {
    "ringkasan-kabupaten": summary.build,
    "lalu-lintas": traffic.build,
    "banjir-cuaca": flood.build,
    "kualitas-udara": udara.build,
    "kesehatan-gateway": gateway.build,
}
