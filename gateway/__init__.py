"""The edge gateway: reads serial sensors, aggregates, spools to disk, publishes over MQTT."""
