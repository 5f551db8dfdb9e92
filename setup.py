"""The compiled parts of the build; everything else is in pyproject.toml.

ingest's fast paths in C (ingest/_json_lines.c, ingest/_compact_lines.c: CPU per reading,
docs/scaling.md). They are optional: where they do not compile (no compiler) the install
goes on without them and ingest takes its pure-Python paths, which give the same lines.
``JAGAJALAN_PURE=1`` leaves them out on purpose: the gateway bundle builds one pure wheel for
every architecture (scripts/gateway_bundle.py), and a gateway never runs ingest.
"""

import glob
import os

from setuptools import Extension, setup

FAST_PATHS = ["ingest._json_lines", "ingest._compact_lines"]

#: Each module is one translation unit; its parts are headers it includes (rebuilt when they
#: change).
extensions = [
    Extension(
        name,
        [name.replace(".", "/") + ".c"],
        depends=sorted(glob.glob(name.replace(".", "/").replace("_lines", "_*.h"))),
        # after Python's own -O3: gcc 12 makes _json_lines 8 % faster at -O2 (8.8 against
        # 9.6 us a batch of 50; -O3's unrolling of its scanner costs more than it saves),
        # _compact_lines the same either way (docs/scaling.md)
        extra_compile_args=["-O2"],
        optional=True,
    )
    for name in FAST_PATHS
]
setup(ext_modules=[] if os.environ.get("JAGAJALAN_PURE") == "1" else extensions)
