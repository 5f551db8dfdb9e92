"""Emulated devices on pseudo-terminals: the other side of the wire from ``gateway/devices``.

Emulators never encode with the gateway's decoder code (symmetric bugs would hide); they may
read the same profile files as data. ``cabinet`` starts every device of a roadside cabinet;
``faults`` injects line faults; ``sources`` lets a scenario drive the values.
"""
