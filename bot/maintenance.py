"""Operator commands that work on the database file: check, backup, admin-link."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.config import Config
from bot.runtime import open_shop
from shop.access import LOGIN_TTL
from storage import ledger
from storage.db import Database, StorageError


async def check_database(path: str, out=sys.stdout) -> int:
    """Print every ledger invariant with its verdict; 1 if any is violated."""
    if not Path(path).exists():  # noqa: ASYNC240 - one stat before any work
        print(f"no database at {path}", file=out)
        return 1
    try:
        async with Database(path) as db:
            results = await ledger.check_invariants(db.reader)
            counts = await ledger.summary(db.reader)
    except StorageError as exc:
        print(f"cannot check {path}: {exc}", file=out)
        return 1
    print(
        f"database {path}: {counts[0]} users, {counts[1]} orders, {counts[2]} ledger rows, "
        f"{counts[3]:,} 원 in balances",
        file=out,
    )
    bad = 0
    for name, rows in results.items():
        if rows:
            bad += 1
            print(f"FAIL {name}: {len(rows)} violation(s), e.g. {rows[:3]}", file=out)
        else:
            print(f"ok   {name}", file=out)
    print("ledger check: " + ("FAILED" if bad else "all invariants hold"), file=out)
    return 1 if bad else 0


async def backup_database(path: str, dest: str) -> int:
    target = Path(dest)
    if target.is_dir():  # noqa: ASYNC240 - one stat before any work
        target = target / Path(path).name
    async with Database(path) as db:
        await db.backup(target)
    print(f"backed up {path} to {target}")
    return 0


async def admin_link(config: Config, admin_id: int | None, out=sys.stdout) -> int:
    """Print a one-time login link to the console (for a shop without Telegram, or an
    owner at the server): valid once, for 10 minutes, for that admin only."""
    admins = config.telegram.admin_ids
    problem = None
    if not config.web.public_url:
        problem = "the console is reached at web.public_url: set it (see README, the console)"
    elif not config.web.console:
        problem = "the console is switched off (web.console = false)"
    elif not admins:
        problem = "no admins: list their ids in telegram.admin_ids"
    elif admin_id is not None and admin_id not in admins:
        problem = f"{admin_id} is not in telegram.admin_ids"
    if problem:
        print(f"admin-link: {problem}", file=sys.stderr)
        return 2
    runtime = await open_shop(config)
    try:
        link = await runtime.shop.access.login_link(admins[0] if admin_id is None else admin_id,
                                                    source="cli")  # fmt: skip
    finally:
        await runtime.close()
    minutes = int(LOGIN_TTL.total_seconds() // 60)
    print(link, file=out)
    print(f"(opens the console once, within {minutes} minutes)", file=sys.stderr)
    return 0
