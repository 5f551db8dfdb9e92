"""``python -m testkit.gateway_cli gateway run --config F``: the real CLI, plus the
test-only ``test_emit`` driver, for tests that run the gateway as a separate process."""

from __future__ import annotations

import sys

from gateway.devices import DRIVERS
from jagajalan.cli import main
from testkit.gateway import EmitConfig, EmitDriver

if __name__ == "__main__":
    DRIVERS["test_emit"] = (EmitConfig, EmitDriver)
    sys.exit(main(sys.argv[1:]))
