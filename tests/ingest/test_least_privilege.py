"""Ingest with the least privilege, on a real InfluxDB 1.6 with ``auth-enabled = true``: its
user holds exactly what store.privileges grants it (WRITE on the database), made by the real
``jagajalan store setup`` as an admin.

Before the fix (layout commit c457a78) the first test failed: with a WRITE-only user, ingest
sent ``CREATE DATABASE`` before its first write, InfluxDB answered 403, and the writer retried
"refused the credentials (HTTP 403)" forever without acknowledging anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jagajalan.cli import main
from store import StoreNotReady
from telemetry import topics
from testkit.influx_setup import Secured
from testkit.ingest import (
    RECENT,
    Publisher,
    batch_bytes,
    ingest_args,
    metric,
    scrape,
    start_ingest,
    stop_process,
    wait_for,
    wait_subscribed,
)
from testkit.services import Mosquitto, free_port, influxd

pytestmark = pytest.mark.services

DB = "jagajalan"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    with influxd(tmp_path / "influx", auth=True) as server:
        s = Secured(server, tmp_path / "secrets")
        s.create_admin()
        yield s


def _ingest(broker: Mosquitto, secured: Secured, port: int, log: Path):
    args = ingest_args(broker, secured.url, DB, port, "--retry-max-delay", "0.5")
    args += ["--influx-username", "jagajalan_ingest"]
    args += ["--influx-password-file", str(secured.password_file("ingest"))]
    return start_ingest(*args, log=log)


def _acked(port: int, n: int) -> bool:
    return metric(scrape(port), "jagajalan_ingest_messages_acked_total") == n


def test_the_write_only_user_writes_and_acknowledges_and_cannot_read(
    tmp_path: Path, broker: Mosquitto, secured: Secured
) -> None:
    assert main(secured.setup_args(DB, "ingest", "api")) == 0
    port, log = free_port(), tmp_path / "ingest.log"
    proc = _ingest(broker, secured, port, log)
    pub = Publisher(broker.port)
    try:
        wait_subscribed(proc, port, log)
        for seq in range(3):
            pub.send(topics.readings("gw-lp"), batch_bytes("gw-lp", seq, RECENT + seq * 1000))
        wait_for(lambda: _acked(port, 3), 20, "3 batches acknowledged")
        reader = secured.store("api", DB)
        assert reader.count("gateway_batches", "gw-lp") == 3
        assert reader.count("traffic", "gw-lp") == 6
        # The same login ingest holds may not read.
        writer = secured.store("ingest", DB)
        with pytest.raises(StoreNotReady, match="may not read database 'jagajalan'") as info:
            writer.latest()
        assert info.value.missing == "read"
    finally:
        pub.close()
        code = stop_process(proc)
    text = log.read_text()
    assert code == 0, text
    assert "event=store_ready database=jagajalan user=jagajalan_ingest: writing" in text
    assert "event=store_not_ready" not in text and "event=retry" not in text
    assert secured.password("ingest") not in text


def test_without_the_database_ingest_says_so_and_writes_once_it_is_set_up(
    tmp_path: Path, broker: Mosquitto, secured: Secured
) -> None:
    """The user exists (an earlier set-up) but the database is gone, e.g. InfluxDB's data
    was reset: ingest names what is missing and the fix, holds the message unacknowledged,
    and writes it once an admin has run `store setup` again, without a restart."""
    assert main(secured.setup_args(DB, "ingest")) == 0
    secured.query(f'DROP DATABASE "{DB}"')  # its grants go with it
    port, log = free_port(), tmp_path / "ingest.log"
    proc = _ingest(broker, secured, port, log)
    pub = Publisher(broker.port)
    try:
        wait_subscribed(proc, port, log)
        wait_for(lambda: "event=store_not_ready" in log.read_text(), 10, "the missing database")
        pub.send(topics.readings("gw-lp"), batch_bytes("gw-lp", 1, RECENT))
        wait_for(
            lambda: metric(scrape(port), "jagajalan_ingest_write_retries_total") >= 3,
            10,
            "write retries",
        )
        m = scrape(port)
        assert metric(m, "jagajalan_ingest_messages_acked_total") == 0
        assert metric(m, "jagajalan_ingest_unacked_messages") == 1
        assert main(secured.setup_args(DB, "ingest")) == 0
        wait_for(lambda: _acked(port, 1), 20, "the batch acknowledged after the set-up")
        assert secured.admin_store(DB).count("gateway_batches", "gw-lp") == 1
    finally:
        pub.close()
        code = stop_process(proc)
    text = log.read_text()
    assert code == 0, text
    (first, *_) = [line for line in text.splitlines() if "event=store_not_ready" in line]
    assert (
        "event=store_not_ready database=jagajalan user=jagajalan_ingest missing=database: "
        f"InfluxDB at {secured.url}: database 'jagajalan' does not exist; ingest needs WRITE on "
        f"'jagajalan'; fix: jagajalan store setup --influx-url {secured.url} --influx-db "
        "jagajalan --admin-username <admin> --admin-password-file <file> --ingest-password-file "
        "<file holding ingest's password> (waiting: nothing is acknowledged until then)"
    ) in first
    assert text.count("event=store_not_ready") <= 2  # once a problem, not once a retry
    assert "event=store_ready database=jagajalan user=jagajalan_ingest: writing" in text
    assert secured.password("ingest") not in text
