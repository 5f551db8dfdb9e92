"""Tools for technicians to configure and flash sensor nodes: a later issue."""
