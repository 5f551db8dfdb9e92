"""``jagajalan firmware node get|set``."""

from __future__ import annotations


def register_node(action) -> None:
    return None
