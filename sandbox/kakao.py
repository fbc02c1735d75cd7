"""A fake Kakao i Open Builder: KakaoTalk customers talking to the shop's skill over HTTP.

What it models (../shared/kakao-skill.md §9):
- ``Console``: the bot as configured in the Open Builder console: its id, the welcome,
  fallback and router blocks, event blocks, and a pattern table standing in for NLP.
- ``skill_payload``: a real-shaped SkillPayload for one turn.
- ``OpenBuilder``: sends a customer's turn to the skill URL (real HTTP), enforces the
  5-second deadline (a late answer is dropped and the customer sees Kakao's error while
  the server finishes), validates every answer (sandbox/kakao_limits.py) and refuses an
  invalid one as Kakao does: the customer sees the error bubble and the test fails.
  It keeps each customer's transcript and a change journal (for the demo page).
- ``KakaoUser``: the test-side driver: ``enter()`` (welcome block), ``say(text)`` (typed,
  routed to the fallback block), ``tap(label)`` (a button, list item or quick reply,
  exactly as Kakao sends it: a ``block`` action runs its block with ``extra`` as
  ``action.clientExtra`` and ``messageText`` (else the label) as the utterance; a
  ``message`` action is sent as typed text).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from sandbox.kakao_limits import Report, check_http

__all__ = [
    "KAKAO_ERROR_TEXT",
    "Block",
    "Console",
    "Control",
    "KakaoUser",
    "OpenBuilder",
    "SkillError",
    "Turn",
    "skill_payload",
]

# What KakaoTalk shows when a skill answers late, not 200, or with an invalid body.
KAKAO_ERROR_TEXT = "죄송합니다. 잠시 후 다시 시도해 주세요. (스킬 응답 오류)"
DEADLINE_SECONDS = 5.0

TypedExtra = Literal["empty", "null", "missing"]


@dataclass(frozen=True)
class Block:
    id: str
    name: str


def _hex_id(seed: str, n: int = 24) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


@dataclass
class Console:
    """The bot as configured in the Open Builder console (ids are Mongo-like 24 hex)."""

    bot_id: str = field(default_factory=lambda: _hex_id("bot"))
    bot_name: str = "MASK24"
    welcome: Block = field(default_factory=lambda: Block(_hex_id("welcome"), "웰컴 블록"))
    fallback: Block = field(default_factory=lambda: Block(_hex_id("fallback"), "폴백 블록"))
    router: Block = field(default_factory=lambda: Block(_hex_id("router"), "router"))
    skill_id: str = field(default_factory=lambda: _hex_id("skill"))
    # event name -> the event block's bubble; ``{{#current.event.data.KEY}}`` is filled in.
    event_blocks: dict[str, str] = field(
        default_factory=lambda: {"shop_news": "{{#current.event.data.text}}"}
    )
    # The NLP stand-in for ``message`` taps and typed text: first matching pattern wins.
    patterns: list[tuple[re.Pattern[str], Block]] = field(default_factory=list)

    @property
    def blocks(self) -> dict[str, Block]:
        return {b.id: b for b in (self.welcome, self.fallback, self.router)}

    def match(self, utterance: str) -> Block:
        for pattern, block in self.patterns:
            if pattern.search(utterance):
                return block
        return self.fallback


@dataclass(frozen=True)
class Control:
    """Something a customer can tap in a bot bubble."""

    kind: Literal["button", "item", "quick"]
    label: str
    action: str
    message_text: str | None = None
    block_id: str | None = None
    extra: dict[str, Any] | None = None
    url: str | None = None


def controls_of(response: dict[str, Any]) -> tuple[list[Control], list[Control]]:
    """(card buttons and list items, quick replies) of a SkillResponse."""
    template = response.get("template") or {}
    cards: list[Control] = []

    def button(raw: dict[str, Any], kind: Literal["button", "item"], label: str) -> None:
        link = raw.get("link") if isinstance(raw.get("link"), dict) else {}
        cards.append(
            Control(
                kind, label, raw.get("action") or ("webLink" if link else ""),
                raw.get("messageText"), raw.get("blockId"), raw.get("extra"),
                raw.get("webLinkUrl") or link.get("web"),
            )
        )  # fmt: skip

    def walk(name: str, body: dict[str, Any]) -> None:
        if name == "carousel":
            for item in body.get("items") or []:
                walk(body.get("type", ""), item)
            return
        if name == "listCard":
            for item in body.get("items") or []:
                if item.get("action") or item.get("link"):
                    button(item, "item", item.get("title", ""))
        for b in body.get("buttons") or []:
            button(b, "button", b.get("label", ""))

    for output in template.get("outputs") or []:
        for name, body in output.items():
            if isinstance(body, dict):
                walk(name, body)
    quick = [
        Control("quick", q.get("label", ""), q.get("action", ""), q.get("messageText"),
                q.get("blockId"), q.get("extra"))
        for q in template.get("quickReplies") or []
    ]  # fmt: skip
    return cards, quick


def texts_of(response: dict[str, Any]) -> list[str]:
    """Every visible text of a SkillResponse, in reading order."""
    out: list[str] = []

    def walk(name: str, body: dict[str, Any]) -> None:
        if name == "carousel":
            for item in body.get("items") or []:
                walk(body.get("type", ""), item)
            return
        if name == "simpleText":
            out.append(body.get("text", ""))
            return
        if name == "listCard":
            out.append((body.get("header") or {}).get("title", ""))
            for item in body.get("items") or []:
                out.append(item.get("title", ""))
                if item.get("description"):
                    out.append(item["description"])
        if name == "itemCard":
            for row in body.get("itemList") or []:
                out.append(f"{row.get('title', '')} {row.get('description', '')}")
        for key in ("title", "description"):
            if body.get(key):
                out.append(body[key])

    for output in (response.get("template") or {}).get("outputs") or []:
        for name, body in output.items():
            if isinstance(body, dict):
                walk(name, body)
    return out


# --------------------------------------------------------------------------- payloads


def skill_payload(
    console: Console,
    user: KakaoUser,
    *,
    block: Block,
    utterance: str,
    client_extra: dict[str, Any] | None,
    trigger: str,
    last_block: Block | None = None,
    typed_extra: TypedExtra = "empty",
) -> dict[str, Any]:
    """One turn as Kakao posts it. ``client_extra=None`` is a typed turn, sent as ``{}``,
    ``null`` or without the key (``typed_extra``), since all three occur in the wild."""
    props: dict[str, Any] = {
        "botUserKey": user.key,
        "bot_user_key": user.key,  # captures carry snake_case duplicates
        "plusfriendUserKey": user.plusfriend_key,
        "plusfriend_user_key": user.plusfriend_key,
    }
    if user.is_friend:
        props["isFriend"] = True  # absent (never false) for non-friends and blockers
    action: dict[str, Any] = {
        "id": console.skill_id,
        "name": "shop-skill",
        "params": {},
        "detailParams": {},
    }
    if client_extra is not None:
        action["clientExtra"] = client_extra
    elif typed_extra == "empty":
        action["clientExtra"] = {}
    elif typed_extra == "null":
        action["clientExtra"] = None
    flow: dict[str, Any] = {"trigger": {"type": trigger}}
    if last_block is not None:
        flow["trigger"]["referrerBlock"] = {"id": last_block.id, "name": last_block.name}
        flow["lastBlock"] = {"id": last_block.id, "name": last_block.name}
    return {
        "intent": {"id": block.id, "name": block.name},
        "userRequest": {
            "timezone": "Asia/Seoul",
            "params": {"surface": "Kakaotalk.plusfriend"},
            "block": {"id": block.id, "name": block.name},
            "utterance": utterance,
            "lang": "ko",
            "user": {"id": user.key, "type": "botUserKey", "properties": props},
        },
        "bot": {"id": console.bot_id, "name": console.bot_name},
        "action": action,
        "contexts": [],
        "flow": flow,
    }


# --------------------------------------------------------------------------- turns


class SkillError(AssertionError):
    """The skill's answer was refused (late, not 200, invalid): the customer saw an error."""

    def __init__(self, turn: Turn) -> None:
        super().__init__(f"{turn.error} (after {turn.elapsed * 1000:.0f} ms)")
        self.turn = turn


@dataclass
class Turn:
    """One customer turn and what the customer saw."""

    seq: int
    user_key: str
    utterance: str
    extra: dict[str, Any] | None
    block: Block
    elapsed: float = 0.0
    response: dict[str, Any] | None = None  # None: the customer saw Kakao's error
    error: str | None = None
    report: Report = field(default_factory=Report)
    late: bool = False
    status: int = 0

    @property
    def ok(self) -> bool:
        return self.response is not None

    @property
    def texts(self) -> list[str]:
        return texts_of(self.response) if self.response else [KAKAO_ERROR_TEXT]

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def controls(self) -> list[Control]:
        return controls_of(self.response)[0] if self.response else []

    @property
    def quick_replies(self) -> list[Control]:
        return controls_of(self.response)[1] if self.response else []

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.controls + self.quick_replies]

    @property
    def outputs(self) -> list[dict[str, Any]]:
        return (self.response or {}).get("template", {}).get("outputs", [])


@dataclass
class Bubble:
    """One entry of a customer's chat as KakaoTalk shows it."""

    seq: int
    who: Literal["user", "bot", "error", "event"]
    text: str = ""
    response: dict[str, Any] | None = None
    turn_seq: int | None = None


class _Signal:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:  # noqa: ASYNC109
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(timeout, 0)):
                await self._event.wait()


def _label_matches(label: str | re.Pattern[str], text: str) -> bool:
    if isinstance(label, re.Pattern):
        return bool(label.search(text))
    return label == text


class OpenBuilder:
    """Kakao's side of the skill: posts turns, enforces the deadline, validates answers.

    ``strict``: a refused answer raises SkillError in the driver (tests); the demo and the
    benchmark keep going and only record it (``violations``).
    """

    def __init__(
        self,
        console: Console | None = None,
        skill_url: str = "",
        *,
        deadline: float = DEADLINE_SECONDS,
        strict: bool = True,
        typed_extra: TypedExtra = "empty",
        max_connections: int = 100,
    ) -> None:
        self.console = console or Console()
        self.skill_url = skill_url
        self.deadline = deadline
        self.strict = strict
        self.typed_extra: TypedExtra = typed_extra
        self.users: dict[str, KakaoUser] = {}
        self.transcripts: dict[str, list[Bubble]] = {}
        self.turns: list[Turn] = []
        self.violations: list[Turn] = []  # refused answers (late ones included)
        self.warnings: list[str] = []
        self.late_answers: list[Turn] = []  # answers that came after the deadline
        self.version = 0
        self.closed = False
        self._changed = _Signal()
        self._pending: set[asyncio.Task[Any]] = set()
        pool = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(60.0), limits=pool)

    async def aclose(self) -> None:
        """Wait for the late answers still in flight, then close the HTTP client."""
        self.closed = True
        self._changed.fire()  # release the demo page's long polls
        if self._pending:
            await asyncio.wait(self._pending, timeout=30)
        await self._client.aclose()

    # ---- customers

    def user(self, name: str, *, is_friend: bool = True, key: str | None = None) -> KakaoUser:
        """The customer called ``name`` (created on first use; keys derive from the name)."""
        found = next((u for u in self.users.values() if u.name == name), None)
        if found is not None:
            return found
        seed = f"{self.console.bot_id}:{name}"
        user = KakaoUser(
            self, name, key or key_for(self.console, name), _plusfriend_key(seed),
            is_friend=is_friend,
        )  # fmt: skip
        self.users[user.key] = user
        self.transcripts[user.key] = []
        return user

    def by_key(self, key: str, key_type: str = "botUserKey") -> KakaoUser | None:
        if key_type == "botUserKey":
            return self.users.get(key)
        if key_type == "plusfriendUserKey":
            return next((u for u in self.users.values() if u.plusfriend_key == key), None)
        return None

    # ---- the journal (the demo page long-polls it)

    def _append(self, user_key: str, bubble_kw: dict[str, Any]) -> Bubble:
        self.version += 1
        bubble = Bubble(self.version, **bubble_kw)
        self.transcripts.setdefault(user_key, []).append(bubble)
        self._changed.fire()
        return bubble

    async def wait_changed(self, since: int, timeout: float) -> int:  # noqa: ASYNC109
        if self.version <= since:
            await self._changed.wait(timeout)
        return self.version

    def push_event(self, user: KakaoUser, text: str) -> None:
        """An Event API message reached this customer (called by the fake Event API)."""
        self._append(user.key, {"who": "event", "text": text})

    # ---- one turn

    async def post(
        self,
        user: KakaoUser,
        *,
        utterance: str,
        block: Block,
        extra: dict[str, Any] | None,
        trigger: str,
        deadline: float | None = None,
        expect_error: bool = False,
        show_utterance: bool = True,
    ) -> Turn:
        if not self.skill_url:
            raise RuntimeError("OpenBuilder.skill_url is not set")
        payload = skill_payload(
            self.console, user, block=block, utterance=utterance, client_extra=extra,
            trigger=trigger, last_block=user.last_block, typed_extra=self.typed_extra,
        )  # fmt: skip
        if show_utterance and utterance:
            self._append(user.key, {"who": "user", "text": utterance})
        self.version += 1
        turn = Turn(self.version, user.key, utterance, extra, block)
        user.last_block = block
        limit = self.deadline if deadline is None else deadline
        started = time.perf_counter()
        request = asyncio.ensure_future(self._send(payload))
        try:
            status, ctype, body = await asyncio.wait_for(asyncio.shield(request), limit)
        except TimeoutError:
            turn.elapsed = time.perf_counter() - started
            turn.late = True
            turn.error = f"no answer within the {limit:g} s skill deadline"
            self._pending.add(request)
            request.add_done_callback(lambda t, turn=turn: self._late(turn, t, started))
            return self._finish(user, turn, expect_error)
        except httpx.HTTPError as exc:
            turn.elapsed = time.perf_counter() - started
            turn.error = f"skill unreachable: {exc!r}"
            return self._finish(user, turn, expect_error)
        turn.elapsed = time.perf_counter() - started
        turn.status = status
        data, turn.report = check_http(status, ctype, body)
        self.warnings += turn.report.warnings
        if turn.report.ok:
            turn.response = data
        else:
            turn.error = "; ".join(turn.report.errors[:5])
        return self._finish(user, turn, expect_error)

    async def _send(self, payload: dict[str, Any]) -> tuple[int, str, bytes]:
        resp = await self._client.post(
            self.skill_url,
            json=payload,
            headers={"Content-Type": "application/json;charset=UTF-8"},
        )
        return resp.status_code, resp.headers.get("content-type", ""), resp.content

    def _late(self, turn: Turn, task: asyncio.Task[Any], started: float) -> None:
        self._pending.discard(task)
        if task.cancelled() or task.exception() is not None:
            return
        status, ctype, body = task.result()
        late = Turn(turn.seq, turn.user_key, turn.utterance, turn.extra, turn.block,
                    time.perf_counter() - started, status=status, late=True)  # fmt: skip
        data, late.report = check_http(status, ctype, body)
        late.response = data if late.report.ok else None
        self.late_answers.append(late)

    def _finish(self, user: KakaoUser, turn: Turn, expect_error: bool) -> Turn:
        self.turns.append(turn)
        user.turns.append(turn)
        if turn.response is not None:
            self._append(user.key, {"who": "bot", "response": turn.response,
                                    "turn_seq": turn.seq})  # fmt: skip
        else:
            self.violations.append(turn)
            self._append(user.key, {"who": "error", "text": KAKAO_ERROR_TEXT})
            if self.strict and not expect_error:
                raise SkillError(turn)
        return turn

    async def post_raw(self, body: Any, *, content: bytes | None = None) -> httpx.Response:
        """Post anything to the skill (malformed payloads, foreign bots): no validation."""
        if content is not None:
            return await self._client.post(
                self.skill_url, content=content, headers={"Content-Type": "application/json"}
            )
        return await self._client.post(self.skill_url, json=body)


def key_for(console: Console, name: str) -> str:
    """The botUserKey of the customer called ``name`` (66 hex digits, like captured ones)."""
    digest = hashlib.sha256(f"{console.bot_id}:{name}".encode()).hexdigest()
    return digest + digest[:2]


def _plusfriend_key(seed: str) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    n = int(hashlib.sha256(("pf" + seed).encode()).hexdigest(), 16)
    out = []
    for _ in range(12):
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
    return "".join(out)


_TRIGGERS = {
    ("quick", "block"): "QUICKREPLY_BUTTON_BLOCK",
    ("quick", "message"): "QUICKREPLY_BUTTON_MESSAGE",
    ("button", "block"): "CARD_BUTTON_BLOCK",
    ("button", "message"): "CARD_BUTTON_MESSAGE",
    ("item", "block"): "LIST_ITEM_BLOCK",
    ("item", "message"): "LIST_ITEM_MESSAGE",
}


@dataclass
class KakaoUser:
    """A KakaoTalk customer of the channel (test-side driver)."""

    ob: OpenBuilder
    name: str
    key: str  # botUserKey
    plusfriend_key: str
    is_friend: bool = True
    blocked: bool = False
    last_block: Block | None = None
    turns: list[Turn] = field(default_factory=list)

    @property
    def last(self) -> Turn:
        return self.turns[-1]

    @property
    def transcript(self) -> list[Bubble]:
        return self.ob.transcripts.get(self.key, [])

    def events(self) -> list[str]:
        """Texts pushed to this customer through the Event API."""
        return [b.text for b in self.transcript if b.who == "event"]

    async def enter(self, **kw: Any) -> Turn:
        """Open the chat room: the welcome block (utterance empty, nothing tapped) (L)."""
        return await self.ob.post(
            self, utterance="", block=self.ob.console.welcome, extra=None, trigger="WELCOME", **kw
        )

    async def say(self, text: str, **kw: Any) -> Turn:
        """Type a message: matched by the console's NLP table, else the fallback block."""
        block = self.ob.console.match(text)
        return await self.ob.post(
            self, utterance=text, block=block, extra=None, trigger="TEXT_INPUT", **kw
        )

    def find(self, label: str | re.Pattern[str], turn: Turn | None = None) -> tuple[Control, Turn]:
        """A control by label: quick replies of the newest answer only (KakaoTalk hides
        older ones), card buttons and list items of any answer, newest first."""
        if turn is not None:
            candidates = [(c, turn) for c in turn.controls + turn.quick_replies]
        else:
            answered = [t for t in reversed(self.turns) if t.ok]
            candidates = []
            if answered and self.turns[-1] is answered[0]:
                candidates += [(c, answered[0]) for c in answered[0].quick_replies]
            for t in answered:
                candidates += [(c, t) for c in t.controls]
        for control, t in candidates:
            if _label_matches(label, control.label):
                return control, t
        newest = [c.label for c, _ in candidates[:15]]
        raise LookupError(f"nothing labelled {label!r} to tap; newest: {newest}")

    def has(self, label: str | re.Pattern[str]) -> bool:
        try:
            self.find(label)
        except LookupError:
            return False
        return True

    async def tap(self, label: str | re.Pattern[str], turn: Turn | None = None, **kw: Any) -> Turn:
        control, _ = self.find(label, turn)
        return await self.tap_control(control, **kw)

    async def tap_control(self, control: Control, **kw: Any) -> Turn:
        console = self.ob.console
        if control.action == "block":
            block = console.blocks.get(control.block_id or "")
            if block is None:
                raise AssertionError(
                    f"{control.label!r} targets block {control.block_id!r}, unknown to the console"
                )
            # A block button without messageText posts its label (a list item its title).
            utterance = control.message_text or control.label
            return await self.ob.post(
                self, utterance=utterance, block=block, extra=dict(control.extra or {}),
                trigger=_TRIGGERS[(control.kind, "block")], **kw,
            )  # fmt: skip
        if control.action == "message":
            # Re-matched like typed text; the extra of a message action is not relied on.
            text = control.message_text or control.label
            return await self.ob.post(
                self, utterance=text, block=console.match(text), extra=None,
                trigger=_TRIGGERS[(control.kind, "message")], **kw,
            )  # fmt: skip
        raise AssertionError(f"{control.label!r} ({control.action}) does not talk to the skill")

    def all_controls(self) -> Iterator[Control]:
        for t in self.turns:
            yield from t.controls
