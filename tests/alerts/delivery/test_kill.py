"""Killing the sender in the middle of sending loses nothing and duplicates nothing at the
webhook: a real sender process (jagajalan alerts send, started through testkit/children.py)
is SIGKILLed while the receiver holds a request it has already received; a second sender
retries it after the lease with the same idempotency key, and the receiver, which checks the
key, accepts every notification exactly once. The children log at DEBUG with every secret
configured (webhook HMAC key, SMTP password, Telegram bot token): none of them is in the logs."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

from alerts.delivery import outbox
from alerts.delivery.compose import Notice, Place, Recipient, messages
from alerts.rules.engine import Event
from registry import db
from testkit import children
from testkit.receivers import Mailbox, WebhookReceiver, wait_for
from tests.registry.conftest import Database

WEBHOOK_SECRET = "whsec-kill-test-88c1d0"
SMTP_PASSWORD = "smtp-kill-test-Pa55-31"
BOT_TOKEN = "987654321:AAKillTestBotToken-secret_x"
N = 10


def secret_file(folder: Path, name: str, value: str) -> Path:
    path = folder / name
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


def sender(database: Database, tmp_path: Path, worker: str, box: Mailbox) -> subprocess.Popen:
    log = (tmp_path / f"{worker}.log").open("wb")
    env = dict(os.environ)
    # Telegram's API is out of reach here: its HTTPS goes to a proxy where nothing listens
    env["HTTPS_PROXY"] = env["HTTP_PROXY"] = f"http://127.0.0.1:{WebhookReceiver(b'').port}"
    env["NO_PROXY"] = "127.0.0.1"
    args = [
        sys.executable,
        "-m",
        "jagajalan.cli",
        "--log-level",
        "DEBUG",
        "alerts",
        "send",
        *database.options,
        "--worker",
        worker,
        "--poll-s",
        "0.05",
        "--lease-s",
        "3",
        "--retry-base-s",
        "0.2",
        "--retry-cap-s",
        "1",
        "--webhook-secret-file",
        str(secret_file(tmp_path, "webhook", WEBHOOK_SECRET)),
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(box.port),
        "--smtp-security",
        "none",
        "--smtp-username",
        "alerts",
        "--smtp-from",
        "alerts@pu.sarolangun.go.id",
        "--smtp-password-file",
        str(secret_file(tmp_path, "smtp", SMTP_PASSWORD)),
        "--telegram-bot-token-file",
        str(secret_file(tmp_path, "telegram", BOT_TOKEN)),
    ]
    return children.start(args, stdout=log, stderr=subprocess.STDOUT, env=env)


def test_killed_while_sending_loses_nothing_and_duplicates_nothing(
    database: Database, tmp_path: Path
) -> None:
    db.upgrade(database.engine)
    engine = database.engine
    receiver = WebhookReceiver(WEBHOOK_SECRET.encode(), hold_after=4).start()
    box = Mailbox(users={"alerts": SMTP_PASSWORD}).start()
    t0 = dt.datetime(2026, 1, 14, 2, 0, tzinfo=dt.UTC).timestamp()
    place = Place("pasar-sarolangun", "Pasar Sarolangun", "Jalan Lintas Sumatera")
    hook = Recipient("webhook", receiver.url)
    for i in range(N):
        event = Event(
            "banjir",
            "srl-pasar-01",
            "lvl1",
            "raised",
            "hati_hati",
            "normal",
            True,
            "warning",
            t0 + 60 * i,
            12.0,
        )
        notice = Notice(event, {"id": "Genangan di jalan"}, place, "cm")
        extra = [Recipient("email", "ops@pu.sarolangun.go.id"), Recipient("telegram", "-100")]
        outbox.enqueue(
            engine,
            messages(notice, [hook, *(extra if i == 0 else [])], None),
            dt.datetime.now(dt.UTC),
        )
    first = sender(database, tmp_path, "alerts-1", box)
    second = None
    try:
        wait_for(lambda: receiver.requests >= 5, 60, "the fifth webhook request, held")
        children.signal_group(first, signal.SIGKILL)
        assert first.wait(10) == -signal.SIGKILL
        held = [k for k, n in receiver.raw.items() if n == 1][-1]
        receiver.release.set()  # the held request's sender is dead: nobody records it
        assert len(receiver.accepted) == 5
        (unknown,) = [a for a in outbox.attempts(engine, held) if a.outcome is None]
        assert unknown.worker == "alerts-1"
        second = sender(database, tmp_path, "alerts-2", box)
        wait_for(lambda: len(receiver.accepted) == N and box.messages, 60, "every notification")
        wait_for(
            lambda: outbox.counts(engine)["sent"] == N + 1, 30, "the outbox recording them sent"
        )
        wait_for(
            lambda: any(
                a.outcome == "failed"
                for a in outbox.attempts(engine, limit=1000)
                if a.channel == "telegram"
            ),
            30,
            "telegram's failure recorded",
        )
    finally:
        for proc in (first, second):
            if proc is not None:
                children.stop(proc)
        receiver.stop()
        box.stop()
    # every notification accepted once; the one in flight at the kill reached the receiver
    # twice, and the receiver dropped the second by its key
    assert len(receiver.accepted) == N
    assert receiver.raw[held] == 2
    assert sum(receiver.raw.values()) == N + 1 and receiver.rejected == 0
    assert [(a.worker, a.outcome) for a in outbox.attempts(engine, held)] == [
        ("alerts-2", "sent"),
        ("alerts-1", None),
    ]
    (mail,) = box.messages
    assert "Genangan di jalan di Pasar Sarolangun" in mail.get_payload(decode=True).decode()
    logs = b"".join((tmp_path / f"{w}.log").read_bytes() for w in ("alerts-1", "alerts-2"))
    assert b"sent by webhook" in logs and b"not sent by telegram" in logs
    for secret in (WEBHOOK_SECRET, SMTP_PASSWORD, BOT_TOKEN, BOT_TOKEN.split(":")[1]):
        assert secret.encode() not in logs
