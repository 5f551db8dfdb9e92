"""The delivery's settings: secrets only from files or the environment, mistakes named before
anything starts, the channels built from what is configured."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from alerts.delivery.settings import DeliverySettings
from jagajalan.cli import main
from kernel.settings import SettingsError, add_options, load


def settings(argv: list[str], env: dict[str, str]) -> DeliverySettings:
    parser = argparse.ArgumentParser()
    add_options(parser, DeliverySettings)
    return load(DeliverySettings, parser.parse_args(argv), env)


def test_secrets_come_from_files_or_the_environment(tmp_path: Path) -> None:
    token = tmp_path / "bot"
    token.write_text("123456789:AAFileToken-xyz\n")
    got = settings(
        [
            "--telegram-bot-token-file",
            str(token),
            "--smtp-host",
            "mail.example.id",
            "--smtp-from",
            "alerts@example.id",
        ],
        {"JAGAJALAN_WEBHOOK_SECRET": "whsec-env-5512"},
    )
    assert got.telegram_bot_token.get_secret_value() == "123456789:AAFileToken-xyz"
    assert got.webhook_secret.get_secret_value() == "whsec-env-5512"
    assert "whsec-env-5512" not in repr(got)
    assert sorted(got.channels()) == ["email", "telegram", "webhook"]
    assert got.policy().cap_s == 900


def test_a_secret_on_the_command_line_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        settings(["--webhook-secret", "whsec-on-the-command-line"], {})
    assert "whsec-on-the-command-line" not in capsys.readouterr().err


def test_mistakes_are_named_together(capsys: pytest.CaptureFixture[str]) -> None:
    env = {"JAGAJALAN_SMTP_PASSWORD": "smtp-env-pass-77", "JAGAJALAN_WHATSAPP_TOKEN": "EAAtoken99"}
    with pytest.raises(SettingsError) as problem:
        settings(["--smtp-host", "mail.example.id", "--lease-s", "0"], env)
    text = problem.value.render()
    for name in ("smtp_username", "smtp_from", "whatsapp_from", "lease"):
        assert name.replace("_", "-") in text
    assert "smtp-env-pass-77" not in text and "EAAtoken99" not in text
    assert main(["alerts", "send", "--smtp-host", "mail.example.id"]) == 2
    assert "--smtp-from" in capsys.readouterr().err
