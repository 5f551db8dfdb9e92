"""JagaJalan application shell: the `jagajalan` command, config loading and logging."""

__version__ = "0.1.0"
