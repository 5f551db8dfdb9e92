"""Where the firmware keys live by default (light: read when the command line is built)."""

from __future__ import annotations

import os
from pathlib import Path

#: Where ``firmware keygen`` writes by default: the signer's home, never the repository.
SECRET_KEY_DIR = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / (
    "jagajalan/firmware-keys"
)
#: The public keys a gateway trusts (``--key`` adds files or folders).
PUBLIC_KEY_DIR = Path("/etc/jagajalan/firmware-keys")
