"""Receivers of alert notifications on loopback, for the delivery tests: an HTTP webhook
receiver that checks the signature and drops duplicates by the idempotency key (as a real
integrator's would), and a real SMTP server (aiosmtpd) that keeps what it receives.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from alerts.delivery import signing
from testkit.ingest import wait_for  # noqa: F401  (re-exported for the delivery tests)
from testkit.services import free_port


@dataclass
class WebhookReceiver:
    """``POST /hook`` on 127.0.0.1:*port*: 401 for a bad signature, else 200; a key seen before
    is acknowledged again but not accepted twice. :meth:`start` and :meth:`stop` may be called
    again (a receiver that is down for a while, on the same port)."""

    secret: bytes
    port: int = field(default_factory=free_port)
    #: requests after this many are held (not answered) until :attr:`release` is set
    hold_after: int | None = None
    release: threading.Event = field(default_factory=threading.Event)
    requests: int = 0
    rejected: int = 0
    raw: Counter[str] = field(default_factory=Counter)  # key -> requests with a good signature
    accepted: dict[str, bytes] = field(default_factory=dict)  # key -> body, first one only
    headers: dict[str, dict[str, str]] = field(default_factory=dict)  # key -> its headers
    arrived: dict[str, float] = field(default_factory=dict)  # key -> time first accepted
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.requests += 1
                    number = receiver.requests
                good = signing.verify(
                    receiver.secret,
                    self.headers.get(signing.TIMESTAMP),
                    body,
                    self.headers.get(signing.SIGNATURE),
                    time.time(),
                )
                key = self.headers.get(signing.IDEMPOTENCY_KEY, "")
                with receiver.lock:
                    if not good:
                        receiver.rejected += 1
                    else:
                        receiver.raw[key] += 1
                        receiver.accepted.setdefault(key, body)
                        receiver.arrived.setdefault(key, time.time())
                        receiver.headers.setdefault(key, dict(self.headers.items()))
                if receiver.hold_after is not None and number > receiver.hold_after:
                    receiver.release.wait(120)
                self.send_response(200 if good else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self.release.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass
class Mailbox:
    """A real SMTP server (aiosmtpd) on 127.0.0.1: the messages it received, parsed.
    With *users*, AUTH LOGIN/PLAIN is offered without TLS (loopback) and checked."""

    users: dict[str, str] | None = None
    port: int = field(default_factory=free_port)
    messages: list[Message] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    _controller: Any = None

    def start(self) -> Mailbox:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        box = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                box.messages.append(message_from_bytes(envelope.original_content))
                return "250 OK"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any):  # type: ignore[no-untyped-def]
            user = auth.login.decode()
            ok = box.users is not None and box.users.get(user) == auth.password.decode()
            if ok:
                box.logins.append(user)
            return AuthResult(success=ok, handled=False)

        kwargs: dict[str, Any] = {}
        if self.users is not None:
            kwargs = {"authenticator": authenticator, "auth_require_tls": False}
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@dataclass
class SmsGateway:
    """A loopback stand-in of an SMSEagle SMS gateway (the box with a SIM card that
    ``smseagle://`` talks to): ``POST /jsonrpc/sms`` with ``sms.send_sms``, as its JSON-RPC
    API documents it. A good ``access_token`` gets ``{"result": [{"message_id": n, "status":
    "ok"}]}`` and the SMS is kept in :attr:`sent` (number, text); a wrong one gets the API's
    error result. With :attr:`failing` set, it answers as a gateway whose modem cannot send
    (``status: error``). What cannot run here is the box and the cellular network."""

    token: str
    port: int = field(default_factory=free_port)
    failing: bool = False
    sent: list[tuple[str, str]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SmsGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    call = json.loads(body)
                    params = call["params"]
                except (ValueError, KeyError, TypeError):
                    self._answer(400, {"error": "bad request"})
                    return
                with gateway.lock:
                    gateway.requests.append(call)
                if self.path != "/jsonrpc/sms" or call.get("method") != "sms.send_sms":
                    self._answer(404, {"result": {"error_text": "unknown", "status": "error"}})
                elif params.get("access_token") != gateway.token:
                    error = {"error_text": "Invalid login or password", "status": "error"}
                    self._answer(200, {"result": error})
                elif gateway.failing:
                    self._answer(200, {"result": {"error_text": "modem", "status": "error"}})
                else:
                    with gateway.lock:
                        numbers = str(params.get("to", "")).split(",")
                        gateway.sent += [(n, str(params.get("message", ""))) for n in numbers]
                        first = len(gateway.sent)
                    result = [
                        {"message_id": first + i, "status": "ok"} for i in range(len(numbers))
                    ]
                    self._answer(200, {"result": result})

            def _answer(self, status: int, content: dict[str, Any]) -> None:
                data = json.dumps(content).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
