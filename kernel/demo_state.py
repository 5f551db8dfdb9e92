"""What a running `jagajalan demo` publishes about itself, and how other commands find it.

The demo may not get the ports it prefers (a system Mosquitto already on 1883 is common), so
commands a newcomer copies from the README must not hard-code them. While it runs, the demo
keeps ``<dir>/demo.json`` (default ``var/demo/demo.json``, or ``$JAGAJALAN_DEMO_DIR``)::

    {"pid": 4242, "broker_url": "mqtt://127.0.0.1:40123", "api_url": "http://127.0.0.1:8000",
     "dir": "/home/me/jagajalan/var/demo", "scenario": "first_rains", "gateways": [...]}

and removes it when it stops. A file whose process is gone (the demo was killed) counts as no
demo. :func:`resolve_broker_url` turns a command's ``--broker-url`` into a URL plus a notice
for the person running it:

- ``demo``: the running demo's broker, or :class:`NoDemo` saying how to start one;
- nothing given: ``$JAGAJALAN_BROKER_URL``, else the running demo's broker (announced), else
  ``mqtt://127.0.0.1:1883``;
- an explicit URL while a demo runs on another broker: used, with a warning that what it
  publishes will not reach the demo's API (never silently elsewhere).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kernel.process import pid_alive
from kernel.text import Said

FILE_NAME = "demo.json"
DEFAULT_DIR = Path("var/demo")
DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
#: The value of ``--broker-url`` that means "the running demo's broker".
DEMO = "demo"


class NoDemo(RuntimeError):
    """``--broker-url demo`` but no demo is running where we looked."""


@dataclass
class DemoState:
    pid: int
    broker_url: str
    api_url: str
    dir: str
    scenario: str | None = None
    gateways: list[str] = field(default_factory=list)
    started: float = 0.0


def demo_dir() -> Path:
    return Path(os.environ.get("JAGAJALAN_DEMO_DIR") or DEFAULT_DIR)


def write_state(directory: Path, state: DemoState) -> Path:
    """Write atomically (readers never see half a file)."""
    path = directory / FILE_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(asdict(state), indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def remove_state(directory: Path, pid: int) -> None:
    """Remove the file if it is ours (a second demo in the same folder may have replaced it)."""
    state = _load(directory / FILE_NAME)
    if state is not None and state.pid == pid:
        (directory / FILE_NAME).unlink(missing_ok=True)


def _load(path: Path) -> DemoState | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return DemoState(**data)
    except (OSError, ValueError, TypeError):
        return None


def read_state(directory: Path | None = None) -> DemoState | None:
    """The running demo's state, or None (no file, an unreadable one, or a dead process)."""
    state = _load((directory or demo_dir()) / FILE_NAME)
    if state is None or not pid_alive(state.pid):
        return None
    return state


def resolve_broker_url(value: str | None, directory: Path | None = None) -> tuple[str, str | None]:
    """(broker URL to use, a notice to print or None). Raises NoDemo for ``demo`` without one."""
    where = directory or demo_dir()
    if value is None:
        value = os.environ.get("JAGAJALAN_BROKER_URL") or None
    if value == DEMO:
        state = read_state(where)
        if state is None:
            raise NoDemo(Said("demo.none", file=where / FILE_NAME))
        return state.broker_url, Said("demo.using", url=state.broker_url)
    state = read_state(where)
    if value is None:
        if state is not None:
            return state.broker_url, Said("demo.using_running", url=state.broker_url)
        return DEFAULT_BROKER, None
    if state is not None and _same_broker(value) != _same_broker(state.broker_url):
        return value, Said("demo.other_broker", demo=state.broker_url, url=value)
    return value, None


def _same_broker(url: str) -> str:
    """URLs naming one broker compare equal (localhost = 127.0.0.1, default port 1883)."""
    text = url.strip().rstrip("/").replace("://localhost", "://127.0.0.1")
    scheme, _, rest = text.partition("://")
    if ":" not in rest.rsplit("@", 1)[-1]:
        rest += ":8883" if scheme == "mqtts" else ":1883"
    return f"{scheme}://{rest}"
