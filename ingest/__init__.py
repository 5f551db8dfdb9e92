"""Ingest: MQTT readings into the time-series store."""
