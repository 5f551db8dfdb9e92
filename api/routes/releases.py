"""``GET /releases``: the gateway release each rollout group should run (the registry's desired
versions, written by ``jagajalan firmware rollout``) and the gateways behind it: those whose
newest status reports another version, or no version, or that have never been seen, each with
how its last update ended (a failed one says why); and the firmware the sensor nodes of each
sensor profile should run (``jagajalan registry firmware set``) with the registered nodes whose
gateway reports another firmware for them, or none."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import RegistryDep, StoreDep
from api.errors import REGISTRY_ERRORS, STORE_ERRORS
from api.release_models import FirmwareRelease, GatewayBehind, NodeBehind, ReleaseGroup, Releases
from api.status import update_view
from kernel.times import utc_iso
from telemetry.mapping import DEVICE_STATUS_MEASUREMENT, STATUS_MEASUREMENT, Point

router = APIRouter(tags=["gateways"])


def _text(point: Point | None, name: str) -> str | None:
    value = point.fields.get(name) if point is not None else None
    return value if isinstance(value, str) and value else None


def _iso(when) -> str:
    return utc_iso(int(when.timestamp() * 1000)) or ""


@router.get(
    "/releases",
    response_model=Releases,
    summary="Desired gateway releases per group and node firmware per profile, and what is "
    "behind them",
    responses={**REGISTRY_ERRORS, **STORE_ERRORS},
)
def releases(registry: RegistryDep, store: StoreDep) -> Releases:
    """``groups``: each rollout group's desired version (pilot or a kecamatan), ordered by
    name, with the number of its gateways, of those behind and of those whose last update to
    it failed; ``behind``: every gateway of a group whose newest status does not report that
    version (``version`` null: never seen, or its status carried no version), ordered by
    gateway id, with ``update``, how its last update ended. ``firmware``: each sensor
    profile's desired node firmware; ``nodes_behind``: every registered sensor of such a
    profile whose gateway's newest status reports another firmware for it, or none."""
    desired = registry.desired()
    wanted_firmware, nodes = registry.desired_firmware()
    seen = {g.gateway: g for g in store.gateways()}
    newest = store.newest_of([STATUS_MEASUREMENT, DEVICE_STATUS_MEASUREMENT])
    statuses = {p.tags.get("gateway"): p for p in newest[STATUS_MEASUREMENT]}
    devices = {
        (p.tags.get("gateway"), p.tags.get("device")): p for p in newest[DEVICE_STATUS_MEASUREMENT]
    }
    groups: dict[str, ReleaseGroup] = {}
    behind = []
    for want in desired:
        group = groups.get(want.group)
        if group is None:
            group = groups[want.group] = ReleaseGroup(
                group=want.group,
                version=want.version,
                counter=want.counter,
                rollout=want.rollout,
                set_at=_iso(want.set_at),
                gateways=0,
                behind=0,
                failed=0,
            )
        group.gateways += 1
        status = statuses.get(want.gateway)
        version = _text(status, "version")
        if version != want.version:
            group.behind += 1
            update = update_view(status)
            if update is not None and update.failed and update.version == want.version:
                group.failed += 1
            state = seen[want.gateway].state if want.gateway in seen else None
            behind.append(
                GatewayBehind(
                    gateway=want.gateway,
                    group=want.group,
                    desired=want.version,
                    version=version,
                    state=state,
                    update=update,
                )
            )
    firmware = {
        w.profile: FirmwareRelease(
            profile=w.profile, version=w.version, set_at=_iso(w.set_at), nodes=0, behind=0
        )
        for w in wanted_firmware
    }
    nodes_behind = []
    for node in nodes:
        release = firmware[node.profile]
        release.nodes += 1
        point = devices.get((node.gateway, node.sensor))
        reported = _text(point, "firmware")
        if reported != node.version:
            release.behind += 1
            nodes_behind.append(
                NodeBehind(
                    gateway=node.gateway,
                    device=node.sensor,
                    profile=node.profile,
                    desired=node.version,
                    firmware=reported,
                    state=_text(point, "state"),
                )
            )
    return Releases(
        groups=sorted(groups.values(), key=lambda g: g.group),
        behind=behind,
        firmware=list(firmware.values()),
        nodes_behind=nodes_behind,
    )
