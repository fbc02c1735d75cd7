"""Chat benchmark: N customers place an order at the same time, each step timed.

Three processes, as in production: the SMM panel simulator, the shop bot (SQLite +
the panel client + long polling), and the Bot API emulator. The customers live in the
emulator's process (its Python API drives them) and walk the whole flow:
/start → 🛒 주문하기 → platform → category → service → 🛒 주문하기 → link → quantity → ✅ 확인.

Latency is from the moment a customer's update is handed to the emulator to the bot's
answer appearing in the emulator (wait_for wakes on the emulator's own event journal).

    .venv/bin/python bench/chat.py [--customers 200] [--no-rate-limiter]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.ports import free_port, wait_port  # noqa: E402

TOKEN = "777000:BeNcH-ToKeN-chat"
PANEL_KEY = "bench-panel-key"
ADMIN_ID = 9001
CREDIT = 100_000
QUANTITY = 100
PLATFORM = r"^📸 인스타그램"
CATEGORY = "인스타그램 좋아요"
SERVICE = r"인스타 한국인 좋아요"  # panel service 201: Default type, no drip-feed step


STEP_NAMES = ("/start", "menu", "platform", "category", "service", "buy", "link", "quantity",
              "confirm")  # fmt: skip


# ---- process 1: the panel simulator --------------------------------------------------


def run_panel(port: int) -> None:
    from sandbox.panel import run_panel_blocking

    # speed: seconds per order stage; slow enough that nothing moves during the run.
    run_panel_blocking(port=port, api_key=PANEL_KEY, speed=600.0, balance="1000")


# ---- process 2: the shop bot -----------------------------------------------------------


def bot_config(db: str, emu_port: int, panel_port: int):
    from bot.config import parse_config

    raw = {
        "telegram": {"token": TOKEN, "base_url": f"http://127.0.0.1:{emu_port}/bot",
                     "admin_ids": [ADMIN_ID]},
        "provider": {"url": f"http://127.0.0.1:{panel_port}/api/v2", "key": PANEL_KEY,
                     "timeout_seconds": 10},
        "storage": {"path": db},
    }  # fmt: skip
    return parse_config(raw, environ={})


async def run_bot(db: str, emu_port: int, panel_port: int, customers: int, limiter: bool) -> None:
    from bot.app import build_application, start_bot, stop_bot
    from bot.runtime import open_shop

    config = bot_config(db, emu_port, panel_port)
    runtime = await open_shop(config)
    shop = runtime.shop
    await shop.catalog.sync()
    for tg in range(1, customers + 1):  # every customer starts with a balance
        user = await shop.users.ensure(tg, None, f"고객{tg}", "ko")
        topup = await shop.topups.request_bank(user.id, CREDIT, f"입금{tg}")
        await shop.topups.approve(topup.id, ADMIN_ID)
    app = build_application(config, shop, rate_limiter=limiter)
    await start_bot(app, poll_timeout=10)
    print("bot ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_reader(sys.stdin, stop.set)  # parent closes stdin
    await stop.wait()
    await stop_bot(app)
    await runtime.close()


# ---- process 3 (this one): the emulator and the customers -------------------------------


async def timed(samples: list, step: int, action, user, pattern: str, after=None):
    mark = user.mark()
    t0 = time.perf_counter()
    await action()
    msg = await user.wait_for(pattern, timeout=30, after=mark if after is None else after)
    samples.append((step, time.perf_counter() - t0))
    return msg


async def customer(
    emu, tg: int, samples: list[float], rng: random.Random, think: tuple[float, float]
) -> bool:
    u = emu.user(tg, first_name=f"고객{tg}", language_code="ko")
    link = f"https://instagram.com/p/bench{tg}"
    await asyncio.sleep(rng.uniform(0, 5.0))  # customers do not arrive in one tick
    steps = [
        (lambda: u.send_command("/start"), r"현재 잔액"),
        (lambda: u.send_text("🛒 주문하기"), r"플랫폼"),
        (lambda: u.press(re.compile(PLATFORM)), r"카테고리"),
        (lambda: u.press(CATEGORY), r"상품을 선택"),
        (lambda: u.press(SERVICE), r"1000개당"),
        (lambda: u.press("🛒 주문하기"), r"링크"),
        (lambda: u.send_text(link), r"수량"),
        (lambda: u.send_text(str(QUANTITY)), r"주문 확인"),
        (lambda: u.press("✅ 확인"), r"접수"),
    ]
    for step, (action, pattern) in enumerate(steps):
        await timed(samples, step, action, u, pattern)
        await asyncio.sleep(rng.uniform(*think))  # a human reads, then types or taps
    return True


async def drive(args: argparse.Namespace) -> dict:
    from sandbox.telegram import BotApiEmulator, serve_telegram

    emu = BotApiEmulator(TOKEN)
    srv = await serve_telegram(emu, port=args.emu_port)
    print("emulator ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # bot is up
    samples: list[float] = []
    rng = random.Random(7)
    t0 = time.perf_counter()
    results = await asyncio.gather(
        *(
            customer(emu, tg, samples, rng, (args.think_min, args.think_max))
            for tg in range(1, args.customers + 1)
        ),
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - t0
    errors = [repr(r)[:300] for r in results if isinstance(r, BaseException)]
    await srv.stop()
    return {"elapsed": elapsed, "samples": samples, "done": results.count(True),
            "errors": errors[:5], "error_count": len(errors)}  # fmt: skip


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


async def count_orders(db: str) -> int:
    from storage.db import Database

    async with Database(db) as d:
        cur = await d.reader.execute("SELECT count(*) FROM orders WHERE status = 'pending'")
        return (await cur.fetchone())[0]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=200)
    p.add_argument(
        "--no-rate-limiter",
        action="store_true",
        help="build the bot without PTB's AIORateLimiter (Telegram's 30 msg/s)",
    )
    p.add_argument("--think-min", type=float, default=2.0, help="seconds between steps, min")
    p.add_argument("--think-max", type=float, default=5.0, help="seconds between steps, max")
    p.add_argument("--role", choices=["main", "panel", "bot", "emulator"], default="main")
    p.add_argument("--db")
    p.add_argument("--emu-port", type=int)
    p.add_argument("--panel-port", type=int)
    args = p.parse_args()
    if args.role == "panel":
        run_panel(args.panel_port)
        return 0
    if args.role == "bot":
        profiled(
            "bot",
            lambda: asyncio.run(
                run_bot(
                    args.db,
                    args.emu_port,
                    args.panel_port,
                    args.customers,
                    not args.no_rate_limiter,
                )
            ),
        )
        return 0
    if args.role == "emulator":
        report = profiled("emulator", lambda: asyncio.run(drive(args)))
        print(json.dumps(report), flush=True)
        return 0
    return orchestrate(args)


def profiled(role: str, body):
    """BENCH_PROFILE=bot (or emulator) prints that process's top functions to stderr."""
    if os.environ.get("BENCH_PROFILE") != role:
        return body()
    import cProfile
    import pstats

    prof = cProfile.Profile()
    try:
        return prof.runcall(body)
    finally:
        stats = pstats.Stats(prof, stream=sys.stderr)
        stats.sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(35)


def orchestrate(args: argparse.Namespace) -> int:
    import logging

    from bot.maintenance import check_database

    logging.disable(logging.WARNING)
    tmp = tempfile.mkdtemp(prefix="bench-chat-")
    db = os.path.join(tmp, "shop.sqlite3")
    emu_port, panel_port = free_port(), free_port()
    me = [sys.executable, __file__, "--customers", str(args.customers), "--db", db,
          "--think-min", str(args.think_min), "--think-max", str(args.think_max),
          "--emu-port", str(emu_port), "--panel-port", str(panel_port)]  # fmt: skip
    if args.no_rate_limiter:
        me.append("--no-rate-limiter")
    quiet = subprocess.DEVNULL
    panel = subprocess.Popen([*me, "--role", "panel"], stdout=quiet, stderr=quiet)
    emulator = subprocess.Popen([*me, "--role", "emulator"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
    bot = None
    try:
        wait_port(panel_port)
        assert emulator.stdout.readline().strip() == "emulator ready"
        bot = subprocess.Popen([*me, "--role", "bot"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert bot.stdout.readline().strip() == "bot ready"
        emulator.stdin.write("go\n")
        emulator.stdin.flush()
        report = json.loads(emulator.stdout.readline())
        emulator.wait(timeout=30)
    finally:
        if bot is not None:
            bot.stdin.close()  # the bot stops cleanly when its stdin closes
            bot.wait(timeout=30)
        panel.terminate()
        panel.wait(timeout=10)
        if emulator.poll() is None:
            emulator.kill()
    by_step: dict[int, list[float]] = {}
    for step, dt in report["samples"]:
        by_step.setdefault(step, []).append(dt)
    s = [dt for _, dt in report["samples"]]
    print(f"customers: {args.customers}, think time {args.think_min}-{args.think_max} s, "
          f"rate limiter: {not args.no_rate_limiter}")  # fmt: skip
    print(f"finished the flow: {report['done']}  errors: {report['error_count']} "
          f"{report['errors']}")  # fmt: skip
    print(f"updates: {len(s)} in {report['elapsed']:.1f} s = {len(s) / report['elapsed']:.0f}/s")
    if s:
        print(f"latency update→reply: p50 {quantile(s, 0.5) * 1000:.0f} ms, "
              f"p99 {quantile(s, 0.99) * 1000:.0f} ms, max {max(s) * 1000:.0f} ms, "
              f"mean {statistics.fmean(s) * 1000:.0f} ms")  # fmt: skip
    for step in sorted(by_step):
        xs = by_step[step]
        print(f"  step {step} {STEP_NAMES[step]:<10} p50 {quantile(xs, 0.5) * 1000:4.0f} ms  "
              f"p99 {quantile(xs, 0.99) * 1000:4.0f} ms")  # fmt: skip
    print(f"orders placed (pending at the panel): {asyncio.run(count_orders(db))}")
    return asyncio.run(check_database(db)) or (1 if report["error_count"] else 0)


if __name__ == "__main__":
    sys.exit(main())
