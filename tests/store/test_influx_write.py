"""InfluxStore's write path (store/influx_write.py: httpcore, not httpx's client): the request
it sends, the failures it names, and that writes and queries reach InfluxDB the same way.
A loopback receiver shows what was sent; a real influxd with auth checks the credentials."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import httpx
import pytest

from store.base import StoreUnavailable
from store.influx import InfluxStore
from telemetry.line_block import LineBlock
from testkit.ingest import T0, Receiver
from testkit.services import free_port, influxd

LINE = f"air_quality,gateway=gw-a,sensor=env1 pm25=1.5 {T0}"


def test_a_write_is_one_post_with_its_parameters_and_credentials_in_headers() -> None:
    with Receiver(status=204) as receiver:
        store = InfluxStore(receiver.url, "db 1", username="üser", password="pa:ss wörd")
        store.write_lines(LineBlock.of([LINE, LINE]))
        receiver.status, receiver.answer = 200, b'{"results":[{"statement_id":0}]}'
        store.ensure()
        store.close()
    write, query = receiver.requests
    assert (write.method, write.path, write.params) == (
        "POST",
        "/write",
        {
            "db": ["db 1"],
            "precision": ["ms"],
        },
    )
    assert write.body == f"{LINE}\n{LINE}".encode()
    assert write.headers["content-length"] == str(len(write.body))
    assert write.headers["user-agent"] == "jagajalan"
    # the same Basic header as httpx.BasicAuth writes, on writes and queries alike
    expected = httpx.BasicAuth("üser", "pa:ss wörd")
    request = next(expected.auth_flow(httpx.Request("GET", "http://x")))
    assert write.headers["authorization"] == request.headers["authorization"]
    assert query.headers["authorization"] == write.headers["authorization"]
    assert "u" not in write.params and "p" not in write.params


def test_an_empty_block_sends_nothing_and_check_write_sends_an_empty_body() -> None:
    with Receiver(status=204) as receiver:
        store = InfluxStore(receiver.url, "db1")
        store.write_lines(LineBlock.of([]))
        store.check_write()
    (only,) = receiver.requests
    assert (only.path, only.body) == ("/write", b"")


def test_writes_and_queries_ignore_proxies_named_by_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """InfluxDB is reached directly: an HTTP_PROXY set for other programs (here one that
    nothing listens on) must not take the store's requests, writes or queries."""
    dead = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with Receiver(status=204) as receiver:
        store = InfluxStore(receiver.url, "db1")
        store.write_lines([LINE])
        receiver.status, receiver.answer = 200, b'{"results":[{"statement_id":0}]}'
        assert store.count("air_quality") == 0
    assert [r.path for r in receiver.requests] == ["/write", "/query"]


def test_a_write_that_gets_no_answer_in_time_is_unavailable() -> None:
    """A server that takes the connection and never answers (a hung InfluxDB)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        held: list[socket.socket] = []
        threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
        store = InfluxStore(f"http://127.0.0.1:{server.getsockname()[1]}", "db1", timeout=0.3)
        with pytest.raises(StoreUnavailable, match="did not answer in time"):
            store.write_lines([LINE])
        for conn in held:
            conn.close()


def test_a_connection_closed_by_the_server_is_unavailable_then_the_next_write_reconnects(
    tmp_path: Path,
) -> None:
    """influxd stopped between two writes (the pool holds a kept-alive connection to it), then
    started again on the same port: the write in between fails as unavailable (the writer
    retries it), the one after goes through on a new connection."""
    with influxd(tmp_path / "influx") as server:
        store = InfluxStore(server.url, "db1")
        store.ensure()
        store.write_lines([LINE])
        server.stop()
        with pytest.raises(StoreUnavailable, match="unreachable"):
            store.write_lines([LINE])
        server.start()
        store.write_lines(LineBlock.of([LINE.replace("1.5", "2.5")]))
        assert store.count("air_quality") == 1
        store.close()
