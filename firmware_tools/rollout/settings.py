"""The settings of ``jagajalan firmware rollout``: where the registry is (its groups of
gateways) and how to reach the broker (the ``rollout`` user of deploy/mosquitto/acl.example).
Every option also from ``JAGAJALAN_<OPTION>``; the broker password only from a file or the
environment."""

from __future__ import annotations

from typing import ClassVar

from kernel.fields import MqttLink
from kernel.settings import ServiceSettings
from registry.settings import RegistryLink


class RolloutSettings(ServiceSettings, RegistryLink, MqttLink):
    command: ClassVar[str] = "jagajalan firmware rollout"
