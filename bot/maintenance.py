"""Operator commands that work on the database file: check and backup."""

from __future__ import annotations

import sys
from pathlib import Path

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
