"""The log scan the chaos scenarios end with finds a secret however it was written."""

from __future__ import annotations

import base64
import urllib.parse
from pathlib import Path

from testkit.chaos.leaks import leaks


def test_a_secret_is_found_plain_percent_encoded_and_in_a_basic_header(tmp_path: Path) -> None:
    secret = "s3cr/t+pass-word"
    basic = base64.b64encode(f"gw:{secret}".encode()).decode()
    log = tmp_path / "a.log"
    log.write_text(
        "nothing here\n"
        f"connecting with password {secret}\n"
        f"url mqtt://gw:{urllib.parse.quote(secret, safe='')}@host\n"
        f"Authorization: Basic {base64.b64encode(f':{secret}'.encode()).decode()}\n"
        f"Authorization: Basic {basic}\n"
    )
    found = leaks([log], {"gw": secret})
    assert [line.split(":")[1] for line in found] == ["2", "3", "4", "5"]
    assert leaks([log], {"gw": "another-secret"}) == []
