"""`jagajalan firmware gateway-update ...` in a process of its own, with the test verifier and
the test supervisor of kit.py (whose gateway shares this process's group, so killing the group
is a power cut: updater and gateway die together). Used by test_kill.py."""

from __future__ import annotations

import sys

from jagajalan.cli import build_parser
from tests.firmware_tools.gateway_update.kit import Supervisor, tar_verifier


def main(argv: list[str], *, signed: bool = False) -> int:
    """*signed*: the real bundle verifier (firmware_tools.bundle), else the test one."""
    args = build_parser().parse_args(["firmware", "gateway-update", *argv])
    if not signed:
        args.verifier_factory = lambda _args, _counter: tar_verifier
    args.service_factory = lambda _unit: Supervisor(args.root, args.health_file, own_group=False)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
