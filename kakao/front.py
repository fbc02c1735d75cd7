"""The KakaoTalk front: one skill call → one chat/ turn → one SkillResponse, within 4 s.

A turn: the customer (``users.ensure_front("kakao", botUserKey)``), their conversation
state from the shop database (``shop.conversations``), the event — a tapped control's
``extra`` (``{"d": data}`` → ``Tap``; ``{"k": "more"|"home"}`` → the front's own
controls), typed text (시작 / 메뉴 / 처음으로 → ``Command("start")``, which leaves any
unfinished order without charge; the welcome block's empty utterance too) — then
``Dialog.handle``, news not delivered yet (``KakaoNews.take_for``), and the rendered answer.

The 4-second budget (Kakao gives up at 5 s and shows the customer an error, while our side
may still commit): the turn runs as a task; when it is not done in time the customer is
told their request was received, the turn finishes anyway, and its answer is shown at
their next message ("missed"). Confirming an order passes the time left to the shop
(``orders.place(submit_within=…)``), so the panel call is what goes past the answer, never
the debit. One customer's turns run one at a time; different customers concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from chat.dialog import Dialog
from chat.i18n import t
from chat.menu import is_home_word
from chat.screens import MAX_DATA_BYTES, Screen
from chat.turns import Command, Event, Tap, Text, Turn
from kakao.event_api import EventApiClient
from kakao.news import KakaoNews
from kakao.payload import SkillRequest
from kakao.render import KAKAO, Controls, Page, render, render_rest, text_response
from shop.models import User
from shop.shop import Shop

log = logging.getLogger(__name__)

FRONT = "kakao"
# Kakao waits 5 s; our answers are out within 4 s. The clock starts when the handler runs,
# so half a second is kept for a busy event loop (before the handler, and sending after).
BUDGET_SECONDS = 3.5
SAVE_MARGIN = 0.3  # rendering and saving after the dialog answered
MAX_QUEUED = 3  # a customer's turns waiting behind each other; more are told to wait


@dataclass(frozen=True)
class KakaoSettings:
    bot_id: str | None = None  # refuse payloads from any other bot when set
    router_block_id: str | None = None  # None: controls are message actions (labels)
    budget: float = BUDGET_SECONDS


@dataclass
class _Flag:
    late: bool = False


class KakaoFront:
    def __init__(
        self,
        shop: Shop,
        settings: KakaoSettings,
        news: KakaoNews | None = None,
        dialog: Dialog | None = None,
    ) -> None:
        self.shop = shop
        self.settings = settings
        self.news = news or KakaoNews(shop, None)
        self.dialog = dialog or Dialog(shop)
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._turns: set[asyncio.Task[dict[str, Any]]] = set()

    @classmethod
    def create(
        cls,
        shop: Shop,
        *,
        bot_id: str | None = None,
        router_block_id: str | None = None,
        event_api_url: str | None = None,
        rest_api_key: str | None = None,
        event_name: str | None = None,
        budget: float = BUDGET_SECONDS,
    ) -> KakaoFront:
        """The front as configured; the Event API only when its three parts are given."""
        client = None
        if event_api_url and rest_api_key and bot_id and event_name:
            client = EventApiClient(event_api_url, rest_api_key, bot_id, event_name)
        settings = KakaoSettings(bot_id, router_block_id, budget)
        return cls(shop, settings, KakaoNews(shop, client))

    async def drain(self) -> int:
        """The outbox job's call: push due news through the Event API (when configured)."""
        return await self.news.drain()

    async def idle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait for the turns still running (those that missed their deadline included)."""
        if self._turns:
            await asyncio.wait(set(self._turns), timeout=timeout)

    async def aclose(self) -> None:
        """Let running turns and deferred panel calls finish, then close the Event API."""
        await self.idle()
        await self.shop.orders.wait_background(15)
        await self.news.aclose()

    def accepts_bot(self, bot_id: str | None) -> bool:
        want = self.settings.bot_id
        return not want or (bot_id or "").rstrip("!") == want.rstrip("!")

    # ---- one skill call -----------------------------------------------------------------

    async def answer(self, req: SkillRequest, deadline: float) -> dict[str, Any]:
        """The SkillResponse for ``req``, by ``deadline`` (event-loop time) at the latest."""
        loop = asyncio.get_running_loop()
        claim = self._claim(req.user_key)
        if claim is None:
            return self._note(req.lang, "kakao.busy")  # a flood: not queued, not run
        flag = _Flag()
        task = asyncio.create_task(self._turn(req, flag, deadline, claim))
        self._turns.add(task)
        task.add_done_callback(self._turn_done)
        done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - loop.time()))
        if task in done:
            if task.exception() is None:
                return task.result()
            return self._note(req.lang, "kakao.error")
        flag.late = True  # the turn keeps going; its answer waits for the next message
        log.info("kakao: a turn of %s took over %.1f s", req.user_key[:8], self.settings.budget)
        return self._note(req.lang, "kakao.slow")

    def _turn_done(self, task: asyncio.Task[dict[str, Any]]) -> None:
        self._turns.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("kakao turn failed", exc_info=task.exception())

    def _note(self, lang: str, key: str) -> dict[str, Any]:
        controls = Controls(self.settings.router_block_id)
        return text_response(t(lang, key), [controls.quick(t(lang, "common.home"), {"k": "home"})])

    def _claim(self, key: str) -> tuple[asyncio.Lock, list[int]] | None:
        """A place in the customer's queue of turns (counted at once, before any await)."""
        lock, users = self._locks.setdefault(key, (asyncio.Lock(), [0]))
        if users[0] >= MAX_QUEUED:
            return None
        users[0] += 1
        return lock, users

    def _release(self, key: str, users: list[int]) -> None:
        users[0] -= 1
        if users[0] == 0:
            self._locks.pop(key, None)

    @contextlib.asynccontextmanager
    async def _lock(self, key: str) -> AsyncIterator[None]:
        """One customer's turns one at a time."""
        claim = self._claim(key)
        if claim is None:
            raise RuntimeError("too many turns queued")
        lock, users = claim
        try:
            async with lock:
                yield
        finally:
            self._release(key, users)

    async def _turn(
        self,
        req: SkillRequest,
        flag: _Flag,
        deadline: float,
        claim: tuple[asyncio.Lock, list[int]],
    ) -> dict[str, Any]:
        lock, users = claim
        try:
            user = await self.shop.users.ensure_front(FRONT, req.user_key, "", req.lang)
            async with lock:
                return await self._locked_turn(req, user, flag, deadline)
        finally:
            self._release(req.user_key, users)

    async def _locked_turn(
        self, req: SkillRequest, user: User, flag: _Flag, deadline: float
    ) -> dict[str, Any]:
        record = await self.shop.conversations.load(FRONT, user.id)
        chat_state = record.get("chat") if isinstance(record.get("chat"), dict) else {}
        mine = record.get("kakao") if isinstance(record.get("kakao"), dict) else {}
        page, chat_state = await self._page(req, user, chat_state, mine, deadline)
        saved = {"labels": page.labels, "rest": page.rest}
        if flag.late:
            saved["missed"] = self._missed(page)
        await self.shop.conversations.save(FRONT, user.id, {"chat": chat_state,
                                                            "kakao": saved})  # fmt: skip
        if flag.late and "missed" not in saved:  # the deadline passed while saving
            saved["missed"] = self._missed(page)
            await self.shop.conversations.save(FRONT, user.id, {"chat": chat_state,
                                                                "kakao": saved})  # fmt: skip
        return page.response

    @staticmethod
    def _missed(page: Page) -> dict[str, Any]:
        template = page.response["template"]
        return {"outputs": template["outputs"], "quick": template.get("quickReplies", []),
                "labels": page.labels}  # fmt: skip

    async def _page(
        self,
        req: SkillRequest,
        user: User,
        chat_state: dict[str, Any],
        mine: dict[str, Any],
        deadline: float,
    ) -> tuple[Page, dict[str, Any]]:
        lang = user.language
        router = self.settings.router_block_id
        before, known = [], {}
        missed = mine.get("missed")
        if isinstance(missed, dict) and missed.get("outputs"):
            before = [{"simpleText": {"text": t(lang, "kakao.missed")}}, *missed["outputs"]]
            known = dict(missed.get("labels") or {})
        event = self._event(req, mine)
        if event == "more" and isinstance(mine.get("rest"), dict):
            return render_rest(mine["rest"], lang, router, before=before, known=known), chat_state
        if event == "more":
            event = Command("start")
        within = max(0.1, deadline - asyncio.get_running_loop().time() - SAVE_MARGIN)
        reply = await self.dialog.handle(Turn(user, lang, KAKAO, chat_state, event, within))
        screens: list[Screen] = []
        news = await self.news.take_for(user.id)
        if news:  # one bubble: the header, every item, their choices (e.g. 상세보기)
            text = "\n\n".join([t(lang, "kakao.news"), *(n.text for n in news)])
            rows = tuple(row for n in news for row in n.rows)
            screens.append(Screen(text, rows, kind="kakao.news"))
        toast = html.escape(reply.toast or "")
        # Telegram pops a toast up over the message; here it is a bubble of its own, unless
        # the screen already says it (a cancel request's answer above the order's details).
        if toast and not any(toast in s.text for s in reply.screens):
            screens.append(Screen(toast, kind="kakao.toast"))
        screens += reply.screens
        menu = [c for row in self.dialog.main_menu(lang, KAKAO) for c in row]
        page = render(screens, lang, router, menu, before=before, known=known)
        return page, reply.state

    def _event(self, req: SkillRequest, mine: dict[str, Any]) -> Event | str:
        extra = req.extra
        text = req.utterance.strip()
        if not extra and text:
            labels = mine.get("labels") if isinstance(mine.get("labels"), dict) else {}
            mapped = labels.get(text)  # a message-action control, or a label typed as is
            if isinstance(mapped, dict):
                extra = mapped
        kind, data = extra.get("k"), extra.get("d")
        if kind == "more":
            return "more"
        if kind == "home":
            return Command("start")
        if isinstance(data, str) and data and data.isascii():
            if len(data.encode()) <= MAX_DATA_BYTES:
                return Tap(data)
        if not text or is_home_word(text):
            return Command("start")  # the welcome block, or 시작 / 메뉴 / 처음으로
        return Text(text)
