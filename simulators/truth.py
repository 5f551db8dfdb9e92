"""Ground truth: every value a simulator produced, as JSON lines, so that tests compare what
arrived in the store against what was generated rather than against magic numbers."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any


class TruthWriter:
    """Thread-safe JSONL writer. Each line: ``{"kind": ..., "device": ..., ...}``."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._fh = self.path.open("a", encoding="utf-8") if self.path else None

    def write(self, kind: str, device: str, **data: Any) -> None:
        if self._fh is None:
            return
        line = json.dumps({"kind": kind, "device": device, **data}, separators=(",", ":"))
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            with self._lock:
                self._fh.close()
                self._fh = None


def read_truth(path: str | Path) -> list[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
