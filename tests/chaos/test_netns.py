"""The chaos harness's own parts, real: a namespace with its veth pair is removed whatever
happens in the test, a partition really stops traffic and healing restores it, and the relay
really delays, in order."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
import time

import pytest

from testkit import REPO
from testkit.chaos.relay import DelayRelay
from testkit.gateway import wait_until
from testkit.netns import NFT_TABLE, netns, remove_stale
from testkit.services import free_port

pytestmark = pytest.mark.chaos


def _namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout


def _links() -> str:
    return subprocess.run(["ip", "link", "show"], capture_output=True, text=True).stdout


def test_a_failing_block_still_removes_namespace_veth_and_rules() -> None:
    with pytest.raises(RuntimeError, match="the test failed"), netns("t1") as ns:
        ns.lossy(30)
        ns.shape(64)
        assert NFT_TABLE in ns.nft_ruleset()
        assert ns.name in _namespaces() and ns.host_if in _links()
        raise RuntimeError("the test failed")
    assert ns.name not in _namespaces()
    assert ns.host_if not in _links()


def test_remove_stale_clears_what_a_killed_run_left_and_spares_a_live_one() -> None:
    with netns("t2") as ns:
        assert ns.name not in remove_stale()  # this run holds it
        assert ns.name in _namespaces() and ns.host_if in _links()
    # A run SIGKILLed while it held a namespace: the kernel dropped its lock, the
    # namespace stayed.
    code = "from testkit.netns import netns; import os; n = netns('t4'); n.__enter__(); os._exit(9)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 9
    assert "jjchaost4" in _namespaces() and "jjchaost4-h" in _links()
    assert "jjchaost4" in remove_stale()
    assert "jjchaost4" not in _namespaces() and "jjchaost4-h" not in _links()


def _connect_from(ns, host: str, port: int, timeout: float) -> bool:
    code = f"import socket; socket.create_connection(({host!r}, {port}), timeout={timeout})"
    done = subprocess.run(ns.exec_args([sys.executable, "-c", code]), capture_output=True)
    return done.returncode == 0


def test_partition_stops_every_packet_and_heal_restores_the_link() -> None:
    with netns("t3") as ns:
        server = socket.create_server((ns.host_ip, 0))
        server.settimeout(0.2)
        port = server.getsockname()[1]
        accepted: list[socket.socket] = []
        done = threading.Event()

        def serve() -> None:
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    accepted.append(server.accept()[0])

        threading.Thread(target=serve, daemon=True).start()
        try:
            assert _connect_from(ns, ns.host_ip, port, 2)
            ns.partition()
            assert not _connect_from(ns, ns.host_ip, port, 3)
            ns.heal()
            assert wait_until(lambda: _connect_from(ns, ns.host_ip, port, 2), 15, step=0)
            assert wait_until(lambda: len(accepted) >= 2, 5)
        finally:
            done.set()
            server.close()
        assert len(accepted) == 2  # the connection before and the one after, none between


def test_relay_delays_every_byte_by_the_latency_in_order() -> None:
    echo = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = echo.accept()
        while data := conn.recv(4096):
            conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    relay = DelayRelay(("127.0.0.1", free_port()), echo.getsockname(), delay=0.3, jitter=0.1)
    try:
        client = socket.create_connection(("127.0.0.1", relay.port))
        sent = time.monotonic()
        for i in range(20):
            client.sendall(f"{i:02d}".encode())
        got = b""
        while len(got) < 40:
            got += client.recv(100)
        elapsed = time.monotonic() - sent
        client.close()
    finally:
        relay.close()
        echo.close()
    assert got == b"".join(f"{i:02d}".encode() for i in range(20))  # in order
    assert elapsed >= 2 * (0.3 - 0.1)  # both ways delayed
    assert relay.connections == 1
