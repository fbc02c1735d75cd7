"""``python -m bot check`` and ``backup`` run as the operator runs them: in a subprocess."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

import pytest

from shop.context import ShopContext
from shop.models import OrderInput, PlaceOutcome
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
ADMIN = 9000


async def bot_cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def shop_db(tmp_path: Path, panel) -> Path:
    """A database with a customer, an approved top-up and a placed order."""
    _sim, client = panel
    path = tmp_path / "shop.sqlite3"
    async with Database(path) as db:
        shop = Shop(ShopContext(db=db, panel=client, settings=ShopSettings(admin_ids=(ADMIN,))))
        await shop.catalog.sync()
        user = await shop.users.ensure(1, "u1", "고객", "ko")
        topup = await shop.topups.request_bank(user.id, 50_000, "홍길동")
        await shop.topups.approve(topup.id, ADMIN)
        svc = next(s for s in await shop.catalog.all() if s.panel_id == "101")
        inp = OrderInput(link="https://instagram.com/a", quantity=100)
        q = await shop.orders.quote(user.id, svc.id, inp)
        assert (await shop.orders.place(user.id, q.token)).outcome == PlaceOutcome.PLACED
    return path


async def test_check_passes_on_a_healthy_database(shop_db: Path):
    code, out, _ = await bot_cli("check", "--db", str(shop_db))
    assert code == 0, out
    assert "all invariants hold" in out
    assert "1 users, 1 orders" in out


async def test_check_fails_and_names_the_broken_invariant(shop_db: Path):
    with sqlite3.connect(shop_db) as conn:  # a balance edited behind the ledger's back
        conn.execute("UPDATE users SET balance = balance + 1000")
    code, out, _ = await bot_cli("check", "--db", str(shop_db))
    assert code == 1
    assert "FAIL balance equals the sum of the user's ledger rows" in out
    assert "all invariants hold" not in out


async def test_check_of_a_missing_file_fails(tmp_path: Path):
    code, out, _ = await bot_cli("check", "--db", str(tmp_path / "nope.sqlite3"))
    assert code == 1 and "no database" in out
    assert not (tmp_path / "nope.sqlite3").exists()  # check never creates a database


async def test_backup_copies_while_the_source_is_open(shop_db: Path, tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text(
        f'[provider]\nurl = "http://127.0.0.1:1/api/v2"\nkey = "k"\n'
        f"[storage]\npath = {str(shop_db)!r}\n",
        encoding="utf-8",
    )
    dest = tmp_path / "backup.sqlite3"
    async with Database(shop_db) as db:  # the shop keeps it open and keeps writing
        async with db.transaction() as conn:
            await conn.execute("UPDATE users SET first_name = '바뀜'")
        code, out, err = await bot_cli("backup", str(dest), "--config", str(config))
    assert code == 0, err
    with sqlite3.connect(dest) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("SELECT first_name, balance FROM users").fetchall() == [
            ("바뀜", 50_000 - 2058)
        ]
    code, out, _ = await bot_cli("check", "--db", str(dest))
    assert code == 0 and "all invariants hold" in out
