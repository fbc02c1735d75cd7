"""Both message catalogs: same keys, same placeholders, every code has a text, valid HTML."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chat.i18n import LANGS, catalog, placeholders, t
from sandbox.telegram import parse_html
from shop import statuses

ROOT = Path(__file__).resolve().parent.parent
CODE_RE = re.compile(r'InputError\("([a-z_.]+)"')


def input_error_codes() -> set[str]:
    codes: set[str] = set()
    for name in ("shop/parsing.py", "shop/orders.py"):
        codes |= set(CODE_RE.findall((ROOT / name).read_text(encoding="utf-8")))
    return codes


def test_catalogs_have_the_same_keys():
    ko, en = catalog("ko"), catalog("en")
    assert sorted(set(ko) - set(en)) == [], "missing in en"
    assert sorted(set(en) - set(ko)) == [], "missing in ko"


def test_same_placeholders_per_key():
    ko, en = catalog("ko"), catalog("en")
    differ = {k: (placeholders(ko[k]), placeholders(en[k])) for k in ko.keys() & en.keys()
              if placeholders(ko[k]) != placeholders(en[k])}  # fmt: skip
    assert differ == {}


def test_the_grep_finds_the_codes():
    # Guards the guard: if the regex stopped matching, the next test would pass vacuously.
    assert {"link.invalid", "input.out_of_range", "service.unavailable"} <= input_error_codes()


@pytest.mark.parametrize("lg", LANGS)
def test_every_input_error_and_status_has_a_message(lg):
    texts = catalog(lg)
    missing = sorted(c for c in input_error_codes() if c not in texts)
    missing += [f"status.{s}" for s in statuses.ALL if f"status.{s}" not in texts]
    assert missing == []


def _dummy(name: str) -> object:
    # A value with characters that would break HTML if a template forgot to escape them.
    return 1234 if name in {"amount", "balance", "price", "min", "max", "count"} else "<a&b>"


@pytest.mark.parametrize("lg", LANGS)
def test_every_text_is_valid_telegram_html(lg):
    bad = {}
    for key, template in catalog(lg).items():
        text = t(lg, key, **{p: _dummy(p) for p in placeholders(template)})
        try:
            parse_html(text)
        except ValueError as exc:
            bad[key] = str(exc)
    assert bad == {}
