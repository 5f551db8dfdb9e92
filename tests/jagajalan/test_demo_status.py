"""What the demo prints every 5 s: counts, and names only of gateways that changed, in
Bahasa Indonesia by default and in English with ``--lang en``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jagajalan.demo_status import device_summary, gateway_summary, site_line
from testkit.language import judge


def gateways(n: int, state: str = "online", prefix: str = "fleet") -> list[dict]:
    return [{"gateway": f"{prefix}-{i:04d}", "state": state} for i in range(1, n + 1)]


def test_status_line_counts_and_names_only_changes() -> None:
    line, seen = gateway_summary({}, gateways(2, prefix="srl"), "en")
    assert line == "gateways: 2 online"
    fleet = gateways(2, prefix="srl") + gateways(51)
    line, seen = gateway_summary(seen, fleet, "en")
    assert line.startswith("gateways: 53 online | new: fleet-0001, fleet-0002")
    assert "and 46 more" in line and "fleet-0051" not in line
    line, seen = gateway_summary(seen, fleet, "en")
    assert line == "gateways: 53 online"  # nothing changed: no names
    fleet[-1] = {"gateway": "fleet-0051", "state": "offline"}
    line, seen = gateway_summary(seen, fleet, "en")
    assert line == "gateways: 1 offline, 52 online | now offline: fleet-0051"


def test_status_line_in_bahasa_indonesia_by_default() -> None:
    fleet = gateways(2, prefix="srl") + gateways(51)
    line, seen = gateway_summary(dict.fromkeys(["srl-0001", "srl-0002"], "online"), fleet)
    assert line.startswith("gateway: 53 tersambung | baru: fleet-0001, fleet-0002")
    assert "dan 46 lagi" in line and not judge(line, "id")
    fleet[-1] = {"gateway": "fleet-0051", "state": "offline"}
    line, seen = gateway_summary(seen, fleet)
    assert line == "gateway: 1 terputus, 52 tersambung | kini terputus: fleet-0051"
    devices = [{"device": "wl1", "state": "crc_error"}, {"device": "env1", "state": "rebooting"}]
    line, _ = device_summary({}, [{"gateway": "srl-tembesi-01", "devices": devices}])
    # a state the catalogue does not know (a newer gateway) is shown as the code it is
    assert line == "perangkat: 1 galat CRC, 1 `rebooting`" and not judge(line, "id")


def test_device_troubles_are_named_when_they_change() -> None:
    def gws(wl1: str) -> list[dict]:
        devices = [{"device": "env1", "state": "ok"}, {"device": "wl1", "state": wl1}]
        return [{"gateway": "srl-tembesi-01", "state": "online", "devices": devices}]

    assert device_summary({}, [{"gateway": "fleet-0001", "state": "online"}]) == ("", {})
    line, seen = device_summary({}, gws("ok"), "en")
    assert line == "devices: 2 ok"
    line, seen = device_summary(seen, gws("unplugged"), "en")
    assert line == "devices: 1 ok, 1 unplugged | now unplugged: srl-tembesi-01/wl1"
    line, seen = device_summary(seen, gws("unplugged"), "en")
    assert line == "devices: 1 ok, 1 unplugged"
    line, seen = device_summary(seen, gws("ok"))
    assert line == "perangkat: 2 baik | kini baik: srl-tembesi-01/wl1"


def test_site_line_uses_the_labels() -> None:
    site = {
        "gateway": "srl-pasar-01",
        "water": {
            "level_cm": 12.3,
            "status_label": "Waspada",
            "status_label_en": "Watch",
            "road": "hati_hati",
            "road_label": "Hati-hati",
            "road_label_en": "Caution",
        },
        "air": {
            "pm25": 72.3,
            "ispu": 117.8,
            "category_label": "Tidak Sehat",
            "category_label_en": "Unhealthy",
        },
        "traffic": {"vehicles": 30, "speed_mean": 38.2, "los": None},
    }
    line = site_line(site, lambda n: n * 40.0, "en")
    assert "water +12.3 cm Watch (Caution)" in line
    assert "PM2.5 72 µg/m³ ISPU 118 Unhealthy" in line
    assert "traffic 1200 veh/h, 38 km/h" in line and "LOS" not in line
    line = site_line(site, lambda n: n * 40.0)
    assert "air +12.3 cm Waspada (Hati-hati)" in line
    assert "PM2.5 72 µg/m³ ISPU 118 Tidak Sehat" in line
    assert "lalu lintas 1200 kendaraan/jam, 38 km/jam" in line and not judge(line, "id")


def test_demo_switch_without_a_demo_or_with_an_unknown_scenario(tmp_path: Path) -> None:
    def switch(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "jagajalan.cli", "demo", "switch", *argv],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if k != "JAGAJALAN_LANG"},
        )

    unknown = switch("monsoon", "--lang", "en")
    assert unknown.returncode == 2 and "shipped scenarios: `first_rains" in unknown.stderr
    elsewhere = tmp_path / "elsewhere.toml"
    elsewhere.write_text(
        'name = "elsewhere"\nstart = 2025-10-20\nduration = "1d"\n[[sites]]\n'
        'gateway = "pdg-bypass-02"\nname = "Jl. By Pass"\nkecamatan = "Koto Tangah"\n'
        "latitude = -2.0\nlongitude = 102.0\n"
        '[[expect]]\nat = "day1 01:00"\nsite = "pdg-bypass-02"\nsignal = "pm25"\n'
        'crosses = "sedang"\n'
    )
    foreign = switch(str(elsewhere), "--lang", "en")
    assert foreign.returncode == 2 and "no site the demo can emulate" in foreign.stderr
    foreign = switch(str(elsewhere))  # Bahasa Indonesia by default
    assert foreign.returncode == 2 and "tidak punya lokasi" in foreign.stderr
    assert not judge(foreign.stderr, "id"), foreign.stderr
    none = switch("haze_episode")
    assert none.returncode == 1 and "tidak ada demo yang berjalan" in none.stderr
    assert not judge(none.stderr, "id"), none.stderr
    assert not (tmp_path / "var" / "demo" / "switch.request").exists()


def test_the_board_counts_the_active_alerts() -> None:
    from jagajalan.demo_status import alerts_summary

    active = [{"state": "firing"}, {"state": "acknowledged"}, {"state": "resolved"}]
    assert alerts_summary(active) == "peringatan aktif: 2" and not judge(alerts_summary([]), "id")
    assert alerts_summary(active[:1], "en") == "active alerts: 1"


@pytest.mark.parametrize(
    "status, body",
    [
        (503, b'{"detail": "the store is busy"}'),  # an error's body is an object
        (200, b'{"detail": "not a listing"}'),
        (200, b'["srl-pasar-01"]'),
        (500, b"Internal Server Error"),
    ],
)
def test_the_board_waits_out_an_answer_that_is_not_a_listing(status: int, body: bytes) -> None:
    """A real HTTP server on loopback answers /conditions with something other than a list of
    sites. The board says the API is not answering yet (one line) and the demo goes on; before,
    an error's JSON object was walked as the sites and the demo died with a TypeError."""
    import http.server
    import threading

    from jagajalan.demo_status import StatusBoard

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            listing = self.path.startswith("/gateways")
            self.send_response(200 if listing else status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"[]" if listing else body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        board = StatusBoard(f"http://127.0.0.1:{server.server_address[1]}")
        lines = board.update(demo=None)  # the demo is not consulted before the listings
    finally:
        server.shutdown()
        server.server_close()
    assert len(lines) == 1 and lines[0].endswith("API belum menjawab"), lines
