"""A network namespace of the test's own, joined to this machine by a veth pair: where a
gateway runs behind a link the test can cut or make bad (chaos tests, ``make chaos``).

::

    root namespace                          namespace <name>
    <name>-h  10.<a>.<b>.1/30  ═══ veth ═══  <name>-g  10.<a>.<b>.2/30   (gateway runs here)

Only the two ends of that pair (and loopback) are ever addressed. Faults, all on the
namespace's end, none needing ``netem`` (this kernel has none):

- :meth:`NetNs.partition` / :meth:`NetNs.heal`: the host end goes down, so the gateway's end
  loses carrier and every packet is dropped silently, as a cellular link that stops carrying
  anything (no RST, no ICMP: the gateway learns it only from its keepalive);
- :meth:`NetNs.lossy`: an nftables table in the namespace drops each packet in and out with
  the given probability (``numgen random mod 100 < p``);
- :meth:`NetNs.shape`: a ``tbf`` qdisc caps what the gateway sends (its uplink).

Latency needs a relay (testkit/chaos/relay.py). :func:`netns` removes the namespace (with
the veth pair and the nftables table in it) when the block ends, also when it fails;
:func:`remove_stale` clears what a SIGKILLed run left behind (and only that: a live run
holds a file lock per namespace). Needs root, ``ip``, ``tc``
and ``nft`` (Debian iproute2 and nftables: scripts/install-system-deps.sh).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

#: Every namespace made here starts with this, so a later run can find and remove leftovers.
PREFIX = "jjchaos"
NFT_TABLE = "jagajalan_chaos"
#: A run holds a lock here for each namespace it made (see :func:`remove_stale`).
LOCKS = Path("/run/jagajalan-chaos")


class NetNsUnavailable(RuntimeError):
    """Namespaces cannot be made here (not root, or a tool is missing)."""


def unavailable() -> str | None:
    """Why namespaces cannot be made on this machine, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    missing = [tool for tool in ("ip", "tc", "nft") if _which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)}: run scripts/install-system-deps.sh as root"
    return None


def _which(tool: str) -> str | None:
    return shutil.which(tool) or next(
        (p for p in (f"/usr/sbin/{tool}", f"/sbin/{tool}") if os.path.exists(p)), None
    )


def _run(*args: str, stdin: str | None = None, check: bool = True) -> str:
    tool = _which(args[0]) or args[0]
    done = subprocess.run(
        [tool, *args[1:]], input=stdin, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


@dataclass
class NetNs:
    name: str
    host_ip: str  # the root namespace's end of the pair
    ns_ip: str  # the namespace's end: the gateway's address

    @property
    def host_if(self) -> str:
        return f"{self.name}-h"

    @property
    def ns_if(self) -> str:
        return f"{self.name}-g"

    def exec_args(self, args: Sequence[str]) -> list[str]:
        """*args* run inside the namespace (``ip netns exec`` execs them: same pid)."""
        return [_which("ip") or "ip", "netns", "exec", self.name, *args]

    def create(self) -> None:
        ip = "ip"
        _run(ip, "netns", "add", self.name)
        _run(ip, "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        _run(ip, "link", "set", self.ns_if, "netns", self.name)
        _run(ip, "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
        _run(ip, "link", "set", self.host_if, "up")
        _run(ip, "-n", self.name, "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
        _run(ip, "-n", self.name, "link", "set", self.ns_if, "up")
        _run(ip, "-n", self.name, "link", "set", "lo", "up")

    def remove(self) -> None:
        _run("ip", "netns", "del", self.name, check=False)  # takes the veth pair and nft
        _run("ip", "link", "del", self.host_if, check=False)

    # -- faults ---------------------------------------------------------------------------

    def partition(self) -> None:
        """Nothing crosses the link any more (the host end is down: the gateway's end has
        no carrier and drops every packet it is given)."""
        _run("ip", "link", "set", self.host_if, "down")

    def heal(self) -> None:
        _run("ip", "link", "set", self.host_if, "up")

    def lossy(self, percent: int) -> None:
        """Drop *percent* % of the packets in each direction at random (nftables ``numgen``);
        0 removes the rules."""
        if not 0 <= percent <= 100:
            raise ValueError(f"loss must be 0..100 %, got {percent}")
        self._nft(f"delete table inet {NFT_TABLE}", check=False)
        if percent == 0:
            return
        rule = f"numgen random mod 100 < {percent} counter drop"
        self._nft(
            f"table inet {NFT_TABLE} {{\n"
            f" chain input {{\n  type filter hook input priority 0; policy accept;\n"
            f'  iifname "{self.ns_if}" {rule}\n }}\n'
            f" chain output {{\n  type filter hook output priority 0; policy accept;\n"
            f'  oifname "{self.ns_if}" {rule}\n }}\n}}\n'
        )

    def nft_ruleset(self) -> str:
        return self._nft("list ruleset")

    def lossy_dropped(self) -> int:
        """Packets the loss rules have dropped so far, both directions (0 without rules)."""
        text = self._nft(f"list table inet {NFT_TABLE}", check=False)
        return sum(int(n) for n in re.findall(r"counter packets (\d+)", text))

    def shaped(self) -> dict[str, int]:
        """The tbf qdisc's counters: bytes and packets sent, dropped, overlimits."""
        text = _run("tc", "-s", "-n", self.name, "qdisc", "show", "dev", self.ns_if)
        m = re.search(r"Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)", text)
        if not m or "tbf" not in text:
            return {}
        keys = ("sent_bytes", "sent_packets", "dropped", "overlimits")
        return dict(zip(keys, map(int, m.groups()), strict=True))

    def shape(self, kbit: int | None) -> None:
        """Cap the gateway's uplink at *kbit* kbit/s (``tbf``); None removes the cap."""
        tc = ("tc", "-n", self.name, "qdisc")
        _run(*tc, "del", "dev", self.ns_if, "root", check=False)
        if kbit is not None:
            # burst: just over one full-size packet (less would drop every such packet);
            # latency: up to 1 s of queue, then tbf drops as a congested modem would.
            shape = ("tbf", "rate", f"{kbit}kbit", "burst", "1600", "latency", "1s")
            _run(*tc, "add", "dev", self.ns_if, "root", *shape)

    def qdisc(self) -> str:
        return _run("tc", "-n", self.name, "qdisc", "show", "dev", self.ns_if)

    def interface_stats(self) -> str:
        return _run("ip", "-n", self.name, "-s", "link", "show", self.ns_if)

    def _nft(self, script: str, check: bool = True) -> str:
        return _run("ip", "netns", "exec", self.name, "nft", "-f", "-", stdin=script, check=check)


def addresses(name: str) -> tuple[str, str]:
    """A /30 in 10.200.0.0/13 derived from *name*: host end .1, namespace end .2."""
    n = zlib.crc32(name.encode()) % (8 * 256 * 64)
    a, rest = 200 + n // (256 * 64), n % (256 * 64)
    b, c = rest // 64, (rest % 64) * 4
    return f"10.{a}.{b}.{c + 1}", f"10.{a}.{b}.{c + 2}"


def remove_stale() -> list[str]:
    """Remove the namespaces (and their host ends) a killed run left; returns their names.
    A namespace with a process in it belongs to a run still going (a test on the other
    pytest worker, another ``make chaos``) and is left alone."""
    names = [line.split()[0] for line in _run("ip", "netns", "list").splitlines() if line]
    stale = []
    for n in names:
        if n.startswith(PREFIX):
            with _owned(n, wait=False) as mine:
                if mine:
                    NetNs(n, "", "").remove()
                    stale.append(n)
    return stale


@contextlib.contextmanager
def _owned(name: str, wait: bool = True) -> Iterator[bool]:
    """Hold the lock of namespace *name* (a file lock: the kernel releases it when its
    holder dies, also by SIGKILL). Without *wait*, yields False when a live run holds it."""
    LOCKS.mkdir(parents=True, exist_ok=True)
    with open(LOCKS / f"{name}.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True


@contextlib.contextmanager
def netns(tag: str) -> Iterator[NetNs]:
    """A fresh namespace ``jjchaos<tag>`` (at most 15 characters with the interface suffix)
    with its veth pair, removed when the block ends, whatever happens inside."""
    reason = unavailable()
    if reason:
        raise NetNsUnavailable(reason)
    name = f"{PREFIX}{tag}"
    if len(name) + 2 > 15:
        raise ValueError(f"namespace tag {tag!r} too long (interface names are 15 chars)")
    host_ip, ns_ip = addresses(name)
    ns = NetNs(name, host_ip, ns_ip)
    with _owned(name):
        ns.remove()  # a leftover of the same name from a killed run
        try:
            ns.create()
            yield ns
        finally:
            ns.remove()
