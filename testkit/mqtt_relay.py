"""A TCP relay between one MQTT client and a real broker that sees every packet crossing it.

It records, per client connection (numbered 1, 2, ... in the order accepted), the packet ids
of the QoS 1/2 PUBLISH packets the broker delivered to the client, and of the PUBACKs the
client sent. It can drop the client's connection (as a broken mobile link or a broker
restart would) and hold back what the broker sends on the next connections, its CONNACK
first, until released: that keeps a reconnected client between sending CONNECT and learning
it is connected for as long as a test needs. The relay answers nothing itself; every byte
comes from the client or the broker, unchanged.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field

PUBLISH, PUBACK = 3, 4


@dataclass(frozen=True)
class Event:
    conn: int  # 1 = the first client connection through the relay
    kind: str  # "publish" (broker to client, QoS > 0) or "puback" (client to broker)
    mid: int  # the packet id
    dup: bool = False  # PUBLISH with the DUP flag: a redelivery


def split_packets(buf: bytearray) -> list[bytes]:
    """Remove and return the complete MQTT packets at the start of *buf*."""
    out: list[bytes] = []
    while len(buf) >= 2:
        length, mult, pos = 0, 1, 1
        while True:
            if pos >= len(buf):
                return out  # the length bytes are not all here yet
            digit = buf[pos]
            length += (digit & 0x7F) * mult
            mult *= 128
            pos += 1
            if not digit & 0x80:
                break
        if len(buf) < pos + length:
            return out
        out.append(bytes(buf[: pos + length]))
        del buf[: pos + length]
    return out


def _header_length(packet: bytes) -> int:
    pos = 1
    while packet[pos] & 0x80:
        pos += 1
    return pos + 1


@dataclass
class _Conn:
    number: int
    client: socket.socket
    broker: socket.socket
    holding: bool
    held: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        for sock in (self.client, self.broker):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class Relay:
    """Listens on a free loopback port and relays each connection to the broker's port."""

    def __init__(self, broker_port: int) -> None:
        self.broker_port = broker_port
        self.events: list[Event] = []
        self.hold_new = False  # hold what the broker sends on connections accepted from now on
        self._lock = threading.Lock()
        self._conns: list[_Conn] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._conns)

    def of(self, conn: int, kind: str) -> list[Event]:
        with self._lock:
            return [e for e in self.events if e.conn == conn and e.kind == kind]

    def drop(self) -> None:
        """Close the newest client connection (both sides), as a broken link would."""
        with self._lock:
            conn = self._conns[-1]
        conn.close()

    def release(self) -> None:
        """Send what was held back, and stop holding (also for later connections)."""
        self.hold_new = False
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with conn.lock:
                for packet in conn.held:
                    self._to_client(conn, packet)
                conn.held.clear()
                conn.holding = False

    def violations(self) -> list[Event]:
        """PUBACKs that answer no PUBLISH delivered on the same connection (and not already
        acknowledged there): an acknowledgement of some other message, or of nothing."""
        outstanding: dict[int, set[int]] = {}
        bad: list[Event] = []
        with self._lock:
            events = list(self.events)
        for e in events:
            ids = outstanding.setdefault(e.conn, set())
            if e.kind == "publish":
                ids.add(e.mid)
            elif e.mid in ids:
                ids.remove(e.mid)
            else:
                bad.append(e)
        return bad

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            conn.close()

    # -- relaying ---------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            broker = socket.create_connection(("127.0.0.1", self.broker_port))
            for sock in (client, broker):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                conn = _Conn(len(self._conns) + 1, client, broker, self.hold_new)
                self._conns.append(conn)
            threading.Thread(target=self._pump_up, args=(conn,), daemon=True).start()
            threading.Thread(target=self._pump_down, args=(conn,), daemon=True).start()

    def _pump_up(self, conn: _Conn) -> None:
        """Client to broker: note PUBACKs, pass everything on."""
        buf = bytearray()
        while chunk := self._recv(conn.client):
            buf += chunk
            for packet in split_packets(buf):
                if packet[0] >> 4 == PUBACK:
                    at = _header_length(packet)
                    mid = int.from_bytes(packet[at : at + 2], "big")
                    self._record(Event(conn.number, "puback", mid))
                if not self._send(conn.broker, packet):
                    break
        conn.close()

    def _pump_down(self, conn: _Conn) -> None:
        """Broker to client: hold back while asked to, note QoS > 0 PUBLISH packets."""
        buf = bytearray()
        while chunk := self._recv(conn.broker):
            buf += chunk
            for packet in split_packets(buf):
                with conn.lock:
                    if conn.holding:
                        conn.held.append(packet)
                    else:
                        self._to_client(conn, packet)
        conn.close()

    def _to_client(self, conn: _Conn, packet: bytes) -> None:
        first = packet[0]
        if first >> 4 == PUBLISH and (first >> 1) & 3:
            at = _header_length(packet)
            topic_length = int.from_bytes(packet[at : at + 2], "big")
            at += 2 + topic_length
            mid = int.from_bytes(packet[at : at + 2], "big")
            self._record(Event(conn.number, "publish", mid, bool(first & 0x08)))
        self._send(conn.client, packet)

    def _record(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    @staticmethod
    def _recv(sock: socket.socket) -> bytes:
        try:
            return sock.recv(65536)
        except OSError:
            return b""

    @staticmethod
    def _send(sock: socket.socket, data: bytes) -> bool:
        try:
            sock.sendall(data)
            return True
        except OSError:
            return False
