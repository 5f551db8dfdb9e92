"""Load a page in Debian's headless Chromium, offline, and see what it rendered and fetched.

:func:`load_offline` runs ``chromium --headless --dump-dom`` with a fresh profile, with every
host but 127.0.0.1 unresolvable (``--host-resolver-rules``) and Chromium's own background
traffic switched off as far as flags allow, and records a network log (``--log-net-log``).
:func:`screenshot` keeps a picture of the page as the browser drew it. From that log,
:func:`page_requests` keeps the requests *the page* made (the navigation and
what its documents loaded, recognised by their initiator), not those of the browser itself
(update checks, account probes), which no flag silences entirely and which are no business
of the page under test.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from testkit.services import require_binary

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


@dataclass(frozen=True)
class Loaded:
    dom: str  # the DOM after the page's scripts ran (--dump-dom)
    requests: list[str]  # URLs the page asked for, in order


def load_offline(url: str, workdir: Path, budget_ms: int = 15_000) -> Loaded:
    """Load *url*, let its scripts run for up to *budget_ms* of virtual time, return the
    rendered DOM and the page's requests."""
    workdir.mkdir(parents=True, exist_ok=True)
    netlog = workdir / "netlog.json"
    result = subprocess.run(
        [
            require_binary("chromium"),
            *FLAGS,
            f"--user-data-dir={workdir / 'profile'}",
            f"--log-net-log={netlog}",
            f"--virtual-time-budget={budget_ms}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"chromium exited with {result.returncode}: {result.stderr[-2000:]}")
    return Loaded(result.stdout, page_requests(json.loads(netlog.read_text())))


def screenshot(
    url: str, path: Path, workdir: Path, budget_ms: int = 15_000, size: str = "1280,1100"
) -> Path:
    """Load *url* as :func:`load_offline` does and save what it drew as a PNG at *path*."""
    workdir.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            require_binary("chromium"),
            *FLAGS,
            f"--user-data-dir={workdir / 'profile'}",
            f"--virtual-time-budget={budget_ms}",
            f"--window-size={size}",
            "--hide-scrollbars",
            f"--screenshot={path}",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0 or not path.is_file():
        raise RuntimeError(f"chromium exited with {result.returncode}: {result.stderr[-2000:]}")
    return path


def page_requests(log: dict) -> list[str]:
    """URLs of the requests a page made, from a Chromium net log: the main-frame navigation,
    and every request whose initiator is a web origin (a document's subresources and its
    scripts' fetches). The browser's own requests have no origin as initiator."""
    names = {code: name for name, code in log["constants"]["logEventTypes"].items()}
    out = []
    for event in log["events"]:
        params = event.get("params") or {}
        if names.get(event["type"]) != "URL_REQUEST_START_JOB" or "url" not in params:
            continue
        initiator = str(params.get("initiator", ""))
        if params.get("request_type") == "main frame" or initiator.startswith("http"):
            out.append(params["url"])
    return out
