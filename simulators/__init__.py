"""Device and fleet simulators: every device on a pseudo-terminal, fleets over MQTT."""
