"""``jagajalan gateway scan``: find Modbus devices on a bus (``core`` is the pure part)."""
