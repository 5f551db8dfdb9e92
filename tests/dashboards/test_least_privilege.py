"""On a real InfluxDB with ``auth-enabled = true``, set up by ``jagajalan store setup``:
Grafana's data source user (``jagajalan_grafana``, READ only: the provisioning file's user)
runs every query of every dashboard without an authorisation error and may not write; the
analytics user (ALL) writes the sites' copy that the template variables read, through
``jagajalan dashboards sites``. Whether the queries return data is
tests/dashboards/test_queries.py's job."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
import yaml

from dashboards.generate import FOLDER
from dashboards.macros import expand
from jagajalan.cli import main
from store.privileges import SERVICES
from testkit import REPO
from testkit.influx_setup import Secured
from testkit.services import influxd

DB = "jagajalan"


@pytest.fixture
def secured(tmp_path: Path):
    with influxd(tmp_path / "influx", auth=True) as server:
        s = Secured(server, tmp_path / "secrets")
        s.create_admin()
        yield s


def _as_grafana(s: Secured, query: str) -> dict:
    user = SERVICES["grafana"].default_username
    r = httpx.get(
        f"{s.url}/query",
        params={"db": DB, "q": query},
        auth=(user, s.password("grafana")),
        timeout=10,
    )
    assert r.status_code == 200, (query, r.text)
    (result,) = r.json()["results"]
    return result


@pytest.mark.services
def test_grafanas_read_only_user_runs_every_query_and_cannot_write(
    secured: Secured, tmp_path: Path
) -> None:
    assert main(secured.setup_args(DB, "grafana", "analytics")) == 0
    registry = ["--registry-db", str(tmp_path / "registry.sqlite3")]
    assert main(["registry", "init", *registry]) == 0
    assert main(["registry", "import", *registry, str(REPO / "examples" / "registry.toml")]) == 0
    sites = ["dashboards", "sites", "--influx-url", secured.url, "--influx-db", DB, *registry]
    sites += ["--influx-password-file", str(secured.password_file("analytics"))]
    assert main(sites) == 0
    provisioned = yaml.safe_load(
        (FOLDER / "provisioning" / "datasources" / "jagajalan.yaml").read_text(encoding="utf-8")
    )
    assert provisioned["datasources"][0]["user"] == SERVICES["grafana"].default_username

    end = int(time.time() * 1000)
    chosen: dict[str, list[str]] = {}
    ran = 0
    for path in sorted(FOLDER.glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        for variable in board["templating"]["list"]:
            result = _as_grafana(
                secured, expand(variable["query"], end - 86_400_000, end, variables=chosen)
            )
            assert "error" not in result, (path.name, variable["name"], result)
            values = [row[-1] for s in result.get("series", []) for row in s["values"]]
            assert values, (path.name, variable["name"])
            chosen[variable["name"]] = values
            ran += 1
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                q = expand(
                    target["query"],
                    end - 86_400_000,
                    end,
                    variables=chosen,
                    min_interval=panel.get("interval", ""),
                )
                result = _as_grafana(secured, q)
                assert "error" not in result, (path.name, panel["title"], result)
                ran += 1
    assert ran > 50
    write = httpx.post(
        f"{secured.url}/write",
        params={"db": DB},
        content=b"air_quality,gateway=x pm25=1",
        auth=(SERVICES["grafana"].default_username, secured.password("grafana")),
        timeout=10,
    )
    assert write.status_code == 403, write.text
