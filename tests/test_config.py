"""config.toml loading: defaults, one-line errors naming the key, secrets from env."""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = {"provider": {"url": "http://127.0.0.1:8081/api/v2", "key": "k"},
           "storage": {"path": "shop.sqlite3"}}  # fmt: skip


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_sample_config_loads():
    config = load_config(ROOT / "config.toml", environ={})
    assert config.provider.key.get_secret_value() == "demo-key"
    assert config.shop.exchange_rate == Decimal("1400")
    assert Path(config.storage.path).is_absolute()  # relative to the config file
    assert Path(config.storage.path).parent.parent == ROOT


def test_a_minimal_file_gets_the_documented_defaults(tmp_path: Path):
    path = write(
        tmp_path,
        '[provider]\nurl = "http://127.0.0.1:8081/api/v2"\nkey = "k"\n'
        '[storage]\npath = "shop.sqlite3"\n',
    )
    config = load_config(path, environ={})
    assert config.storage.path == str(tmp_path.resolve() / "shop.sqlite3")
    assert config.shop.markup_percent == Decimal("50")
    assert config.topup.min_amount == 5000 and config.topup.max_amount == 2_000_000
    assert config.telegram.token is None and config.telegram.admin_ids == []


def test_missing_provider_key_is_named(tmp_path: Path):
    path = write(tmp_path, '[provider]\nurl = "http://x/api/v2"\n')
    with pytest.raises(ConfigError, match=r"provider\.key"):
        load_config(path, environ={})


@pytest.mark.parametrize(
    ("section", "values", "named"),
    [
        ("shop", {"markup_percent": "-5"}, "shop.markup_percent"),
        ("shop", {"currency": "USD"}, "shop.currency"),
        ("topup", {"min_amount": "lots"}, "topup.min_amount"),
        ("shop", {"colour": "blue"}, "shop.colour"),
    ],
)
def test_bad_or_unknown_values_name_the_key(section: str, values: dict, named: str):
    raw = {**MINIMAL, section: values}
    with pytest.raises(ConfigError) as info:
        parse_config(raw, environ={})
    assert named in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_key_is_called_unknown():
    with pytest.raises(ConfigError, match=r"unknown key shop\.colour"):
        parse_config({**MINIMAL, "shop": {"colour": "blue"}}, environ={})


def test_secrets_from_the_environment_override_the_file():
    env = {"SHOP_PROVIDER_KEY": "from-env", "SHOP_TELEGRAM_TOKEN": "123:abc"}
    config = parse_config(MINIMAL, environ=env)
    assert config.provider.key.get_secret_value() == "from-env"
    assert config.telegram.token is not None
    assert config.telegram.token.get_secret_value() == "123:abc"
    # and the env alone is enough for the key
    bare = {"provider": {"url": "http://x/api/v2"}}
    assert parse_config(bare, environ=env).provider.key.get_secret_value() == "from-env"
    assert "from-env" in parse_config(bare, environ=env).secrets()


def test_toml_floats_become_exact_decimals(tmp_path: Path):
    path = write(
        tmp_path,
        '[provider]\nurl = "http://x/api/v2"\nkey = "k"\n'
        "[shop]\nexchange_rate = 1.1\nmarkup_percent = 12.5\n",
    )
    config = load_config(path, environ={})
    assert config.shop.exchange_rate == Decimal("1.1")
    assert config.shop.markup_percent == Decimal("12.5")


async def test_run_with_a_bad_config_exits_2_with_one_line(tmp_path: Path):
    path = write(tmp_path, '[provider]\nurl = "http://x/api/v2"\nkey = "k"\n[shop]\nnope = 1\n')
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(path), cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    text = err.decode()
    assert proc.returncode == 2
    assert "Traceback" not in text and "Traceback" not in out.decode()
    assert text.strip().count("\n") == 0
    assert "shop.nope" in text
