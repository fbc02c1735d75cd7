"""3,000 notifications for 1,000 customers through the emulator with flood limits on.

    .venv/bin/python -m bench.notify [--customers 1000 --per 3]

Target: ≥ 28 msg/s sustained and zero 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from telegram import Bot

from bot.notifier import OutboxSender
from sandbox.telegram import BotApiEmulator, serve_telegram
from shop.context import ShopContext
from shop.jobs import ShopJobs
from shop.settings import ShopSettings
from storage import outbox
from storage.db import Database

TOKEN = "1000:bench-notify-token"


async def main(customers: int, per: int) -> None:
    emu = BotApiEmulator(TOKEN)
    emu.set_flood_limits(True, global_per_sec=30, chat_per_sec=1)
    ids = [100_000 + i for i in range(customers)]
    for tg in ids:
        emu.user(tg, first_name=f"c{tg}", language_code="ko")
    srv = await serve_telegram(emu)
    with tempfile.TemporaryDirectory() as tmp:
        async with Database(Path(tmp) / "bench.sqlite3") as db:
            ctx = ShopContext(db=db, panel=None, settings=ShopSettings())  # type: ignore[arg-type]
            now = ctx.now_iso()
            async with db.transaction() as conn:
                for k in range(per):
                    for tg in ids:
                        await outbox.enqueue(
                            conn, dedupe_key=f"bench:{tg}:{k}", chat_id=tg,
                            event="order_completed",
                            payload={"lang": "ko", "order_id": k, "delivered": 100},
                            now=now,
                        )  # fmt: skip
            bot = Bot(TOKEN, base_url=srv.base_url)
            async with bot:
                sender = OutboxSender(ShopJobs(ctx), bot)
                t0 = time.perf_counter()
                sent = await sender.drain()
                wall = time.perf_counter() - t0
    await srv.stop()
    print(f"messages sent:      {sent} / {customers * per}")
    print(f"wall seconds:       {wall:.1f}")
    print(f"sustained msgs/s:   {sent / wall:.1f}   (target ≥ 28)")
    print(f"429s received:      {emu.stats['429_flood'] + emu.stats['429']}   (target 0)")
    print(f"sender stats:       {sender.stats}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--per", type=int, default=3)
    a = parser.parse_args()
    asyncio.run(main(a.customers, a.per))
