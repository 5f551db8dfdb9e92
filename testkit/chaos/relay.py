"""A TCP relay that delays every byte by a latency with jitter, in order: the latency part of
a bad cellular link, which this kernel cannot make (no ``netem``).

It listens on one address (the host end of a test namespace's veth pair) and forwards each
connection to the broker on loopback. What arrives at time t in one direction leaves at
``max(t + delay ± jitter, when the previous chunk left)``: delayed, jittered, never
reordered (TCP would not reorder either). It answers nothing itself.
"""

from __future__ import annotations

import contextlib
import heapq
import random
import socket
import threading
import time


class DelayRelay:
    def __init__(
        self, listen: tuple[str, int], upstream: tuple[str, int], delay: float, jitter: float
    ) -> None:
        if delay < 0 or jitter < 0 or jitter > delay:
            raise ValueError(f"need 0 <= jitter <= delay, got delay={delay}, jitter={jitter}")
        self.upstream, self.delay, self.jitter = upstream, delay, jitter
        self._random = random.Random(1)
        self._server = socket.create_server(listen)
        self._closed = threading.Event()
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self.connections = 0
        threading.Thread(target=self._accept, name="delay-relay", daemon=True).start()

    @property
    def port(self) -> int:
        return self._server.getsockname()[1]

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._server.close()
        with self._lock:
            for s in self._socks:
                with contextlib.suppress(OSError):
                    s.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                broker = socket.create_connection(self.upstream, timeout=5)
                broker.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
                self._socks += [client, broker]
            for src, dst in ((client, broker), (broker, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        queue: list[tuple[float, int, bytes]] = []
        cond = threading.Condition()
        done = threading.Event()
        threading.Thread(target=self._deliver, args=(queue, cond, done, dst), daemon=True).start()
        last, n = 0.0, 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                due = time.monotonic() + self.delay + self._random.uniform(-1, 1) * self.jitter
                last = max(last, due)
                with cond:
                    n += 1
                    heapq.heappush(queue, (last, n, data))
                    cond.notify()
        except OSError:
            pass
        finally:
            with cond:
                done.set()
                cond.notify()

    def _deliver(
        self,
        queue: list[tuple[float, int, bytes]],
        cond: threading.Condition,
        done: threading.Event,
        dst: socket.socket,
    ) -> None:
        while True:
            with cond:
                while not queue and not done.is_set():
                    cond.wait(0.5)
                if not queue:
                    break  # the source closed and everything before it was delivered
                due, _, data = queue[0]
                wait = due - time.monotonic()
                if wait > 0:
                    cond.wait(wait)
                    continue
                heapq.heappop(queue)
            try:
                dst.sendall(data)
            except OSError:
                break
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
