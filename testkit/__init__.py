"""Test kit: helpers shared by the tests and the benchmarks (real services on free ports,
emulated cabinets, gateway and ingest processes, wire-size helpers).

Neither ``tests`` nor ``bench`` imports the other; both import this package. Nothing here is
installed with the product.
"""

from pathlib import Path

#: The repository's root folder.
REPO = Path(__file__).resolve().parent.parent
