"""The software version this process runs: the installed ``jagajalan`` distribution's.

A gateway updated from a versioned bundle reports the version it actually runs, not the one
written in the source it was built from; run from a source tree that is not installed, the
source's :data:`kernel.__version__`.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import metadata

from kernel import __version__

DISTRIBUTION = "jagajalan"


@lru_cache(maxsize=1)
def installed_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return __version__
