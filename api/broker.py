"""Is the MQTT broker up? A real MQTT handshake, cheap enough for every ``/health`` call.

:func:`mqtt_reachable` opens a TCP (or TLS, for ``mqtts://``) connection, sends a bare MQTT
3.1.1 CONNECT (clean session, no credentials) and waits for the CONNACK, then sends DISCONNECT.
*Any* CONNACK counts, also "not authorised": a broker that refuses anonymous clients is up and
answering MQTT, which is what health wants to know. A port that accepts TCP but does not speak
MQTT (or a dead broker) is not reachable. No paho client and no network thread are needed for
this, and no credentials are handled. The client id is ``api.health.<8 hex>``, new for every
check: it never takes over another client's session, and it follows the broker's rule for
user ``api`` (a client of user U connects as U or ``U.<anything>``).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import ssl
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


def health_client_id(username: str = "api") -> str:
    return f"{username}.health.{secrets.token_hex(4)}"


def _connect_packet(client_id: str) -> bytes:
    cid = client_id.encode()
    variable = b"\x00\x04MQTT" + b"\x04" + b"\x02" + (10).to_bytes(2, "big")  # 3.1.1, clean
    payload = len(cid).to_bytes(2, "big") + cid
    body = variable + payload  # < 128 bytes: a one-byte remaining length
    return bytes([0x10, len(body)]) + body


def mqtt_reachable(url: str, timeout: float = 2.0, ca_file: str | None = None) -> bool:
    """True if an MQTT broker answers a CONNECT at *url* (``mqtt://host:port``/``mqtts://``)."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an MQTT URL (mqtt://host:port or mqtts://host:port): {url!r}")
    port = parts.port or _DEFAULT_PORTS[parts.scheme]
    try:
        sock: socket.socket = socket.create_connection((parts.hostname, port), timeout=timeout)
    except OSError:
        return False
    try:
        if parts.scheme == "mqtts":
            context = ssl.create_default_context(cafile=ca_file)
            sock = context.wrap_socket(sock, server_hostname=parts.hostname)
        sock.sendall(_connect_packet(health_client_id()))
        answer = b""
        while len(answer) < 4:
            chunk = sock.recv(4 - len(answer))
            if not chunk:
                return False
            answer += chunk
        ok = answer[0] == 0x20 and answer[1] == 0x02  # CONNACK, remaining length 2
        if ok:
            with contextlib.suppress(OSError):
                sock.sendall(b"\xe0\x00")  # DISCONNECT
        return ok
    except OSError:  # also ssl.SSLError and socket.timeout
        return False
    finally:
        sock.close()
