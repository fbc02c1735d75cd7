"""KakaoTalk benchmark: N customers walk the order flow through the fake Open Builder at once.

Three processes, as in production: the SMM panel simulator, the shop as
``python -m bot run`` with a KakaoTalk-only config (no Telegram token; the skill route on
its HTTP face), and this one — the fake Open Builder posting real SkillPayloads over
loopback HTTP for every customer, validating every answer against Kakao's limits and
timing it. Each customer: welcome → 🛒 주문하기 → (platform) → category → service →
주문하기 → link → quantity → 확인, pausing like a human between steps.

Reported: p50/p99 skill response time (target p99 ≤ 300 ms) and the share of answers over
4 s (target 0; Kakao shows an error after 5 s).

    .venv/bin/python -m bench.kakao [--customers 200] [--think-min 2 --think-max 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.ports import free_port, wait_port  # noqa: E402

PANEL_KEY = "bench-panel-key"
ADMIN_ID = 9001
CREDIT = 100_000
QUANTITY = 100
SERVICE = re.compile(r"인스타 한국인 좋아요")  # panel service 201: Default, no drip-feed
PLATFORM = re.compile(r"^📸 인스타그램")
CATEGORY = re.compile(r"^(\d+\. )?인스타그램 좋아요$")
OVER = 4.0
STEP_NAMES = ("welcome", "order", "platform", "category", "service", "buy", "link",
              "quantity", "confirm")  # fmt: skip


def config_text(db: str, web_port: int, panel_port: int, bot_id: str, router: str) -> str:
    return f"""
[provider]
url = "http://127.0.0.1:{panel_port}/api/v2"
key = "{PANEL_KEY}"
timeout_seconds = 10

[storage]
path = "{db}"

[telegram]
admin_ids = [{ADMIN_ID}]

[web]
listen = "127.0.0.1:{web_port}"

[kakao]
enabled = true
bot_id = "{bot_id}"
router_block_id = "{router}"
"""


async def seed(config_path: str, keys: list[str]) -> None:
    """Every customer starts with a balance, through the real top-up path."""
    from bot.config import load_config
    from bot.runtime import open_shop
    from kakao.news import KakaoNews

    rt = await open_shop(load_config(config_path))
    news = KakaoNews(rt.shop, None)
    try:
        await rt.shop.catalog.sync()
        for n, key in enumerate(keys):
            user = await rt.shop.users.ensure_front("kakao", key, "", "ko")
            topup = await rt.shop.topups.request_bank(user.id, CREDIT, f"입금{n}")
            await rt.shop.topups.approve(topup.id, ADMIN_ID)
            await news.take_for(user.id)  # the approval notice is not what is measured
    finally:
        await rt.close()


async def walk(u, rng: random.Random, think: tuple[float, float]) -> bool:
    """One customer's order, tapping what KakaoTalk shows them."""
    await asyncio.sleep(rng.uniform(0, 5.0))  # customers do not arrive in one tick

    async def pause() -> None:
        await asyncio.sleep(rng.uniform(*think))  # a human reads, then types or taps

    await u.enter()
    await pause()
    turn = await u.tap("🛒 주문하기")
    for way in (PLATFORM, CATEGORY):  # a level with one entry is skipped by the shop
        if any(SERVICE.search(label) for label in turn.labels):
            break
        await pause()
        turn = await u.tap(way)
    if not any(SERVICE.search(label) for label in turn.labels):
        raise AssertionError(f"no way to the service: {turn.labels}")
    await pause()
    await u.tap(SERVICE)
    await pause()
    turn = await u.tap(re.compile(r"주문하기"))
    await pause()
    turn = await u.say(f"https://instagram.com/p/bench-{u.name}")
    await pause()
    turn = await u.say(str(QUANTITY))
    if "확인" not in turn.text:
        raise AssertionError(f"no confirmation card: {turn.text[:200]}")
    await pause()
    turn = await u.tap(re.compile(r"확인"))
    return "접수" in turn.text


async def drive(args: argparse.Namespace, ob, users) -> dict:
    rng = random.Random(7)
    t0 = time.perf_counter()
    results = await asyncio.gather(
        *(walk(u, rng, (args.think_min, args.think_max)) for u in users),
        return_exceptions=True,
    )
    elapsed = time.perf_counter() - t0
    errors = [repr(r)[:300] for r in results if isinstance(r, BaseException)]
    return {"elapsed": elapsed, "done": results.count(True), "errors": errors}


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


async def count_orders(db: str) -> int:
    from storage.db import Database

    async with Database(db) as d:
        rows = await d.fetch_all("SELECT count(*) FROM orders WHERE status = 'pending'")
        return rows[0][0]


async def drive_all(args: argparse.Namespace, skill_url: str) -> dict:
    from sandbox.kakao import OpenBuilder

    ob = OpenBuilder(skill_url=skill_url, strict=False, max_connections=args.customers + 50)
    users = [ob.user(f"c{n}") for n in range(args.customers)]
    try:
        report = await drive(args, ob, users)
    finally:
        await ob.aclose()
    report["times"] = [t.elapsed for t in ob.turns]
    by_step: dict[int, list[float]] = {}
    for u in users:
        for i, t in enumerate(u.turns):
            by_step.setdefault(i, []).append(t.elapsed)
    report["by_step"] = by_step
    report["refused"] = [t.error for t in ob.violations if not t.late]
    report["warnings"] = len(ob.warnings)
    return report


def run(args: argparse.Namespace) -> int:
    from bot.maintenance import check_database
    from sandbox.kakao import Console, key_for

    tmp = tempfile.mkdtemp(prefix="bench-kakao-")
    db = os.path.join(tmp, "shop.sqlite3")
    cfg = os.path.join(tmp, "config.toml")
    web_port, panel_port = free_port(), free_port()
    console = Console()
    Path(cfg).write_text(
        config_text(db, web_port, panel_port, console.bot_id, console.router.id), "utf-8"
    )
    quiet = subprocess.DEVNULL
    panel = subprocess.Popen(
        [sys.executable, "-m", "bot", "simulator", "--port", str(panel_port), "--key", PANEL_KEY,
         "--speed", "600", "--balance", "1000"], cwd=ROOT, stdout=quiet, stderr=quiet,
    )  # fmt: skip
    shop = None
    try:
        wait_port(panel_port)
        asyncio.run(seed(cfg, [key_for(console, f"c{n}") for n in range(args.customers)]))
        with open(os.path.join(tmp, "shop.log"), "w") as log:
            prof = ["-m", "cProfile", "-o", args.profile] if args.profile else []
            shop = subprocess.Popen(
                [sys.executable, *prof, "-m", "bot", "run", "--config", cfg], cwd=ROOT,
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_port(web_port)
        report = asyncio.run(drive_all(args, f"http://127.0.0.1:{web_port}/kakao/skill"))
    finally:
        if shop is not None:
            shop.send_signal(signal.SIGTERM)
            shop.wait(timeout=30)
        panel.terminate()
        panel.wait(timeout=10)
    times = report["times"]
    over = sum(1 for x in times if x > OVER)
    print(f"customers: {args.customers}, think time {args.think_min}-{args.think_max} s")
    print(f"finished the flow: {report['done']}  errors: {len(report['errors'])} "
          f"{report['errors'][:3]}")  # fmt: skip
    print(f"skill calls: {len(times)} in {report['elapsed']:.1f} s = "
          f"{len(times) / report['elapsed']:.0f}/s")  # fmt: skip
    if times:
        print(f"skill response: p50 {quantile(times, 0.5) * 1000:.0f} ms, "
              f"p99 {quantile(times, 0.99) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms, "
              f"mean {statistics.fmean(times) * 1000:.0f} ms")  # fmt: skip
    for step, xs in sorted(report["by_step"].items()):
        name = STEP_NAMES[step] if step < len(STEP_NAMES) else f"step {step}"
        print(f"  {name:<10} p50 {quantile(xs, 0.5) * 1000:4.0f} ms  "
              f"p99 {quantile(xs, 0.99) * 1000:4.0f} ms")  # fmt: skip
    print(f"answers over {OVER:g} s: {over} ({over / max(1, len(times)):.2%}); "
          f"refused by the validator: {len(report['refused'])} {report['refused'][:2]}; "
          f"warnings: {report['warnings']}")  # fmt: skip
    print(f"orders placed (pending at the panel): {asyncio.run(count_orders(db))}")
    print(f"shop log: {tmp}/shop.log")
    bad = asyncio.run(check_database(db))
    return bad or (1 if report["errors"] or report["refused"] or over else 0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=200)
    p.add_argument("--think-min", type=float, default=2.0, help="seconds between steps, min")
    p.add_argument("--think-max", type=float, default=5.0, help="seconds between steps, max")
    p.add_argument("--profile", help="write a cProfile of the shop process to this file")
    args = p.parse_args()
    import logging

    logging.disable(logging.WARNING)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
