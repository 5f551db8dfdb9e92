"""Speed-ups of paho-mqtt 2.2.0 for ingest's hot path: PUBLISH properties, reads and acks.

paho builds a :class:`~paho.mqtt.properties.Properties` object for every MQTT 5 PUBLISH it
receives: the constructor rebuilds two lookup tables and ``unpack()`` first clears each of
the 27 property names with a ``str.replace`` and a ``hasattr``. Profiled on the ingest worker
(single-reading messages), that was about a third of paho's time per received message.

:class:`FastProperties` is a ``Properties`` that shares the (never modified) tables of one
prototype, and whose ``unpack()`` returns at once when the packet carries no properties (the
property length is a single 0 byte, as in every PUBLISH Mosquitto forwards from a gateway);
any other packet goes through paho's own code. :func:`install` swaps it into paho's packet
decoder, for paho-mqtt 2.2.0 only (the version it was checked against: tests assert the
decoded packets are equal). It changes how paho decodes, in this process, nothing else.

:func:`tune` changes one client (same version check):

* Reads: paho takes every packet from the socket in three or four ``recv`` calls (the type
  byte, the length bytes one by one, the rest), one packet per turn of its loop (a
  ``select``, the keepalive check, ...). :class:`BufferedSocket` reads up to
  :data:`RECV_SIZE` bytes at once and hands them out; it reports what it holds through
  ``pending()``, which paho already asks of a TLS socket so that ``select`` does not wait
  while data is buffered; and ``loop_read`` takes up to :data:`READ_BATCH` more packets that
  are already buffered in the same turn.
* PUBLISH packets (with ``direct=True``): paho turns a received PUBLISH into an
  ``MQTTMessage`` through about 20 Python calls (reading the header byte by byte, three
  ``struct.unpack`` copies of the payload, the properties, the topic matcher, a debug log
  call). :func:`_direct_publishes` takes every *complete* QoS 1 PUBLISH already buffered, with
  no DUP or RETAIN flag, no properties and a UTF-8 topic (what Mosquitto forwards from a
  gateway), straight from the buffer and hands ``on_message`` a :class:`Publish` with the
  same topic, payload, mid and QoS, under paho's callback lock, as paho would; with manual
  acks paho does nothing else for such a packet. Anything else (another packet type, flags,
  properties, a packet not yet whole) is left to paho's own code, from the same buffer. A
  *bulk* callback (ingest's ``IngestService._take``) is offered the buffer first, under the
  same lock: it takes as many of these packets as it can at once, and the one it stops
  before goes to ``on_message`` as above.
* Acks: :func:`ack_many` queues the PUBACKs of many messages as one write (one ``send``, one
  wake-up of paho's loop) instead of one packet each. The bytes are the same: paho's PUBACK
  is ``0x40 0x02`` and the message id, also in MQTT 5 (reason code 0 and no properties).
"""

from __future__ import annotations

import logging
import ssl
import struct
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any, ClassVar

import paho.mqtt.client as mqtt
from paho.mqtt import _packet
from paho.mqtt.properties import Properties

log = logging.getLogger(__name__)

CHECKED_VERSION = "2.2.0"


class FastProperties(Properties):
    _prototypes: ClassVar[dict[int, Properties]] = {}

    def __init__(self, packetType: int) -> None:
        proto = FastProperties._prototypes.get(packetType)
        if proto is None:
            proto = FastProperties._prototypes[packetType] = Properties(packetType)
        # packetType, types, names, properties: read-only tables, shared
        self.__dict__.update(proto.__dict__)

    def unpack(self, buffer):
        if buffer[:1] == b"\x00":  # property length 0: nothing to clear, nothing to read
            return self, 1
        return super().unpack(buffer)


def _checked() -> bool:
    try:
        version = metadata.version("paho-mqtt")
    except metadata.PackageNotFoundError:
        version = "unknown"
    if version != CHECKED_VERSION:
        log.info("event=paho_speedup_skipped paho_version=%s", version)
        return False
    return True


def install() -> bool:
    """Use :class:`FastProperties` in paho's packet decoding. Returns False (and changes
    nothing) for a paho-mqtt version other than the one this was checked against."""
    if not _checked():
        return False
    _packet.Properties = FastProperties
    return True


#: Bytes asked of the socket at once (a few hundred single-reading messages, or nine batches
#: of 50). Not more: ``recv`` allocates that much first, and above glibc's mmap threshold
#: (128 KiB) every read costs fresh pages: ``recv(256 KiB)`` of 200 KB measured 110-230 us
#: here, ``recv(64 KiB)`` for the same bytes 40-50 us.
RECV_SIZE = 64 * 1024
#: Packets read from the buffer in one turn of paho's loop, at most (then it writes the acks
#: queued meanwhile, checks the keepalive, ...).
READ_BATCH = 64


class BufferedSocket:
    """A socket (plain or TLS) whose ``recv`` reads ahead; everything else is the socket's."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0
        self._ended: OSError | bool = False  # what fill() met: paho's next recv() gets it

    def recv(self, size: int) -> bytes:
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            if self._ended is not False:
                ended, self._ended = self._ended, False
                if ended is True:
                    return b""  # connection closed
                raise ended
            buf = self._sock.recv(max(size, RECV_SIZE))  # BlockingIOError: nothing there yet
            if not buf:
                return buf  # connection closed
            self._buf, pos = buf, 0
        end = min(pos + size, len(buf))
        self._pos = end
        return buf[pos:end]

    def fill(self) -> bool:
        """Read more after what is buffered (a packet cut by the end of the last read), keeping
        what was not handed out yet; False if nothing more came now. The end of the stream, or
        an error, is kept for the next :meth:`recv` once the buffer is empty (paho's)."""
        if self._ended is not False:
            return False
        try:
            more = self._sock.recv(RECV_SIZE)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        except OSError as exc:
            self._ended = exc
            return False
        if not more:
            self._ended = True
            return False
        self._buf = self._buf[self._pos :] + more
        self._pos = 0
        return True

    def pending(self) -> int:
        """Bytes received and not yet handed out (paho then reads without waiting)."""
        inner = getattr(self._sock, "pending", None)
        return len(self._buf) - self._pos + (inner() if inner is not None else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class Publish:
    """What ``on_message`` reads of a QoS 1 PUBLISH taken by :func:`_direct_publishes`: the
    attributes of paho's ``MQTTMessage`` of the same packet (flags clear, no properties)."""

    __slots__ = ("mid", "payload", "topic")
    qos = 1
    dup = False
    retain = False
    properties = None

    def __init__(self, topic: str, payload: bytes, mid: int) -> None:
        self.topic, self.payload, self.mid = topic, payload, mid


_QOS1_PUBLISH = 0x32  # PUBLISH, QoS 1, no DUP, no RETAIN


def _direct_publishes(
    client: mqtt.Client, sock: BufferedSocket, hold: Any, bulk: Bulk | None = None
) -> int:
    """Hand every whole, plain QoS 1 PUBLISH at the head of *sock*'s buffer to
    ``client.on_message`` (see the module's doc), or first to *bulk*, many at once; stops at
    anything else, which paho reads. Returns how many it took."""
    buf, pos = sock._buf, sock._pos
    end, taken = len(buf), 0
    on_message, userdata, lock = client.on_message, client._userdata, client._in_callback_mutex
    while pos < end and buf[pos] == _QOS1_PUBLISH and on_message is not None:
        if hold is not None and taken and hold(0):
            break
        if bulk is not None:
            with lock:
                try:
                    pos, took = bulk(buf, pos)
                except Exception as err:
                    client._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in bulk: %s", err)
                    if not client.suppress_exceptions:
                        raise
                    took = 0
            if took:
                sock._pos = pos
                taken += took
                continue
        i, length, shift = pos + 1, 0, 0
        while i < end and i - pos <= 4:  # remaining length: 1 to 4 bytes
            byte = buf[i]
            i += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        else:  # not all there yet (read more), or malformed: paho's code decides
            if i - pos > 4 or not sock.fill():
                break
            buf, pos = sock._buf, sock._pos
            end = len(buf)
            continue
        if length < 5:
            break
        if i + length > end:  # cut by the end of the last read: read the rest if it is there
            if length > RECV_SIZE or not sock.fill():
                break
            buf, pos = sock._buf, sock._pos
            end = len(buf)
            continue
        topic_end = i + 2 + (buf[i] << 8 | buf[i + 1])
        if topic_end == i + 2 or topic_end + 3 > i + length or buf[topic_end + 2] != 0:
            break  # no topic, properties, or lengths that do not add up: paho's code
        mid = buf[topic_end] << 8 | buf[topic_end + 1]
        try:
            topic = buf[i + 2 : topic_end].decode()
        except UnicodeDecodeError:
            break
        if mid == 0:
            break
        message = Publish(topic, buf[topic_end + 3 : i + length], mid)
        pos = sock._pos = i + length
        taken += 1
        with lock:
            try:
                on_message(client, userdata, message)
            except Exception as err:
                client._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in on_message: %s", err)
                if not client.suppress_exceptions:
                    raise
    if taken:
        with client._msgtime_mutex:
            client._last_bytes_received = time.monotonic()  # paho's time_func
    return taken


#: ``bulk(buf, pos) -> (pos, taken)``: takes whole PUBLISH packets from offset *pos* of the
#: receive buffer *buf*, many at once, and says where it stopped and how many it took
#: (ingest/service.py's ``_take``); the packet it stopped before goes to ``on_message``.
Bulk = Callable[[bytes, int], tuple[int, int]]


def tune(
    client: mqtt.Client,
    hold: Callable[[float], bool] | None = None,
    direct: bool = False,
    bulk: Bulk | None = None,
) -> bool:
    """Buffered reads and bulk acks (:func:`ack_many`) for *client*, before it connects; with
    *hold*, reads held back while it says so (``hold(timeout)``: True = hold, after waiting
    at most *timeout* seconds for that to change; :func:`_held`); with *direct*, plain QoS 1
    PUBLISH packets go to ``on_message`` without paho's decoding (:func:`_direct_publishes`:
    only for a client with manual acks, MQTT 5 and no per-topic callbacks), and first to
    *bulk*, if given, many at once. Returns False (and changes nothing) for another paho-mqtt
    version."""
    if not _checked():
        return False
    create = client._create_socket

    def create_buffered() -> BufferedSocket:
        return BufferedSocket(create())

    client._create_socket = create_buffered  # type: ignore[method-assign]
    read = client.loop_read

    def loop_read_buffered(max_packets: int = 1) -> mqtt.MQTTErrorCode:
        # paho reads one packet per turn of its loop (a select and its other checks each);
        # take up to READ_BATCH packets that are already buffered in one turn.
        if hold is not None and _held(client, hold, 0.05):
            return mqtt.MQTT_ERR_SUCCESS
        rc = read(max_packets)
        for _ in range(READ_BATCH):
            sock = client._sock
            pending = getattr(sock, "pending", None)
            if rc != mqtt.MQTT_ERR_SUCCESS or pending is None or not pending():
                break
            if hold is not None and hold(0):
                break
            if (
                fast
                and client._in_packet["command"] == 0
                and _direct_publishes(client, sock, hold, bulk)
            ):
                continue
            rc = read(max_packets)
        return rc

    fast = direct and client._manual_ack and client._protocol == mqtt.MQTTv5

    client.loop_read = loop_read_buffered  # type: ignore[method-assign]
    client._jagajalan_bulk_ack = True  # type: ignore[attr-defined]
    return True


def _held(client: mqtt.Client, hold: Callable[[float], bool], timeout: float) -> bool:
    """True if *hold* says not to read now (the worker holds its memory budget's worth).

    paho calls ``loop_read`` when the socket has bytes to read; they stay in the socket (and,
    once its buffer is full, in the broker, which TCP then slows down), while paho's loop goes
    on writing (acknowledgements free the budget) and keeping the connection alive: it still
    sends PINGREQ every keepalive. Its PINGRESP waits behind the unread messages, so the
    broker's answer is taken to be the bytes waiting in the socket: they are proof that it
    sent, and the check that it still answers resumes with the reading."""
    if not hold(timeout):
        return False
    with client._msgtime_mutex:
        client._last_bytes_received = time.monotonic()  # paho's time_func
    return True


def ack_many(client: mqtt.Client, mids: Sequence[int]) -> None:
    """``client.ack(mid, 1)`` for every mid (manual acks), queued as one write when
    :func:`tune` was applied to *client*. Like ``client.ack`` it queues on whatever connection
    the client has by the time the queue is written: the caller passes only ids received on
    the current connection, and makes that check and this call one step against the
    client's reconnection (``IngestService._acknowledge``); both paths go through paho's
    ``_packet_queue``, which ``reconnect()`` empties."""
    if not mids:
        return
    if not getattr(client, "_jagajalan_bulk_ack", False):
        for mid in mids:
            client.ack(mid, 1)
        return
    if not client._manual_ack:
        return  # paho acknowledged them itself (ack() does nothing either)
    packet = struct.pack(f"!{len(mids)}I", *[0x4002_0000 | mid for mid in mids])
    client._packet_queue(mqtt.PUBACK, packet, 0, 1)
