"""Chaos tests run a gateway in a network namespace of their own: they need root and the
tools of testkit/netns.py (``make test`` installs nftables). Without root they are skipped
and say why; as root with a tool missing they fail (the machine is meant to run them)."""

from __future__ import annotations

import os

import pytest

from testkit import netns


@pytest.fixture(autouse=True)
def _namespaces_possible() -> None:
    if os.geteuid() != 0:
        pytest.fail("chaos tests make network namespaces: run them as root (make test in CI is)")
    reason = netns.unavailable()
    assert reason is None, reason
