"""Modbus sensor node settings (``jagajalan firmware node get|set``)."""
