"""Crash harness: the real bot as a subprocess, SIGKILLed at random moments and at named
crash points (shop/crashpoints.py), against the panel simulator and the Bot API emulator
running in this (the test's) process. Customers and admins act only through chat.

After every death the database is inspected with the bot dead (a still picture); after
every restart the orders that were mid-flight are checked again; at the end the last
process drains and everything is checked once more (see ``final_checks``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handlers.notify_render import render
from sandbox.panel import PanelSimulator, RunningServer, serve_panel
from sandbox.telegram import (
    BotApiEmulator,
    FakeUser,
    TelegramServer,
    parse_html,
    serve_telegram,
)
from shop import statuses as st

TOKEN = "777001:CrAsH-hArNeSs-ToKeN"
PANEL_KEY = "crash-panel-key-0a1b2c"
ADMIN_ID = 9001
ROOT = Path(__file__).resolve().parents[2]
UNDERSTANDABLE = {*st.POLLED, *st.TERMINAL, st.NEEDS_REVIEW}
TERMINAL_EVENTS = {st.COMPLETED: "order_completed", st.PARTIAL: "order_partial",
                   st.CANCELED: "order_canceled", st.FAILED: "order_failed"}  # fmt: skip
ORDER_REPLY = re.compile(
    r"접수되었어요|이미 접수된|진행 중인 주문이 있어요|확인하고 있어요|처리되지 못했어요"
)
STEP_TIMEOUT = 6.0
# How long a customer keeps trying while the shop is killed and restarted again and again: a
# budget of time, not of attempts, since a loaded machine restarts the bot more slowly.
PATIENCE = 300.0


# Delivered by editing the admin's copy of the top-up request (bot/notifier.py), so a
# resend after a crash edits it again instead of adding a second message.
EDITED = frozenset({"admin_topup_decided"})


@dataclass
class Death:
    cause: str  # "kill" (random SIGKILL) or the crash point's name
    spec: str | None  # SHOP_CRASH_AT of that process
    in_flight: dict[int, str]  # order id → created/submitting at death: recovery resolves them
    sent_unmarked: list[tuple[int, int, str]] = field(default_factory=list)  # (row, chat, html)


class CrashHarness:
    def __init__(self, folder: Path, seed: int, *, stage_seconds: float = 0.5) -> None:
        self.folder = folder
        self.rng = random.Random(seed)
        self.sim = PanelSimulator(
            api_key=PANEL_KEY, auto_advance=True, speed=stage_seconds, balance="10000000"
        )
        self.emu = BotApiEmulator(TOKEN)
        self.db_path = folder / "shop.sqlite3"
        self.cfg_path = folder / "config.toml"
        self.log_path = folder / "bot.log"
        self.proc: asyncio.subprocess.Process | None = None
        self.spec: str | None = None
        self.deaths: list[Death] = []
        self.checks: list[asyncio.Task[tuple[int, str]]] = []
        self.starts = 0
        self._panel: RunningServer | None = None
        self._tg: TelegramServer | None = None

    # ---- the stand-ins and the config ------------------------------------------------

    async def __aenter__(self) -> CrashHarness:
        self._panel = await serve_panel(self.sim)
        self._tg = await serve_telegram(self.emu)
        self.cfg_path.write_text(
            f"""[telegram]
token = "{TOKEN}"
base_url = "{self._tg.base_url}"
admin_ids = [{ADMIN_ID}]

[provider]
url = "{self._panel.url}"
key = "{PANEL_KEY}"
timeout_seconds = 5

[storage]
path = "{self.db_path}"

[scheduler]
poll_interval_seconds = 1
""",
            encoding="utf-8",
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.kill()
        for task in self.checks:
            task.cancel()
        if self._tg is not None:
            await self._tg.stop()
        if self._panel is not None:
            await self._panel.stop()

    # ---- the bot process ---------------------------------------------------------------

    async def start(self, crash_at: str | None = None) -> None:
        """Spawn ``python -m bot run``; return once it long-polls (recovery has run)."""
        env = {k: v for k, v in os.environ.items() if k != "SHOP_CRASH_AT"}
        if crash_at:
            env["SHOP_CRASH_AT"] = crash_at
        polls = len(self.emu.calls_of("getUpdates"))
        with self.log_path.open("ab") as log:
            log.write(f"\n==== start #{self.starts} SHOP_CRASH_AT={crash_at}\n".encode())
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", "--config", str(self.cfg_path),
                cwd=ROOT, env=env, stdout=log, stderr=log,
            )  # fmt: skip
        self.spec, self.starts = crash_at, self.starts + 1
        deadline = time.monotonic() + 20
        while len(self.emu.calls_of("getUpdates")) <= polls:
            if self.proc.returncode is not None:
                return  # died during start-up (a crash point in recovery): caller sees it
            if time.monotonic() > deadline:
                raise TimeoutError(f"bot did not start; see {self.log_path}")
            await asyncio.sleep(0.02)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def kill(self) -> Death | None:
        """SIGKILL the bot now (a random crash); None if it was not running."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        return self._died("kill")

    async def wait_death(self, timeout: float) -> Death | None:  # noqa: ASYNC109
        """Wait for the process to die by itself (a crash point); None on timeout."""
        assert self.proc is not None
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            return None
        return self._died(self._crash_point_hit() or "exit")

    def _crash_point_hit(self) -> str | None:
        tail = self.log_path.read_bytes()[-4000:].decode(errors="replace")
        found = re.findall(r"CRASHPOINT (\w+):\d+", tail.split("==== start")[-1])
        return found[-1] if found else None

    def _died(self, cause: str) -> Death:
        assert self.proc is not None and self.proc.returncode is not None
        if cause == "exit":
            raise AssertionError(f"bot exited on its own ({self.proc.returncode}); see log")
        self.proc = None
        with self.db() as conn:
            rows = conn.execute(
                "SELECT id, status FROM orders WHERE status IN (?, ?)", (st.CREATED, st.SUBMITTING)
            ).fetchall()
        in_flight = {r["id"]: r["status"] for r in rows}
        death = Death(cause, self.spec, in_flight, self._sent_unmarked())
        self.deaths.append(death)
        self.checks.append(asyncio.create_task(self.run_check()))
        return death

    def _sent_unmarked(self) -> list[tuple[int, int, str]]:
        """Outbox rows still pending whose exact message is already on the customer's screen
        (sent as a new message, or for EDITED events shown by editing an earlier one)."""
        found = []
        with self.db() as conn:
            rows = conn.execute("SELECT * FROM outbox WHERE status = 'pending'").fetchall()
        for row in rows:
            html, _ = render(row["event"], json.loads(row["payload"]))
            messages = self._bot_messages(row["chat_id"])
            if row["event"] in EDITED:
                shown = parse_html(html)[0]
                delivered = any(m.text == shown for m in messages)
            else:
                delivered = any(m.source == html for m in messages)
            if delivered:
                found.append((row["id"], row["chat_id"], html))
        return found

    def _bot_messages(self, chat_id: int) -> list[Any]:
        return [m for m in self.emu.chat(chat_id).transcript() if m.from_bot]

    async def run_check(self) -> tuple[int, str]:
        """``python -m bot check`` (it only reads; safe next to a running bot)."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "check", "--config", str(self.cfg_path),
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode(errors="replace")

    # ---- looking at the data -----------------------------------------------------------

    @contextlib.contextmanager
    def db(self) -> Any:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            yield conn
        finally:
            conn.close()

    def orders(self) -> list[sqlite3.Row]:
        with self.db() as conn:
            return conn.execute(
                "SELECT o.*, u.telegram_id FROM orders o JOIN users u ON u.id = o.user_id"
            ).fetchall()

    def order(self, order_id: int) -> sqlite3.Row:
        return next(o for o in self.orders() if o["id"] == order_id)

    def sim_created(self, link: str) -> int:
        return self.sim.orders_created(link=link)

    # ---- invariants --------------------------------------------------------------------

    def assert_recovered(self, death: Death) -> None:
        """After the restart that followed ``death``: nothing it left mid-flight is stuck."""
        by_id = {o["id"]: o for o in self.orders()}
        stuck = {i: by_id[i]["status"] for i in death.in_flight if by_id[i]["status"] not in
                 UNDERSTANDABLE}  # fmt: skip
        assert not stuck, f"after {death.cause}: orders still mid-flight after recovery: {stuck}"

    def assert_never_sent_twice(self) -> None:
        # Links are unique per shop order (see place_order), so a link created twice upstream
        # is one shop order sent twice.
        created = Counter((r.link, r.service) for r in self.sim.add_records if r.order)
        twice = {k: n for k, n in created.items() if n > 1}
        assert not twice, f"panel got the same order twice: {twice}"
        links = Counter(o["link"] for o in self.orders())
        assert all(n == 1 for n in links.values()), f"a link reused: {links.most_common(3)}"
        sim_by_id = {r.order: r for r in self.sim.add_records if r.order}
        for o in self.orders():
            if o["panel_order_id"] is not None:
                add = sim_by_id.get(o["panel_order_id"])
                assert add is not None and add.link == o["link"], f"order {o['id']}: {add}"

    async def final_checks(self, drain_timeout: float = 20.0) -> dict[str, int]:
        """With the last process running: let it drain, then check everything."""
        assert self.alive, "the last process must be running to drain"
        deadline = time.monotonic() + drain_timeout
        while True:
            problems = self._final_problems()
            if not problems or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.25)
        assert not problems, "\n".join(problems[:20])
        self.assert_never_sent_twice()
        results = await asyncio.gather(*self.checks, self.run_check())
        bad = [out for rc, out in results if rc != 0]
        assert not bad, f"{len(bad)} failed `bot check` runs; first:\n{bad[0]}"
        return Counter(o["status"] for o in self.orders())

    def _final_problems(self) -> list[str]:
        problems = []
        with self.db() as conn:
            outbox = {r["dedupe_key"]: r for r in conn.execute("SELECT * FROM outbox")}
        for o in self.orders():
            if o["status"] not in UNDERSTANDABLE:
                problems.append(f"order {o['id']} left in {o['status']}")
            if o["status"] in (st.PENDING, st.PROCESSING, st.IN_PROGRESS):
                problems.append(f"order {o['id']} still {o['status']} (not finished yet)")
            event = TERMINAL_EVENTS.get(o["status"])
            if event is None:
                continue
            row = outbox.get(f"order:{o['id']}:{o['status']}")
            if row is None or row["status"] != "sent":
                problems.append(f"order {o['id']} {o['status']}: outbox {row and row['status']}")
                continue
            html, _ = render(row["event"], json.loads(row["payload"]))
            if not any(m.source == html for m in self._bot_messages(o["telegram_id"])):
                problems.append(f"order {o['id']} {o['status']}: not in the customer's chat")
        return problems


# ---- customers and admins, through chat only ---------------------------------------------


async def step(u: FakeUser, act: Any, expect: str | re.Pattern[str]) -> Any:
    await act
    return await u.wait_for(expect, timeout=STEP_TIMEOUT)


async def place_order(u: FakeUser, link: str, quantity: int, patience: float = PATIENCE) -> str:
    """🛒 주문하기 → 인스타그램 → 한국인 팔로워 → link → quantity → ✅ 확인; retried through
    crashes.

    Returns the bot's final answer (placed, replayed, duplicate, review or failed)."""
    deadline = time.monotonic() + patience
    attempt = 0
    while time.monotonic() < deadline:
        attempt += 1
        # A fresh link per attempt: if a lost reply hid a placed order, the retry is a new
        # order, so every link belongs to at most one shop order (exact per-order checks).
        link_now = f"{link}a{attempt}"
        try:
            last = u.last_bot_message()
            if last is not None and "o:ok:" in str(last.reply_markup):
                # A card is still waiting (its press was lost in a crash): press it again.
                return (await step(u, u.press("✅ 확인"), ORDER_REPLY)).text
            await step(u, u.send_text("🛒 주문하기"), "플랫폼")
            await step(u, u.press(re.compile(r"^📸 인스타그램")), "카테고리")
            await step(u, u.press("인스타그램 한국인 팔로워"), r"\(1/\d+\)")
            await step(u, u.press(re.compile(r"^#\d+ 인스타 한국인 팔로워")), "추정치")
            await step(u, u.press("🛒 주문하기"), "링크")
            await step(u, u.send_text(link_now), "수량")
            await step(u, u.send_text(str(quantity)), "주문 확인")
            return (await step(u, u.press("✅ 확인"), ORDER_REPLY)).text
        except (TimeoutError, LookupError):
            with contextlib.suppress(TimeoutError):
                await step(u, u.send_text("/start"), ".")
    raise AssertionError(f"customer {u.id} could not order {link}")


async def request_topup(u: FakeUser, amount: int, patience: float = PATIENCE) -> None:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        try:
            await step(u, u.send_text("💳 잔액충전"), "충전 방법|확인 대기 중")
            if "확인 대기 중" in (u.last_bot_message().text if u.last_bot_message() else ""):
                return  # a request from an earlier (crashed) attempt is already pending
            await step(u, u.press("🏦 무통장입금"), "충전하실 금액")
            await step(u, u.send_text(str(amount)), "입금하실 분의 성함")
            await step(u, u.send_text(f"고객{u.id}"), r"충전 요청 .*접수|이미 있어요")
            with contextlib.suppress(TimeoutError, LookupError):
                await step(u, u.press("사진 없이 완료"), ".")
            return
        except (TimeoutError, LookupError):
            with contextlib.suppress(TimeoutError):
                await step(u, u.send_text("/start"), ".")
    raise AssertionError(f"customer {u.id} could not request a top-up")


async def admin_approver(h: CrashHarness, stop: asyncio.Event) -> None:
    """The admin presses 승인 on every top-up alert the notifier delivered (again after a
    crash: a repeated approval must change nothing)."""
    admin = h.emu.user(ADMIN_ID, first_name="관리자", language_code="ko")
    pressed: Counter[int] = Counter()
    last: dict[int, float] = {}
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        for m in admin.bot_messages():
            # A decided alert loses its buttons; one still showing 승인 was not decided
            # (its press may have been lost with a killed process), so press it again,
            # like a real admin would, a few seconds apart.
            labels = m.button_labels()
            due = loop.time() - last.get(m.message_id, -1e9) >= 3.0
            if "승인" in labels and due and pressed[m.message_id] < 20:
                pressed[m.message_id] += 1
                last[m.message_id] = loop.time()
                with contextlib.suppress(LookupError):
                    await admin.press("승인", m)
        await asyncio.sleep(0.5)


async def customer_story(
    h: CrashHarness, uid: int, orders: int, rng: random.Random, think: float = 1.5
) -> None:
    u = h.emu.user(uid, first_name=f"고객{uid}", language_code="ko")
    with contextlib.suppress(TimeoutError):
        await step(u, u.send_text("/start"), ".")
    await request_topup(u, 200_000)
    # 20 alerts to one admin chat go out at Telegram's 1 message/s per chat, between kills.
    await u.wait_for("충전이 완료됐어요", timeout=180, after=0)
    for k in range(orders):
        await asyncio.sleep(rng.uniform(0, think))  # spread orders over the kills
        await place_order(u, f"https://instagram.com/c{uid}x{k}", rng.choice((100, 200, 300)))


@dataclass
class RunReport:
    deaths: list[Death]
    statuses: dict[str, int]
    seconds: float
    starts: int


async def crash_run(
    folder: Path,
    seed: int,
    *,
    customers: int,
    orders_each: int,
    random_kills: int,
    point_rounds: int = 1,
    armed_wait: float = 4.0,
    kill_within: float = 1.0,
    think: float = 1.5,
) -> tuple[CrashHarness, RunReport]:
    """Drive the customers while killing the bot; every named point ``point_rounds`` times.

    All generic checks run inside; the (closed) harness is returned for the caller's
    assertions on its recorded deaths, the database file and the simulator's records."""
    from shop.crashpoints import POINTS

    t0 = time.monotonic()
    async with CrashHarness(folder, seed) as h:
        rng = h.rng
        plan: list[str | None] = [None] * random_kills + [p for p in POINTS] * point_rounds
        rng.shuffle(plan)
        # A top-up approval happens early: arm that point on the very first process.
        plan.remove("after_topup_credit")
        plan.insert(0, "after_topup_credit")
        retries: Counter[str] = Counter()
        stop = asyncio.Event()
        approver = asyncio.create_task(admin_approver(h, stop))
        story = asyncio.gather(
            *(customer_story(h, 1000 + i, orders_each, random.Random(seed * 1000 + i), think)
              for i in range(customers))
        )  # fmt: skip
        try:
            while plan:
                spec = plan.pop(0)
                await h.start(spec)
                _check_previous(h)
                if spec is None:
                    await asyncio.sleep(rng.uniform(0.1, kill_within))
                    await h.kill()
                    continue
                death = await h.wait_death(armed_wait)  # at once if it died starting up
                if death is None:  # the point was not reached in time: retry it later
                    await h.kill()
                    retries[spec] += 1
                    if retries[spec] <= 3:  # e.g. no top-up left to approve: give up
                        plan.insert(min(len(plan), 2), spec)
            await h.start()
            _check_previous(h)
            await asyncio.wait_for(story, 120 + orders_each * think)
            stop.set()
            await approver
            statuses = await h.final_checks()
        finally:
            stop.set()
            story.cancel()
            approver.cancel()
    return h, RunReport(h.deaths, dict(statuses), time.monotonic() - t0, h.starts)


def _check_previous(h: CrashHarness) -> None:
    if h.deaths and h.alive:
        h.assert_recovered(h.deaths[-1])
        h.assert_never_sent_twice()
