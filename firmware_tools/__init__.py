"""Tools for technicians' firmware work (``jagajalan firmware``, docs/firmware.md): a Modbus
node's own settings (:mod:`firmware_tools.node`) and signed bundles
(:mod:`firmware_tools.bundle`, the API the flashing and update tools call)."""
