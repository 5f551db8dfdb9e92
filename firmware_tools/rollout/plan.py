"""The rollout's decisions, without I/O: which gateways get the desired version now, when a
group is finished, and when the rollout stops by itself.

Groups go in order. The gateways of one group get the command together; each then ends as
``updated`` (its status reports the target version, online), ``failed`` (its status reports
the update rolled back or refused, or no update within ``deadline`` seconds of the command) or
stays ``pending``. When every gateway of the group has ended, the group's failure ratio is
compared with ``max_failures`` (a fraction of the group): above it, the rollout ``halted`` and
no further group is sent anything; otherwise the next group starts. The whole rollout also
halts as soon as the failures already seen in the group pass the threshold, without waiting for
the rest (fewer gateways are touched by a bad release).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["pending", "updated", "failed"]
State = Literal["running", "done", "halted"]


@dataclass(frozen=True)
class Group:
    name: str
    gateways: tuple[str, ...]


@dataclass(frozen=True)
class Seen:
    """What a gateway's retained status says (docs/protocol.md, section 3): its version, its
    state, and the result of its last update (``update.result``), if any."""

    version: str | None
    online: bool
    update_result: str | None = None  # committed | rolled_back | aborted | refused | ...
    update_version: str | None = None
    update_rollout: str | None = None  # the rollout whose command it was, when reported


@dataclass
class Rollout:
    version: str
    groups: list[Group]
    max_failures: float = 0.2  # fraction of a group
    deadline: float = 900.0  # seconds from the command to the new version online
    state: State = "running"
    current: int = 0  # index of the group being updated
    sent: dict[str, float] = field(default_factory=dict)  # gateway -> when commanded
    outcome: dict[str, Outcome] = field(default_factory=dict)
    reason: str = ""
    #: This rollout's id: an ``update`` another rollout caused (an earlier attempt at the same
    #: version, refused or rolled back) is not taken for this one's result.
    rollout_id: str | None = None

    def __post_init__(self) -> None:
        names = [g for group in self.groups for g in group.gateways]
        if len(names) != len(set(names)):
            raise ValueError("a gateway is in more than one group")
        if not 0 <= self.max_failures < 1:
            raise ValueError(f"max_failures = {self.max_failures}: a fraction in [0, 1)")

    @property
    def group(self) -> Group | None:
        return self.groups[self.current] if self.state == "running" else None

    def to_send(self) -> list[str]:
        """Gateways of the current group that have not been sent the command yet."""
        group = self.group
        return [] if group is None else [g for g in group.gateways if g not in self.sent]

    def mark_sent(self, gateway: str, now: float) -> None:
        self.sent.setdefault(gateway, now)
        self.outcome.setdefault(gateway, "pending")

    def observe(self, gateway: str, seen: Seen, now: float) -> None:
        """A status arrived; judge the gateway if it was commanded and is still pending."""
        if self.outcome.get(gateway) != "pending":
            return
        if seen.online and seen.version == self.version:
            self.outcome[gateway] = "updated"
        elif (
            seen.update_version == self.version
            and seen.update_result not in (None, "committed")
            and not (self.rollout_id and seen.update_rollout not in (None, self.rollout_id))
        ):
            self.outcome[gateway] = "failed"

    def tick(self, now: float) -> State:
        """Time-outs, the threshold, the next group. Returns the rollout's state."""
        group = self.group
        if group is None:
            return self.state
        for gateway in group.gateways:
            sent = self.sent.get(gateway)
            late = sent is not None and now - sent >= self.deadline
            if late and self.outcome.get(gateway) == "pending":
                self.outcome[gateway] = "failed"
        failed = sum(self.outcome.get(g) == "failed" for g in group.gateways)
        if failed > self.max_failures * len(group.gateways):
            self.state = "halted"
            self.reason = f"group {group.name}: {failed} of {len(group.gateways)} failed"
            return self.state
        if all(self.outcome.get(g) in ("updated", "failed") for g in group.gateways):
            self.current += 1
            if self.current >= len(self.groups):
                self.state = "done"
        return self.state

    def summary(self) -> dict[str, int]:
        counts = {"updated": 0, "failed": 0, "pending": 0, "not_sent": 0}
        for group in self.groups:
            for gateway in group.gateways:
                counts[self.outcome.get(gateway, "not_sent")] += 1
        return counts
