"""The indicators job with the least privilege, on a real InfluxDB 1.6 with
``auth-enabled = true``: its user (``jagajalan_analytics``, the default of its settings) holds
exactly what store.privileges grants it (ALL: READ and WRITE on the JagaJalan database, no
admin, nothing elsewhere), made by the real ``jagajalan store setup`` as an admin. With READ
only it names the missing privilege and the command that grants it, and does not crash: a
backfill exits 1, the service keeps passing and writes once an admin has fixed the grant."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from indicators.compute import ISPU_MEASUREMENT
from jagajalan.cli import main
from testkit import REPO, children
from testkit.influx_setup import Secured
from testkit.ingest import RECENT, wait_for
from testkit.points import GW1, air
from testkit.services import influxd

pytestmark = pytest.mark.services

DB = "jagajalan"
HOUR = 3_600_000
USER = "jagajalan_analytics"


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    with influxd(tmp_path / "influx", auth=True) as server:
        s = Secured(server, tmp_path / "secrets")
        s.create_admin()
        assert main(s.setup_args(DB, "ingest", "analytics")) == 0
        # Readings written by ingest's user, as in production (recent: raw keeps 90 days).
        s.store("ingest", DB).write(
            [air(GW1, RECENT + i * 600_000, pm25=40.0 + i, pm10=60.0) for i in range(6)]
        )
        yield s


def _backfill(secured: Secured) -> list[str]:
    """`jagajalan analytics backfill` of the readings' hour with analytics' password file and
    no --influx-username: the job's default user."""
    return [
        *("analytics", "backfill", "--influx-url", secured.url, "--influx-db", DB),
        *("--influx-password-file", str(secured.password_file("analytics"))),
        *("--start", _iso(RECENT), "--end", _iso(RECENT + HOUR), "--lang", "en"),
    ]


def _fix(secured: Secured) -> str:
    return (
        f"analytics needs READ and WRITE (ALL) on 'jagajalan'; fix: jagajalan store setup "
        f"--influx-url {secured.url} --influx-db jagajalan --admin-username <admin> "
        "--admin-password-file <file> --analytics-password-file <file holding analytics's "
        "password>"
    )


def test_with_exactly_the_privileges_setup_grants_the_job_backfills(
    secured: Secured, capsys: pytest.CaptureFixture[str]
) -> None:
    assert secured.users()[USER] is False  # never admin
    assert secured.grants(USER) == {DB: "ALL PRIVILEGES"}
    assert main(_backfill(secured)) == 0
    out, err = capsys.readouterr()
    assert f"1 indicator points written ({_iso(RECENT)} to {_iso(RECENT + HOUR)})" in out
    admin = secured.admin_store(DB)
    assert admin.count(ISPU_MEASUREMENT, GW1) == 1
    (point,) = admin.points(ISPU_MEASUREMENT, GW1, RECENT, RECENT + HOUR)
    assert point.fields["category"] == "sedang" and point.time_ms == RECENT
    assert secured.password("analytics") not in out + err
    # A second backfill rewrites the same point: still one.
    assert main(_backfill(secured)) == 0
    assert admin.count(ISPU_MEASUREMENT, GW1) == 1


def test_setup_again_changes_nothing_and_reduces_a_widened_analytics_user(
    secured: Secured, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(secured.setup_args(DB, "analytics")) == 0
    ran = [line for line in capsys.readouterr().out.splitlines() if line.startswith("ran: ")]
    assert ran == [f"ran: SET PASSWORD FOR \"{USER}\" = '***'"]  # idempotent: only the password
    assert secured.grants(USER) == {DB: "ALL PRIVILEGES"}
    # Somebody made it admin and gave it another database: set-up takes both back.
    secured.query('CREATE DATABASE "elsewhere"')
    secured.query(f'GRANT ALL PRIVILEGES TO "{USER}"')
    secured.query(f'GRANT READ ON "elsewhere" TO "{USER}"')
    assert main(secured.setup_args(DB, "analytics")) == 0
    assert secured.users()[USER] is False
    assert secured.grants(USER) == {DB: "ALL PRIVILEGES", "elsewhere": "NO PRIVILEGES"}


def test_with_read_only_the_backfill_names_the_missing_write_and_the_fix(
    secured: Secured, capsys: pytest.CaptureFixture[str]
) -> None:
    secured.query(f'GRANT READ ON "{DB}" TO "{USER}"')  # replaces ALL: READ only
    assert secured.grants(USER) == {DB: "READ"}
    capsys.readouterr()
    assert main(_backfill(secured)) == 1
    out, err = capsys.readouterr()
    assert "event=indicators_backfill_failed" in err and "Traceback" not in err
    assert f"user '{USER}' may not write to database 'jagajalan'" in err
    assert _fix(secured) in err
    assert secured.password("analytics") not in out + err
    assert secured.admin_store(DB).count(ISPU_MEASUREMENT, GW1) == 0


def test_with_read_only_the_service_says_so_keeps_passing_and_writes_once_fixed(
    secured: Secured, tmp_path: Path
) -> None:
    secured.query(f'GRANT READ ON "{DB}" TO "{USER}"')
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAGAJALAN_")}
    args = ["analytics", "run", "--influx-url", secured.url, "--influx-db", DB, "--every", "1"]
    args += ["--influx-password-file", str(secured.password_file("analytics"))]
    # RECENT is fixed when the suite imports testkit.ingest: up to 3 h before a test that
    # runs after an hour boundary, so the service looks back 4 h to reach that hour.
    args += ["--lookback", "14400"]
    log_path = tmp_path / "analytics.log"
    with log_path.open("wb") as log:
        proc = children.start(
            [sys.executable, "-m", "jagajalan.cli", *args],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: "event=indicators_pass_failed" in log_path.read_text(), 30, "a failed pass"
        )
        assert proc.poll() is None  # still running
        assert main(secured.setup_args(DB, "analytics")) == 0  # the fix the log names
        admin = secured.admin_store(DB)
        wait_for(lambda: admin.count(ISPU_MEASUREMENT, GW1) == 1, 30, "the hour written")
    finally:
        code = children.stop(proc)
    text = log_path.read_text()
    assert code == 0, text
    (first,) = [line for line in text.splitlines() if "event=indicators_store_not_ready" in line]
    assert f"user '{USER}' may not write to database 'jagajalan'" in first
    assert _fix(secured) in first
    assert "Traceback" not in text
    assert secured.password("analytics") not in text
