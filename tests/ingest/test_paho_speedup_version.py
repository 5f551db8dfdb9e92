"""ingest/paho_speedup.py patches private internals of paho-mqtt, checked against one version.
With any other version it changes nothing (and logs that it skipped), but a paho upgrade must
not pass quietly: this test fails until the speed-ups are checked again against the new version
(tests/ingest/test_pipeline.py holds their decoding equal to paho's own) and CHECKED_VERSION is
moved, or the module is removed (make bench prints what it gains: paho_speedup_gain_*)."""

from __future__ import annotations

from importlib import metadata

from ingest import paho_speedup


def test_paho_is_the_version_the_speedups_were_checked_against() -> None:
    installed = metadata.version("paho-mqtt")
    assert installed == paho_speedup.CHECKED_VERSION, (
        f"paho-mqtt {installed} is installed, but ingest/paho_speedup.py was checked against "
        f"{paho_speedup.CHECKED_VERSION}: re-check its patches of paho's internals against "
        f"{installed} and move CHECKED_VERSION, or drop the module"
    )
