"""The HTTP API: read-only views of the store (latest readings, gateways, health)."""
