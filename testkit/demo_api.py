"""A polite client of the demo's API for tests that wait on it: the demo's API limits a
client without a key to 60 requests a minute after a burst of 30, and a test waiting on a
condition asks more often than that."""

from __future__ import annotations

import time
from pathlib import Path

import httpx


class DemoApi:
    """Lists from the API at *url*. An answer that is not there yet (no connection, 503: the
    store busy, 429: over the rate, after which it waits the Retry-After it is given) counts
    as an empty list and is kept in :attr:`answers`; any other error fails at once, with the
    tail of the API's *log* when one is given."""

    def __init__(self, url: str, log: Path | None = None) -> None:
        self.url, self.log = url, log
        self.answers: list[str] = []  # what was not a 200, newest last

    def listing(self, path: str) -> list[dict]:
        url = f"{self.url}{path}"
        try:
            answer = httpx.get(url, timeout=3)
        except httpx.HTTPError as exc:
            self.answers.append(f"GET {url}: {exc!r}")
            return []
        if answer.status_code in (429, 503):
            self.answers.append(f"GET {url}: {answer.status_code} {answer.text}")
            time.sleep(min(5.0, float(answer.headers.get("Retry-After", "1"))))
            return []
        tail = (
            self.log.read_text(errors="replace")[-3000:] if self.log and self.log.exists() else ""
        )
        assert answer.status_code == 200, f"GET {url}: {answer.status_code} {answer.text}\n{tail}"
        found = answer.json()
        assert isinstance(found, list), f"GET {url}: {found}"
        return found
