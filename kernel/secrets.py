"""Secrets read from files, refused when empty or well known; never echoed.

A secret is the content of a file (Docker/Kubernetes secrets, mode 600), without its final line
break. :func:`read_secret_file` reports a problem as ``(option, path, message)``, the shape of
:class:`kernel.config.ConfigError`, naming the file and never its content.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kernel.fields import DEFAULT_SECRETS  # one list for every secret


def read_secret_file(
    option: str, path: str, problems: list[tuple[str, Any, str]], *, refuse_defaults: bool = True
) -> str | None:
    """The secret in *path*, or None after adding a problem (unreadable, empty, or, with
    *refuse_defaults*, a well-known default such as ``changeme``)."""
    try:
        value = Path(path).read_text(encoding="utf-8").strip("\r\n")
    except OSError as exc:
        problems.append((option, path, f"cannot read: {exc.strerror}"))
        return None
    except UnicodeDecodeError:
        problems.append((option, path, "not UTF-8 text"))
        return None
    if not value.strip():
        problems.append((option, path, "the file is empty"))
        return None
    if refuse_defaults and value.strip().lower() in DEFAULT_SECRETS:
        problems.append((option, path, "a well-known default secret; set a real one"))
        return None
    return value
