"""A local Telegram Bot API emulator for the demo and the tests.

A real HTTP server (Starlette + uvicorn) that speaks enough of the Bot API for a
python-telegram-bot Application doing long polling against
``ApplicationBuilder().token(T).base_url(server.base_url)``, plus a Python API with which
tests (or, later, a browser chat page) act as customers.

Layout:
- ``parse_html``: Telegram's HTML subset -> (plain text, entities); strict, so unescaped
  user input fails here like it fails on Telegram.
- ``BotApiEmulator``: the in-memory core (users, chats, transcripts, update queue, method
  handlers, flood limits, fault injection, an event journal with a change signal).
- ``FakeUser``: a customer's view (send text/commands, press buttons, pay, wait for replies).
- ``create_app`` / ``serve_telegram``: the thin HTTP layer over the core.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import math
import re
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Any, Literal
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "ApiCall",
    "ApiError",
    "BotApiEmulator",
    "CallbackAnswer",
    "Chat",
    "Event",
    "FakeUser",
    "FloodLimits",
    "HtmlParseError",
    "PaymentRejected",
    "RecordedMessage",
    "TelegramServer",
    "UploadedFile",
    "create_app",
    "parse_html",
    "serve_telegram",
]

# Telegram's limits, refused with Telegram's own words (error_code 400). Sources: the Bot
# API docs, tdlib/telegram-bot-api (Client.cpp), python-telegram-bot's constants.py and
# developers' reports collected at tginfo/Telegram-Limits issues #187 and #228.
MAX_TEXT = 4096  # characters (code points) after entity parsing: "message is too long"
MAX_CAPTION = 1024  # "message caption is too long"
MAX_RAW_TEXT_BYTES = 1 << 15  # the Bot API's own cap on the text before parsing
MAX_CALLBACK_DATA_BYTES = 64  # "BUTTON_DATA_INVALID"
MAX_INLINE_BUTTONS = 100
MAX_INLINE_PER_ROW = 8
MAX_REPLY_BUTTONS = 300
MAX_REPLY_PER_ROW = 12
MAX_MARKUP_BYTES = 10 * 1024  # compact JSON of reply_markup, UTF-8: "about 10 KB" (#187)
MARKUP_TOO_LONG = "reply markup is too long"  # REPLY_MARKUP_TOO_LONG as the Bot API words it
CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
# Telegram leaves these out unless allowed_updates names them explicitly.
_NOT_DEFAULT_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
# Methods that put a message on the user's screen: the ones Telegram's flood control counts.
FLOOD_METHODS = {"sendMessage", "sendInvoice", "sendPhoto", "editMessageText"}
_CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_INLINE_ACTIONS = {
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "web_app",
    "copy_text",
}


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """A Bot API error answer: HTTP status, description and optional parameters."""

    def __init__(self, status: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def _too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


class PaymentRejected(Exception):
    """The bot answered a pre-checkout query with ok=False."""

    def __init__(self, error_message: str) -> None:
        super().__init__(error_message)
        self.error_message = error_message


class HtmlParseError(ValueError):
    """Text is not valid Telegram HTML (message mirrors Telegram's wording)."""


# --------------------------------------------------------------------------- HTML subset


def utf16_len(text: str) -> int:
    """Telegram measures entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,7}|[a-zA-Z][a-zA-Z0-9]*);")
_TAG_START_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)")
_ATTR_RE = re.compile(
    r"""\s*([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?"""
)
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "pre": "pre",
}


@dataclass
class _OpenTag:
    name: str
    etype: str | None
    start: int
    extra: dict[str, Any] = field(default_factory=dict)


class _HtmlParser:
    """Single pass over the source; emits plain text and entities (UTF-16 offsets)."""

    def __init__(self, source: str) -> None:
        self.src = source
        self.out: list[str] = []
        self.pos16 = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        i, n = 0, len(self.src)
        while i < n:
            ch = self.src[i]
            if ch == "<":
                i = self._tag(i)
            elif ch == "&":
                i = self._entity(i)
            else:
                i = self._plain(i)
        if self.stack:
            name = self.stack[-1].name
            raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{name}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def _byte(self, i: int) -> int:
        return len(self.src[:i].encode())

    def _emit(self, text: str) -> None:
        self.out.append(text)
        self.pos16 += utf16_len(text)

    def _plain(self, i: int) -> int:
        ends = [j for j in (self.src.find("<", i), self.src.find("&", i)) if j != -1]
        j = min(ends) if ends else len(self.src)
        self._emit(self.src[i:j])
        return j

    def _entity(self, i: int) -> int:
        m = _ENTITY_RE.match(self.src, i)
        if not m:
            raise HtmlParseError(f'Unescaped "&" at byte offset {self._byte(i)}; use &amp;')
        body = m.group(1)
        if body.startswith("#"):
            code = int(body[2:], 16) if body[1:2] in ("x", "X") else int(body[1:])
            if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                raise HtmlParseError(f"Invalid character entity at byte offset {self._byte(i)}")
            self._emit(chr(code))
        elif body in _NAMED_ENTITIES:
            self._emit(_NAMED_ENTITIES[body])
        else:
            raise HtmlParseError(
                f'Unsupported HTML entity "&{body};" at byte offset {self._byte(i)}'
            )
        return m.end()

    def _tag(self, i: int) -> int:
        m = _TAG_START_RE.match(self.src, i)
        if not m:
            raise HtmlParseError(f'Unescaped "<" at byte offset {self._byte(i)}; use &lt;')
        end = self.src.find(">", m.end())
        if end == -1:
            raise HtmlParseError(f"Unclosed start tag at byte offset {self._byte(i)}")
        closing, name, rest = m.group(1) == "/", m.group(2).lower(), self.src[m.end() : end]
        if closing:
            self._close(name, rest, i)
        else:
            self._open(name, self._attrs(rest, name, i), i)
        return end + 1

    def _attrs(self, rest: str, name: str, i: int) -> dict[str, str]:
        attrs: dict[str, str] = {}
        pos = 0
        while pos < len(rest) and rest[pos:].strip():
            m = _ATTR_RE.match(rest, pos)
            if not m or m.end() == pos:
                raise HtmlParseError(
                    f'Unsupported start tag "{name}" at byte offset {self._byte(i)}'
                )
            value = next((g for g in m.groups()[1:] if g is not None), "")
            attrs[m.group(1).lower()] = html.unescape(value)
            pos = m.end()
        return attrs

    def _unsupported(self, name: str, i: int) -> HtmlParseError:
        return HtmlParseError(f'Unsupported start tag "{name}" at byte offset {self._byte(i)}')

    def _open(self, name: str, attrs: dict[str, str], i: int) -> None:
        tag = _OpenTag(name, _SIMPLE_TAGS.get(name), self.pos16)
        if name == "a":
            href = attrs.get("href")
            tag.etype, tag.extra = ("text_link", {"url": href}) if href else (None, {})
        elif name == "span":
            if attrs.get("class") != "tg-spoiler":
                raise self._unsupported(name, i)
            tag.etype = "spoiler"
        elif name == "code":
            tag.etype = self._code_type(attrs)
        elif name == "blockquote":
            tag.etype = "expandable_blockquote" if "expandable" in attrs else "blockquote"
        elif name == "tg-emoji":
            if "emoji-id" not in attrs:
                raise self._unsupported(name, i)
            tag.etype, tag.extra = "custom_emoji", {"custom_emoji_id": attrs["emoji-id"]}
        elif name not in _SIMPLE_TAGS:
            raise self._unsupported(name, i)
        self.stack.append(tag)

    def _code_type(self, attrs: dict[str, str]) -> str | None:
        # <pre><code class="language-x"> is one pre entity with a language, not two entities.
        parent = self.stack[-1] if self.stack else None
        if parent is None or parent.name != "pre":
            return "code"
        lang = attrs.get("class", "")
        if lang.startswith("language-"):
            parent.extra["language"] = lang.removeprefix("language-")
        return None

    def _close(self, name: str, rest: str, i: int) -> None:
        if rest.strip():
            raise HtmlParseError(f"Unexpected end tag at byte offset {self._byte(i)}")
        if not self.stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {self._byte(i)}")
        top = self.stack[-1]
        if top.name != name:
            raise HtmlParseError(
                f'Unmatched end tag at byte offset {self._byte(i)}, expected "</{top.name}>", '
                f'found "</{name}>"'
            )
        self.stack.pop()
        length = self.pos16 - top.start
        if top.etype and length > 0:
            self.entities.append(
                {"type": top.etype, "offset": top.start, "length": length, **top.extra}
            )


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram's HTML subset into (plain text, MessageEntity dicts).

    Raises HtmlParseError for unsupported tags/entities, unbalanced tags and any bare
    "<" or "&" (the usual symptom of unescaped user input). A bare ">" is accepted, as on
    Telegram.
    """
    return _HtmlParser(source).parse()


def _strip_with_entities(
    text: str, entities: list[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    """Telegram trims surrounding whitespace; shift/clip entities to match."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead16 = utf16_len(text[: len(text) - len(text.lstrip())])
    size16 = utf16_len(stripped)
    kept = []
    for ent in entities:
        start = max(ent["offset"] - lead16, 0)
        end = min(ent["offset"] + ent["length"] - lead16, size16)
        if end > start:
            kept.append({**ent, "offset": start, "length": end - start})
    return stripped, kept


_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


def _command_entities(text: str) -> list[dict[str, Any]]:
    """Telegram marks a leading /command as a bot_command entity (PTB's CommandHandler needs it)."""
    m = _COMMAND_RE.match(text)
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(m.group(0))}] if m else []


# --------------------------------------------------------------------------- models


@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class UserInfo:
    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = None

    def to_api(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                d[key] = getattr(self, key)
        return d

    def chat_api(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        for key in ("last_name", "username"):
            if getattr(self, key):
                d[key] = getattr(self, key)
        return d


@dataclass(frozen=True)
class MessageVersion:
    """A previous state of an edited message."""

    text: str
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    seq: int


@dataclass(eq=False)
class RecordedMessage:
    """One message in a chat transcript, from the bot or from the user.

    ``text`` is what the user sees: the message text, a photo's caption or an invoice's
    title and description. ``source`` is the text as the bot sent it (before parse_mode).
    """

    chat: dict[str, Any]
    sender: dict[str, Any]
    message_id: int
    from_bot: bool
    kind: str  # text | photo | sticker | invoice | successful_payment
    date: int
    text: str = ""
    entities: list[dict[str, Any]] = field(default_factory=list)
    source: str | None = None
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None  # inline keyboard (echoed back by Telegram)
    reply_keyboard: dict[str, Any] | None = None  # reply keyboard/remove/force_reply sent along
    extra: dict[str, Any] = field(default_factory=dict)  # photo/sticker/invoice/... API fields
    invoice_params: dict[str, Any] | None = None  # payload, prices, provider_token (not shown)
    reply_to: RecordedMessage | None = None
    edit_date: int | None = None
    history: list[MessageVersion] = field(default_factory=list)
    deleted: bool = False
    seq: int = 0  # event sequence number of its creation
    last_seq: int = 0  # ... and of its latest change

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    @property
    def invoice(self) -> dict[str, Any] | None:
        return self.extra.get("invoice")

    def button_rows(self) -> list[list[dict[str, Any]]]:
        if not self.reply_markup:
            return []
        return [list(row) for row in self.reply_markup.get("inline_keyboard", [])]

    def buttons(self) -> list[dict[str, Any]]:
        return [b for row in self.button_rows() for b in row]

    def button_labels(self) -> list[str]:
        return [b["text"] for b in self.buttons()]

    def to_api(self, *, with_reply: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "message_id": self.message_id,
            "from": self.sender,
            "chat": self.chat,
            "date": self.date,
        }
        if self.kind == "text":
            d["text"] = self.text
            if self.entities:
                d["entities"] = self.entities
        elif self.kind == "photo" and self.text:
            d["caption"] = self.text
            if self.entities:
                d["caption_entities"] = self.entities
        d.update(self.extra)
        if self.reply_markup:
            d["reply_markup"] = self.reply_markup
        if self.edit_date:
            d["edit_date"] = self.edit_date
        if with_reply and self.reply_to is not None:
            d["reply_to_message"] = self.reply_to.to_api(with_reply=False)
        return d

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view for a chat page."""
        return {
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "from_bot": self.from_bot,
            "kind": self.kind,
            "text": self.text,
            "entities": self.entities,
            "buttons": [
                [{k: b[k] for k in ("text", "callback_data", "url") if k in b} for b in row]
                for row in self.button_rows()
            ],
            "reply_keyboard": self.reply_keyboard,
            "invoice": self.invoice,
            "edited": bool(self.history),
            "deleted": self.deleted,
            "date": self.date,
            "seq": self.seq,
            "last_seq": self.last_seq,
        }

    def __repr__(self) -> str:
        who = "bot" if self.from_bot else "user"
        return f"<RecordedMessage {self.chat_id}/{self.message_id} {who} {self.kind} {self.text!r}>"


@dataclass
class Chat:
    """A private chat (chat id == user id) and its transcript."""

    user: UserInfo
    started: bool = True  # False: the user never wrote, so the bot may not initiate
    blocked: bool = False
    messages: list[RecordedMessage] = field(default_factory=list)
    by_id: dict[int, RecordedMessage] = field(default_factory=dict)
    next_message_id: int = 1
    keyboard: dict[str, Any] | None = None  # latest ReplyKeyboardMarkup, None once removed

    @property
    def id(self) -> int:
        return self.user.id

    def transcript(self, include_deleted: bool = False) -> list[RecordedMessage]:
        return [m for m in self.messages if include_deleted or not m.deleted]

    def keyboard_rows(self) -> list[list[str]]:
        if not self.keyboard:
            return []
        return [
            [b if isinstance(b, str) else str(b.get("text", "")) for b in row]
            for row in self.keyboard.get("keyboard", [])
        ]


@dataclass(frozen=True)
class Event:
    """One entry of the emulator's change journal (seq increases by one per event)."""

    seq: int
    kind: str  # message | edit | delete | callback_answer | precheckout_answer | block | unblock
    chat_id: int | None
    message_id: int | None = None
    from_bot: bool = False
    text: str = ""


@dataclass(frozen=True)
class CallbackAnswer:
    query_id: str
    user_id: int
    text: str | None
    show_alert: bool
    url: str | None
    seq: int


@dataclass
class ApiCall:
    """One recorded Bot API call: decoded params and what the emulator answered."""

    method: str
    params: dict[str, Any]
    status: int = 0
    response: dict[str, Any] | None = None
    fault: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def result(self) -> Any:
        return (self.response or {}).get("result")


@dataclass
class FloodLimits:
    """Telegram-like flood control; off by default. Token buckets: a burst, then a rate."""

    enabled: bool = False
    global_per_sec: float = 30.0
    global_burst: int = 30
    chat_per_sec: float = 1.0
    chat_burst: int = 3  # Telegram tolerates short bursts in one chat


@dataclass
class Fault:
    """An injected failure for the next call(s) of one method.

    kinds: "5xx" (status, default 500; 502/504 answer an nginx-like HTML page),
    "429" (retry_after), "drop" (connection closed before the call is processed),
    "drop_after" (processed, then the connection is closed: the response is lost),
    "hang" (waits ``delay`` seconds before processing, to trigger client timeouts).
    """

    kind: Literal["5xx", "429", "drop", "drop_after", "hang"]
    status: int = 500
    retry_after: int = 5
    delay: float = 30.0


@dataclass
class ApiResponse:
    status: int
    payload: dict[str, Any] | None
    drop: bool = False
    html: str | None = None


# --------------------------------------------------------------------------- helpers


class _Signal:
    """A re-armable broadcast: fire() wakes every current waiter."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:  # noqa: ASYNC109
        event = self._event
        try:
            async with asyncio.timeout(max(timeout, 0)):
                await event.wait()
        except TimeoutError:
            return False
        return True


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class _FloodLimiter:
    def __init__(self, limits: FloodLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._global: _Bucket | None = None
        self._chats: dict[Any, _Bucket] = {}

    def reset(self) -> None:
        self._global, self._chats = None, {}

    @staticmethod
    def _refill(bucket: _Bucket | None, rate: float, burst: int, now: float) -> _Bucket:
        if bucket is None:
            return _Bucket(float(burst), now)
        bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        return bucket

    def acquire(self, chat_key: Any) -> int | None:
        """Take one token from the global and the chat bucket, or return retry_after."""
        lim, now = self.limits, self.clock()
        self._global = self._refill(self._global, lim.global_per_sec, lim.global_burst, now)
        chat = self._refill(self._chats.get(chat_key), lim.chat_per_sec, lim.chat_burst, now)
        self._chats[chat_key] = chat
        waits = [
            (1 - b.tokens) / rate
            for b, rate in ((self._global, lim.global_per_sec), (chat, lim.chat_per_sec))
            if b.tokens < 1
        ]
        if waits:
            return max(1, math.ceil(max(waits)))
        self._global.tokens -= 1
        chat.tokens -= 1
        return None


_JSON_KEYS = {
    "reply_markup",
    "entities",
    "caption_entities",
    "prices",
    "commands",
    "allowed_updates",
    "scope",
    "link_preview_options",
    "reply_parameters",
    "suggested_tip_amounts",
    "media",
    "menu_button",
    "message_ids",
}
_INT_KEYS = {
    "message_id",
    "offset",
    "limit",
    "user_id",
    "cache_time",
    "reply_to_message_id",
    "max_tip_amount",
    "message_thread_id",
}
_FLOAT_KEYS = {"timeout"}
_BOOL_KEYS = {
    "show_alert",
    "ok",
    "disable_notification",
    "protect_content",
    "drop_pending_updates",
    "is_personal",
    "is_flexible",
    "allow_sending_without_reply",
    "disable_web_page_preview",
    "need_name",
    "need_phone_number",
    "need_email",
    "need_shipping_address",
}


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def _normalize_value(key: str, value: Any) -> Any:
    """Form bodies carry every value as a string; JSON bodies are already typed."""
    if not isinstance(value, str):
        return _as_bool(value) if key in _BOOL_KEYS else value
    if key in _JSON_KEYS:
        try:
            return json.loads(value)
        except ValueError as exc:
            raise _bad_request(f"can't parse {key} JSON object") from exc
    try:
        if key in _INT_KEYS:
            return int(value)
        if key in _FLOAT_KEYS:
            return float(value)
    except ValueError as exc:
        raise _bad_request(f"invalid {key} specified") from exc
    if key in _BOOL_KEYS:
        return _as_bool(value)
    if key == "chat_id":
        with contextlib.suppress(ValueError):
            return int(value)
    return value


def normalize_params(raw: dict[str, Any]) -> dict[str, Any]:
    return {key: _normalize_value(key, value) for key, value in raw.items()}


def _update_type(update: dict[str, Any]) -> str:
    return next((k for k in update if k != "update_id"), "")


# --------------------------------------------------------------------------- the core


class BotApiEmulator:
    """In-memory Bot API: state, method handlers and customer actions.

    Everything happens on one asyncio loop; HTTP handlers and tests call into it directly.
    """

    def __init__(
        self,
        token: str = "123456:TEST",
        *,
        bot_first_name: str = "Shop Bot",
        bot_username: str = "shop_test_bot",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.bot_user: dict[str, Any] = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.clock = clock
        self.calls: list[ApiCall] = []
        self._calls_by_method: dict[str, list[ApiCall]] = {}  # calls_of without a scan
        self.stats: Counter[str] = Counter()
        self.events: list[Event] = []
        self.callback_answers: list[CallbackAnswer] = []
        self.precheckout_answers: dict[str, dict[str, Any]] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.flood = FloodLimits()
        self._limiter = _FloodLimiter(self.flood, clock)
        self._faults: dict[str, deque[Fault]] = {}
        self._chats: dict[int, Chat] = {}
        self._fake_users: dict[int, FakeUser] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._duplicate_next = 0
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._open_queries: dict[str, int] = {}  # callback query id -> user id
        self._open_checkouts: dict[str, int] = {}  # pre-checkout query id -> user id
        self._serial = 0
        self._shutting_down = False
        self._changed = _Signal()
        self._updates_arrived = _Signal()
        self._call_made = _Signal()
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendInvoice": self._send_invoice,
            "answerPreCheckoutQuery": self._answer_pre_checkout_query,
            "sendChatAction": self._send_chat_action,
            "sendPhoto": self._send_photo,
            "close": lambda p: True,
            "logOut": lambda p: True,
        }
        self._canonical = {name.lower(): name for name in self._methods}

    # ----------------------------------------------------------------- journal

    @property
    def version(self) -> int:
        """Sequence number of the latest event; a page long-polls with wait_changed(version)."""
        return len(self.events)

    def _record(self, kind: str, chat_id: int | None, **kw: Any) -> Event:
        event = Event(seq=len(self.events) + 1, kind=kind, chat_id=chat_id, **kw)
        self.events.append(event)
        self._changed.fire()
        return event

    def calls_of(self, method: str) -> list[ApiCall]:
        """Recorded calls of one method (case-insensitive), oldest first."""
        return list(self._calls_by_method.get(method.lower(), ()))

    async def wait_call(
        self,
        method: str,
        *,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> ApiCall:
        """Wait until ``method`` has been called ``count`` times; return that call."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.calls_of(method)) < count:
            if not await self._call_made.wait(deadline - loop.time()):
                raise TimeoutError(f"{method} called {len(self.calls_of(method))}/{count} times")
        return self.calls_of(method)[count - 1]

    def events_since(self, seq: int) -> list[Event]:
        return self.events[seq:]

    async def wait_changed(self, since: int, timeout: float = 25.0) -> int:  # noqa: ASYNC109
        """Wait until the journal moves past ``since`` (or timeout); return the version."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.version <= since and not self._shutting_down:
            if not await self._changed.wait(deadline - loop.time()):
                break
        return self.version

    async def wait_event(
        self,
        predicate: Callable[[Event], bool],
        *,
        since: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109
        describe: Callable[[], str] = lambda: "",
    ) -> Event:
        """First event after ``since`` matching ``predicate``; TimeoutError otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        cursor = since
        while True:
            for event in self.events[cursor:]:
                if predicate(event):
                    return event
            cursor = len(self.events)
            remaining = deadline - loop.time()
            if remaining <= 0 or self._shutting_down:
                raise TimeoutError(f"no matching event within {timeout}s. {describe()}")
            await self._changed.wait(remaining)

    # ----------------------------------------------------------------- users and chats

    def user(
        self,
        user_id: int,
        first_name: str = "Tester",
        username: str | None = None,
        language_code: str | None = "ko",
        *,
        last_name: str | None = None,
        started: bool = True,
    ) -> FakeUser:
        """Get or create a customer. ``started=False``: the bot may not message them first."""
        if user_id in self._fake_users:
            return self._fake_users[user_id]
        info = UserInfo(user_id, first_name, username, last_name, language_code)
        self._chats[user_id] = Chat(user=info, started=started)
        fake = FakeUser(self, info)
        self._fake_users[user_id] = fake
        return fake

    def chat(self, chat_id: int) -> Chat:
        return self._chats[chat_id]

    def chats(self) -> list[Chat]:
        """All chats, most recently active first."""
        return sorted(
            self._chats.values(),
            key=lambda c: c.messages[-1].last_seq if c.messages else 0,
            reverse=True,
        )

    def block(self, user_id: int, *, notify: bool = True) -> None:
        """The user blocks the bot: sends to them fail with 403 until they write again."""
        chat = self._chats[user_id]
        chat.blocked = True
        self._record("block", user_id)
        if notify:
            self._enqueue_member_change(chat.user, "member", "kicked")

    def unblock(self, user_id: int, *, notify: bool = True) -> None:
        chat = self._chats[user_id]
        if not chat.blocked:
            return
        chat.blocked = False
        self._record("unblock", user_id)
        if notify:
            self._enqueue_member_change(chat.user, "kicked", "member")

    def _enqueue_member_change(self, user: UserInfo, old: str, new: str) -> None:
        def member(status: str) -> dict[str, Any]:
            d: dict[str, Any] = {"status": status, "user": self.bot_user}
            if status == "kicked":
                d["until_date"] = 0
            return d

        self.enqueue_update(
            {
                "my_chat_member": {
                    "chat": user.chat_api(),
                    "from": user.to_api(),
                    "date": int(time.time()),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            }
        )

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _add_message(
        self, chat: Chat, *, from_bot: bool, kind: str, **fields: Any
    ) -> RecordedMessage:
        sender = self.bot_user if from_bot else chat.user.to_api()
        msg = RecordedMessage(
            chat=chat.user.chat_api(),
            sender=sender,
            message_id=chat.next_message_id,
            from_bot=from_bot,
            kind=kind,
            date=int(time.time()),
            **fields,
        )
        chat.next_message_id += 1
        chat.messages.append(msg)
        chat.by_id[msg.message_id] = msg
        event = self._record(
            "message", chat.id, message_id=msg.message_id, from_bot=from_bot, text=msg.text
        )
        msg.seq = msg.last_seq = event.seq
        return msg

    # ----------------------------------------------------------------- updates queue

    def enqueue_update(self, raw: dict[str, Any], *, twice: bool = False) -> int:
        """Queue a raw update for getUpdates; assigns update_id unless given. Returns it."""
        update = dict(raw)
        update.setdefault("update_id", self._next_update_id)
        self._next_update_id = max(self._next_update_id, update["update_id"] + 1)
        copies = 1
        if twice or self._duplicate_next > 0:
            copies = 2
            self._duplicate_next = max(0, self._duplicate_next - (0 if twice else 1))
            self.stats["duplicated_updates"] += 1
        self._updates.extend([update] * copies)
        self._updates_arrived.fire()
        return update["update_id"]

    def deliver_twice(self, n: int = 1) -> None:
        """The next ``n`` updates are delivered twice (same update_id, same getUpdates batch),
        as after a bot crash between handling an update and confirming its offset."""
        self._duplicate_next += n

    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self._updates)

    async def wait_updates_fetched(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until the bot confirmed (offset moved past) every queued update.

        PTB confirms on the getUpdates after the one that fetched them, so this means
        "fetched", not "handled"."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._updates:
            if not await self._changed.wait(deadline - loop.time()):
                raise TimeoutError(f"{len(self._updates)} update(s) still unconfirmed")

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        before = len(self._updates)
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if len(self._updates) != before:
            self._changed.fire()

    def _is_allowed(self, update: dict[str, Any]) -> bool:
        kind = _update_type(update)
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in _NOT_DEFAULT_UPDATES

    def _take(self, limit: int) -> list[dict[str, Any]]:
        self._updates = [u for u in self._updates if self._is_allowed(u)]
        batch = self._updates[:limit]
        # A duplicate travels in the same batch, else the next offset would drop it.
        while (
            len(batch) < len(self._updates)
            and batch
            and (self._updates[len(batch)]["update_id"] == batch[-1]["update_id"])
        ):
            batch.append(self._updates[len(batch)])
        return batch

    def shutdown(self) -> None:
        """Release long polls and waiters promptly (the server is stopping)."""
        self._shutting_down = True
        self._updates_arrived.fire()
        self._changed.fire()

    def resume(self) -> None:
        self._shutting_down = False

    # ----------------------------------------------------------------- faults and floods

    def fail_next(
        self,
        method: str,
        times: int = 1,
        kind: Literal["5xx", "429", "drop", "drop_after", "hang"] = "5xx",
        *,
        status: int = 500,
        retry_after: int = 5,
        delay: float = 30.0,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (see Fault for the kinds)."""
        name = self._canonical.get(method.lower(), method)
        queue = self._faults.setdefault(name, deque())
        queue.extend(Fault(kind, status, retry_after, delay) for _ in range(times))

    def clear_faults(self) -> None:
        self._faults.clear()

    def set_flood_limits(self, enabled: bool = True, **limits: Any) -> FloodLimits:
        """Switch flood control on/off; keyword args override FloodLimits fields."""
        self.flood.enabled = enabled
        for key, value in limits.items():
            if not hasattr(self.flood, key):
                raise TypeError(f"unknown flood limit {key!r}")
            setattr(self.flood, key, value)
        self._limiter.reset()
        return self.flood

    def _fault_response(self, fault: Fault) -> ApiResponse:
        if fault.kind == "429":
            self.stats["429"] += 1
            err = _too_many_requests(fault.retry_after)
            return ApiResponse(429, err.payload())
        if fault.kind == "drop":
            self.stats["dropped"] += 1
            return ApiResponse(0, None, drop=True)
        self.stats["5xx"] += 1
        if fault.status in (502, 504):
            page = f"<html><body><h1>{fault.status}</h1>nginx</body></html>"
            return ApiResponse(fault.status, None, html=page)
        return ApiResponse(
            fault.status,
            {"ok": False, "error_code": fault.status, "description": "Internal Server Error"},
        )

    def _check_flood(self, method: str, params: dict[str, Any]) -> None:
        if not self.flood.enabled or method not in FLOOD_METHODS:
            return
        retry_after = self._limiter.acquire(params.get("chat_id"))
        if retry_after is not None:
            self.stats["429_flood"] += 1  # "429" itself is counted with every error status
            raise _too_many_requests(retry_after)

    # ----------------------------------------------------------------- request entry point

    async def handle(self, token: str, method: str, raw_params: dict[str, Any]) -> ApiResponse:
        """Serve one Bot API call; the HTTP layer only parses bodies and writes responses."""
        if ":" not in token:
            return ApiResponse(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        if token != self.token:
            self.stats["401"] += 1
            return ApiResponse(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        name = self._canonical.get(method.lower(), method)
        call = ApiCall(name, dict(raw_params))
        self.calls.append(call)
        self._calls_by_method.setdefault(name.lower(), []).append(call)
        self.stats["calls"] += 1
        self._call_made.fire()
        response = await self._respond(name, call)
        call.status, call.response = response.status, response.payload
        return response

    async def _respond(self, name: str, call: ApiCall) -> ApiResponse:
        try:
            call.params = normalize_params(call.params)
        except ApiError as err:
            self.stats[str(err.status)] += 1
            return ApiResponse(err.status, err.payload())
        fault = self._pop_fault(name)
        call.fault = fault.kind if fault else None
        if fault and fault.kind in ("5xx", "429", "drop"):
            return self._fault_response(fault)
        if fault and fault.kind == "hang":
            await self._sleep_unless_shutdown(fault.delay)
        response = await self._dispatch(name, call.params)
        if fault and fault.kind == "drop_after":
            self.stats["dropped"] += 1
            response.drop = True
        return response

    def _pop_fault(self, name: str) -> Fault | None:
        queue = self._faults.get(name)
        return queue.popleft() if queue else None

    async def _sleep_unless_shutdown(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay
        while not self._shutting_down and loop.time() < deadline:
            # shutdown() fires this signal, which is all we need to wake up for
            await self._updates_arrived.wait(deadline - loop.time())

    async def _dispatch(self, name: str, params: dict[str, Any]) -> ApiResponse:
        try:
            self._check_flood(name, params)
            handler = self._methods.get(name)
            if handler is None:
                self.stats["fallback"] += 1
                result: Any = True
            else:
                result = handler(params)
                if asyncio.iscoroutine(result):
                    result = await result
        except ApiError as err:
            self.stats[str(err.status)] += 1
            return ApiResponse(err.status, err.payload())
        return ApiResponse(200, {"ok": True, "result": result})

    # ----------------------------------------------------------------- param helpers

    def _resolve_chat(self, params: dict[str, Any], *, for_send: bool = True) -> Chat:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise _bad_request("chat_id is empty")
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else self._by_username(chat_id)
        if chat is None:
            raise _bad_request("chat not found")
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if for_send and not chat.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _by_username(self, ref: str) -> Chat | None:
        name = str(ref).removeprefix("@").lower()
        return next(
            (c for c in self._chats.values() if (c.user.username or "").lower() == name), None
        )

    def _formatted(
        self, params: dict[str, Any], key: str, *, limit: int, required: bool = True
    ) -> tuple[str, list[dict[str, Any]]]:
        """Apply parse_mode (or explicit entities) and Telegram's length rules."""
        source = params.get(key)
        if source is None or source == "":
            if required:
                raise _bad_request("message text is empty")
            return "", []
        source = str(source)
        if len(source.encode()) > MAX_RAW_TEXT_BYTES:
            raise _bad_request("text is too long")
        given = params.get("entities" if key == "text" else "caption_entities")
        mode = str(params.get("parse_mode") or "")
        if given:
            text, entities = source, list(given)
        elif mode.lower() == "html":
            try:
                text, entities = parse_html(source)
            except HtmlParseError as exc:
                raise _bad_request(f"can't parse entities: {exc}") from exc
        elif mode.lower() in ("", "markdown", "markdownv2"):
            text, entities = source, []  # Markdown is recorded as is, not validated
        else:
            raise _bad_request("unsupported parse_mode")
        text, entities = _strip_with_entities(text, entities)
        if not text and required:
            raise _bad_request("message text is empty")
        if len(text) > limit:
            raise _bad_request(
                "message is too long" if key == "text" else "message caption is too long"
            )
        return text, entities

    def _markup(self, params: dict[str, Any]) -> tuple[dict | None, dict | None]:
        """Split reply_markup into (inline keyboard, reply keyboard/remove/force_reply)."""
        markup = params.get("reply_markup")
        if not markup:
            return None, None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        size = len(json.dumps(markup, ensure_ascii=False, separators=(",", ":")).encode())
        if size > MAX_MARKUP_BYTES:
            raise _bad_request(MARKUP_TOO_LONG)
        if "inline_keyboard" in markup:
            _validate_inline_keyboard(markup["inline_keyboard"])
            return markup, None
        if "keyboard" in markup:
            _validate_reply_keyboard(markup["keyboard"])
            return None, markup
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return None, markup
        raise _bad_request("can't parse reply keyboard markup JSON object")

    def _reply_target(self, chat: Chat, params: dict[str, Any]) -> RecordedMessage | None:
        ref = params.get("reply_parameters") or {}
        target_id = ref.get("message_id") if isinstance(ref, dict) else None
        target_id = target_id or params.get("reply_to_message_id")
        if not target_id:
            return None
        target = chat.by_id.get(int(target_id))
        if target is None or target.deleted:
            if isinstance(ref, dict) and ref.get("allow_sending_without_reply"):
                return None
            raise _bad_request("message to be replied not found")
        return target

    def _send_bot_message(
        self, chat: Chat, params: dict[str, Any], **fields: Any
    ) -> RecordedMessage:
        inline, reply = self._markup(params)
        reply_to = self._reply_target(chat, params)
        if reply is not None:
            if "keyboard" in reply:
                chat.keyboard = reply
            elif reply.get("remove_keyboard"):
                chat.keyboard = None
        return self._add_message(
            chat,
            from_bot=True,
            reply_markup=inline,
            reply_keyboard=reply,
            reply_to=reply_to,
            parse_mode=params.get("parse_mode"),
            **fields,
        )

    def _message_to_edit(self, params: dict[str, Any]) -> tuple[Chat, RecordedMessage]:
        if params.get("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")
        chat = self._resolve_chat(params, for_send=False)
        msg = chat.by_id.get(params.get("message_id") or 0)
        if msg is None or msg.deleted:
            raise _bad_request("message to edit not found")
        if not msg.from_bot:
            raise _bad_request("message can't be edited")
        return chat, msg

    def _apply_edit(
        self, msg: RecordedMessage, text: str, entities: list[dict], markup: dict | None
    ) -> dict[str, Any]:
        if (text, entities, markup) == (msg.text, msg.entities, msg.reply_markup):
            raise _bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        msg.history.append(MessageVersion(msg.text, msg.entities, msg.reply_markup, msg.last_seq))
        msg.text, msg.entities, msg.reply_markup = text, entities, markup
        msg.edit_date = int(time.time())
        event = self._record(
            "edit", msg.chat_id, message_id=msg.message_id, from_bot=True, text=text
        )
        msg.last_seq = event.seq
        return msg.to_api()

    def _edit_markup_only(self, params: dict[str, Any]) -> dict | None:
        inline, reply = self._markup(params)
        if reply is not None:
            raise _bad_request("inline keyboard expected")
        return inline

    # ----------------------------------------------------------------- methods

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"] or []) or None
        self._confirm(params.get("offset"))
        # Like Telegram, a new getUpdates terminates the previous long poll with 409.
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_arrived.fire()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT)
            batch = self._take(limit)
            remaining = deadline - loop.time()
            if batch or self._shutting_down or remaining <= 0:
                return batch
            await self._updates_arrived.wait(remaining)

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
            self._changed.fire()
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._resolve_chat(params)
        text, entities = self._formatted(params, "text", limit=MAX_TEXT)
        msg = self._send_bot_message(
            chat, params, kind="text", text=text, entities=entities, source=params["text"]
        )
        return msg.to_api()

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        _, msg = self._message_to_edit(params)
        if msg.kind != "text":
            raise _bad_request("there is no text in the message to edit")
        text, entities = self._formatted(params, "text", limit=MAX_TEXT)
        # Like Telegram: an edit without reply_markup removes the inline keyboard.
        return self._apply_edit(msg, text, entities, self._edit_markup_only(params))

    def _edit_message_caption(self, params: dict[str, Any]) -> dict[str, Any]:
        _, msg = self._message_to_edit(params)
        if msg.kind != "photo":
            raise _bad_request("there is no caption in the message to edit")
        text, entities = self._formatted(params, "caption", limit=MAX_CAPTION, required=False)
        return self._apply_edit(msg, text, entities, self._edit_markup_only(params))

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        _, msg = self._message_to_edit(params)
        return self._apply_edit(msg, msg.text, msg.entities, self._edit_markup_only(params))

    def _delete_message(self, params: dict[str, Any]) -> bool:
        chat = self._resolve_chat(params, for_send=False)
        msg = chat.by_id.get(params.get("message_id") or 0)
        if msg is None or msg.deleted:
            raise _bad_request("message to delete not found")
        msg.deleted = True
        msg.last_seq = self._record("delete", chat.id, message_id=msg.message_id).seq
        return True

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        user_id = self._open_queries.pop(query_id, None)
        if user_id is None:
            raise _bad_request(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        event = self._record("callback_answer", user_id, text=str(text or ""))
        self.callback_answers.append(
            CallbackAnswer(
                query_id=query_id,
                user_id=user_id,
                text=text,
                show_alert=bool(params.get("show_alert")),
                url=params.get("url"),
                seq=event.seq,
            )
        )
        return True

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        scope_key = scope.get("type", "default")
        if "chat_id" in scope:
            scope_key += f":{scope['chat_id']}"
        if "user_id" in scope:
            scope_key += f":{scope['user_id']}"
        return scope_key, str(params.get("language_code") or "")

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("commands must be a list of at most 100 BotCommand")
        for cmd in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(cmd.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return list(self.commands.get(self._commands_key(params), []))

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _send_invoice(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._resolve_chat(params)
        invoice = _validate_invoice(params)
        msg = self._send_bot_message(
            chat,
            params,
            kind="invoice",
            text=f"{invoice['title']}\n{invoice['description']}",
            extra={"invoice": invoice},
            invoice_params={
                "payload": params["payload"],
                "prices": params["prices"],
                "provider_token": params.get("provider_token") or "",
            },
        )
        return msg.to_api()

    def _answer_pre_checkout_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("pre_checkout_query_id") or "")
        user_id = self._open_checkouts.pop(query_id, None)
        if user_id is None:
            raise _bad_request(QUERY_TOO_OLD.removeprefix("Bad Request: "))
        if "ok" not in params:
            raise _bad_request("ok must be specified")
        ok = bool(params["ok"])
        error = params.get("error_message")
        if not ok and not error:
            raise _bad_request("ERROR_MESSAGE_EMPTY")
        self.precheckout_answers[query_id] = {"ok": ok, "error_message": error}
        self._record("precheckout_answer", user_id, text=str(error or ""))
        return True

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        self._resolve_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        return True

    def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._resolve_chat(params)
        photo = params.get("photo")
        if photo in (None, ""):
            raise _bad_request("there is no photo in the request")
        caption, entities = self._formatted(params, "caption", limit=MAX_CAPTION, required=False)
        msg = self._send_bot_message(
            chat,
            params,
            kind="photo",
            text=caption,
            entities=entities,
            source=params.get("caption"),
            extra={"photo": self._photo_sizes(photo)},
        )
        return msg.to_api()

    def _photo_sizes(self, photo: Any) -> list[dict[str, Any]]:
        n = self._next_serial()
        size = len(photo.data) if isinstance(photo, UploadedFile) else 1000
        return [
            {
                "file_id": f"AgAC-emu-photo-{n}-{w}",
                "file_unique_id": f"emu-photo-{n}-{w}",
                "width": w,
                "height": w,
                "file_size": size * w // 800,
            }
            for w in (90, 320, 800)
        ]

    # ----------------------------------------------------------------- customer actions
    # (used by FakeUser; a chat page can call them through FakeUser as well)

    def _user_acts(self, user: UserInfo) -> Chat:
        chat = self._chats[user.id]
        chat.started = True
        if chat.blocked:  # a blocked bot must be unblocked before writing to it
            self.unblock(user.id)
        return chat

    def user_message(
        self, user: UserInfo, kind: str, text: str = "", **extra: Any
    ) -> RecordedMessage:
        """Record a message from the user and deliver it to the bot as an update."""
        chat = self._user_acts(user)
        entities = _command_entities(text) if kind == "text" else []
        msg = self._add_message(
            chat, from_bot=False, kind=kind, text=text, entities=entities, extra=extra
        )
        self.enqueue_update({"message": msg.to_api()})
        return msg

    def user_callback(self, user: UserInfo, message: RecordedMessage, data: str) -> str:
        self._user_acts(user)
        query_id = f"{user.id}{self._next_serial():08d}"
        self._open_queries[query_id] = user.id
        self.enqueue_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user.to_api(),
                    "message": message.to_api(),
                    "chat_instance": f"-{message.chat_id}",
                    "data": data,
                }
            }
        )
        return query_id

    def user_pre_checkout(self, user: UserInfo, invoice_msg: RecordedMessage) -> str:
        self._user_acts(user)
        invoice, params = invoice_msg.invoice or {}, invoice_msg.invoice_params or {}
        query_id = f"pc{user.id}{self._next_serial():08d}"
        self._open_checkouts[query_id] = user.id
        self.enqueue_update(
            {
                "pre_checkout_query": {
                    "id": query_id,
                    "from": user.to_api(),
                    "currency": invoice["currency"],
                    "total_amount": invoice["total_amount"],
                    "invoice_payload": params["payload"],
                }
            }
        )
        return query_id

    def user_successful_payment(self, user: UserInfo, invoice_msg: RecordedMessage) -> str:
        invoice, params = invoice_msg.invoice or {}, invoice_msg.invoice_params or {}
        n = self._next_serial()
        charge_id = f"tg-charge-{user.id}-{n}"
        payment = {
            "currency": invoice["currency"],
            "total_amount": invoice["total_amount"],
            "invoice_payload": params["payload"],
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "" if invoice["currency"] == "XTR" else f"prov-{n}",
        }
        self.user_message(
            user,
            "successful_payment",
            f"paid {invoice['total_amount']} {invoice['currency']}",
            successful_payment=payment,
        )
        return charge_id


# --------------------------------------------------------------------------- validation


def _check_counts(rows: list[list[Any]], per_row: int, total: int) -> None:
    """Too many buttons in a row or in all. Real Telegram is not uniform here: the server
    refuses an oversized keyboard with REPLY_MARKUP_TOO_LONG, while tdlib (under the Bot
    API) silently keeps only the first 12 buttons of a row. A button that silently vanishes
    is as broken as a refused message, so the emulator refuses both, with Telegram's
    words for an oversized keyboard."""
    if any(len(row) > per_row for row in rows) or sum(len(row) for row in rows) > total:
        raise _bad_request(MARKUP_TOO_LONG)


def _validate_inline_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _bad_request("can't parse inline keyboard button: InlineKeyboardButton expected")
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise _bad_request("can't parse inline keyboard button: Text must be a String")
        if not button["text"]:
            # tdlib's words for it; Telegram itself drops such a button without a word.
            raise _bad_request("inline keyboard button text must be non-empty")
        actions = [k for k in button if k in _INLINE_ACTIONS]
        if len(actions) != 1:
            raise _bad_request(
                "can't parse inline keyboard button: Text buttons are unallowed in the inline "
                "keyboard"
            )
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise _bad_request("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            if not isinstance(url, str) or not url.strip() or any(c.isspace() for c in url):
                raise _bad_request("BUTTON_URL_INVALID")
    _check_counts(rows, MAX_INLINE_PER_ROW, MAX_INLINE_BUTTONS)


def _validate_reply_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    for button in (b for row in rows for b in row):
        text = button if isinstance(button, str) else (button or {}).get("text")
        if not isinstance(text, str) or not text:
            raise _bad_request("keyboard button text must be non-empty")
    _check_counts(rows, MAX_REPLY_PER_ROW, MAX_REPLY_BUTTONS)


def _validate_invoice(params: dict[str, Any]) -> dict[str, Any]:
    title, description = str(params.get("title") or ""), str(params.get("description") or "")
    payload, currency = str(params.get("payload") or ""), str(params.get("currency") or "")
    if not 1 <= len(title) <= 32:
        raise _bad_request("INVOICE_TITLE_INVALID" if title else "title is empty")
    if not 1 <= len(description) <= 255:
        raise _bad_request("INVOICE_DESCRIPTION_INVALID" if description else "description is empty")
    if not 1 <= len(payload.encode()) <= 128:
        raise _bad_request("INVOICE_PAYLOAD_INVALID")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise _bad_request("CURRENCY_INVALID")
    if currency != "XTR" and not params.get("provider_token"):
        raise _bad_request("PAYMENT_PROVIDER_INVALID")
    prices = params.get("prices")
    if not isinstance(prices, list) or not prices:
        raise _bad_request("can't parse prices JSON object")
    try:
        total = sum(int(p["amount"]) for p in prices)
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad_request("can't parse prices JSON object") from exc
    if total <= 0:
        raise _bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
    return {
        "title": title,
        "description": description,
        "start_parameter": str(params.get("start_parameter") or ""),
        "currency": currency,
        "total_amount": total,
    }


# --------------------------------------------------------------------------- customers


def _label_matches(label: str | re.Pattern[str], text: str, *, exact: bool) -> bool:
    if isinstance(label, re.Pattern):
        return label.search(text) is not None
    if exact:
        return text == label
    try:
        return re.search(label, text) is not None
    except re.error:
        return False


class FakeUser:
    """A customer in a private chat with the bot; actions become real updates.

    ``wait_for`` (with ``after=None``) only considers bot messages/edits that happened after
    this user's latest action, so a reply that raced ahead is still found and stale ones
    from earlier steps are not.
    """

    def __init__(self, emu: BotApiEmulator, info: UserInfo) -> None:
        self.emu = emu
        self.info = info
        self._mark = emu.version

    @property
    def id(self) -> int:
        return self.info.id

    @property
    def chat(self) -> Chat:
        return self.emu.chat(self.id)

    def mark(self) -> int:
        """Current journal position, usable as ``after=`` in wait_for."""
        return self.emu.version

    def _act(self) -> None:
        self._mark = self.emu.version

    # --- sending

    async def send_text(self, text: str) -> RecordedMessage:
        self._act()
        return self.emu.user_message(self.info, "text", text)

    async def send_command(self, command: str, args: str | None = None) -> RecordedMessage:
        text = command if command.startswith("/") else f"/{command}"
        return await self.send_text(f"{text} {args}" if args else text)

    async def press_key(self, label: str) -> RecordedMessage:
        """Press a reply-keyboard button (sends its label as text)."""
        if label not in self.current_keyboard():
            raise LookupError(f"no reply keyboard button {label!r}; have {self.current_keyboard()}")
        return await self.send_text(label)

    async def send_sticker(self, emoji: str = "👍") -> RecordedMessage:
        self._act()
        n = self.emu._next_serial()
        sticker = {
            "file_id": f"CAAC-emu-sticker-{n}",
            "file_unique_id": f"emu-sticker-{n}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self.emu.user_message(self.info, "sticker", "", sticker=sticker)

    async def send_photo(self, caption: str | None = None) -> RecordedMessage:
        self._act()
        photo = self.emu._photo_sizes(b"")
        return self.emu.user_message(self.info, "photo", caption or "", photo=photo)

    # --- buttons

    def _find_button(
        self, label: str | re.Pattern[str], message: RecordedMessage | int | None
    ) -> tuple[RecordedMessage, dict[str, Any]]:
        if message is None:
            candidates = [
                m for m in reversed(self.chat.transcript()) if m.from_bot and m.reply_markup
            ]
        else:
            candidates = [self._message(message)]
        for msg in candidates:
            for exact in (True, False):
                for button in msg.buttons():
                    if _label_matches(label, button["text"], exact=exact):
                        return msg, button
        seen = [m.button_labels() for m in candidates[:3]]
        raise LookupError(f"no inline button matching {label!r}; newest buttons: {seen}")

    def _message(self, message: RecordedMessage | int) -> RecordedMessage:
        if isinstance(message, RecordedMessage):
            return message
        found = self.chat.by_id.get(message)
        if found is None or found.deleted:
            raise LookupError(f"message {message} not in chat {self.id}")
        return found

    async def press(
        self, label: str | re.Pattern[str], message: RecordedMessage | int | None = None
    ) -> str:
        """Press an inline button (exact label first, then as a regex); returns the query id."""
        msg, button = self._find_button(label, message)
        if "callback_data" not in button:
            raise ValueError(f"button {button['text']!r} has no callback_data: {button}")
        self._act()
        return self.emu.user_callback(self.info, msg, button["callback_data"])

    async def press_data(self, data: str, message_id: int | RecordedMessage) -> str:
        """Send a callback query with arbitrary (possibly forged) data on a message."""
        msg = self._message(message_id)
        self._act()
        return self.emu.user_callback(self.info, msg, data)

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        return [a for a in self.emu.callback_answers if a.user_id == self.id]

    async def wait_callback_answer(self, query_id: str, timeout: float = 5.0) -> CallbackAnswer:  # noqa: ASYNC109
        await self.emu.wait_event(
            lambda e: (
                e.kind == "callback_answer"
                and e.chat_id == self.id
                and any(a.query_id == query_id for a in self.callback_answers)
            ),
            since=0,
            timeout=timeout,
        )
        return next(a for a in self.callback_answers if a.query_id == query_id)

    # --- payments

    async def pay(
        self,
        invoice_message: RecordedMessage | int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> str:
        """Pay an invoice: pre_checkout_query, wait for the bot's answer, then deliver the
        successful_payment message. Returns telegram_payment_charge_id; raises
        PaymentRejected if the bot answered ok=False."""
        msg = self._invoice(invoice_message)
        self._act()
        query_id = self.emu.user_pre_checkout(self.info, msg)
        await self.emu.wait_event(
            lambda e: e.kind == "precheckout_answer" and query_id in self.emu.precheckout_answers,
            since=self._mark,
            timeout=timeout,
            describe=lambda: f"the bot did not answer pre-checkout query {query_id}",
        )
        answer = self.emu.precheckout_answers[query_id]
        if not answer["ok"]:
            raise PaymentRejected(answer["error_message"] or "")
        self._act()
        return self.emu.user_successful_payment(self.info, msg)

    def _invoice(self, message: RecordedMessage | int | None) -> RecordedMessage:
        if message is not None:
            msg = self._message(message)
        else:
            msg = next((m for m in reversed(self.chat.transcript()) if m.kind == "invoice"), None)
        if msg is None or msg.kind != "invoice":
            raise LookupError(f"no invoice in chat {self.id}")
        return msg

    # --- observing

    async def wait_for(
        self,
        pattern: str | re.Pattern[str],
        timeout: float = 5.0,  # noqa: ASYNC109
        after: int | RecordedMessage | None = None,
    ) -> RecordedMessage:
        """Wait for a bot message or edit in this chat whose text matches ``pattern`` (re.search).

        ``after``: journal position (``mark()``), a message (events after its creation),
        or None for "after my latest action"."""
        since = (
            self._mark
            if after is None
            else (after.seq if isinstance(after, RecordedMessage) else after)
        )
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        event = await self.emu.wait_event(
            lambda e: (
                e.chat_id == self.id
                and e.from_bot
                and e.kind in ("message", "edit")
                and rx.search(e.text) is not None
            ),
            since=since,
            timeout=timeout,
            describe=lambda: f"wanted {rx.pattern!r}; latest bot texts: {self._latest_texts()}",
        )
        return self.chat.by_id[event.message_id or 0]

    def _latest_texts(self) -> list[str]:
        return [m.text for m in self.bot_messages()[-5:]]

    def transcript(self, include_deleted: bool = False) -> list[RecordedMessage]:
        return self.chat.transcript(include_deleted)

    def bot_messages(self) -> list[RecordedMessage]:
        return [m for m in self.transcript() if m.from_bot]

    def last_bot_message(self) -> RecordedMessage | None:
        msgs = self.bot_messages()
        return msgs[-1] if msgs else None

    def current_keyboard(self) -> list[str]:
        """Labels of the reply keyboard currently shown (flattened); [] if none/removed."""
        return [label for row in self.chat.keyboard_rows() for label in row]

    def current_keyboard_rows(self) -> list[list[str]]:
        return self.chat.keyboard_rows()


# --------------------------------------------------------------------------- HTTP layer


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    # Starlette's form parser needs python-multipart; the stdlib MIME parser is enough here.
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is None:
            fields[str(name)] = data.decode("utf-8")
        else:
            fields[str(name)] = UploadedFile(filename, part.get_content_type(), data)
    # PTB may reference uploads as "attach://<part name>".
    for key, value in list(fields.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            fields[key] = fields.get(value.removeprefix("attach://"), value)
    return fields


async def read_params(request: Request) -> dict[str, Any]:
    """Query string + form-encoded, JSON or multipart body, as a flat dict."""
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if not body:
        return params
    content_type = request.headers.get("content-type", "")
    if "application/json" in content_type:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise _bad_request("request body must be a JSON object")
        params.update(data)
    elif "multipart/form-data" in content_type:
        params.update(_parse_multipart(body, content_type))
    else:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return params


async def _drop_connection(request: Request) -> Response:
    transport = request.scope.get("sandbox.transport")
    if transport is not None:
        transport.abort()
        # Let uvicorn notice the disconnect, so the response below is silently discarded.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    return Response("connection dropped", status_code=502)


async def _bot_api_endpoint(request: Request) -> Response:
    emu: BotApiEmulator = request.app.state.emulator
    try:
        params = await read_params(request)
    except ClientDisconnect:
        # The bot went away mid-request (the crash tests kill it): nothing to answer.
        return Response(status_code=499)
    except (ApiError, ValueError) as exc:
        err = exc if isinstance(exc, ApiError) else _bad_request("can't parse request body")
        return JSONResponse(err.payload(), status_code=err.status)
    response = await emu.handle(request.path_params["token"], request.path_params["method"], params)
    if response.drop:
        return await _drop_connection(request)
    if response.html is not None:
        return Response(response.html, status_code=response.status, media_type="text/html")
    return JSONResponse(response.payload, status_code=response.status)


class _ExposeTransport:
    """Put uvicorn's transport in the scope so a fault can drop the connection for real."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            cycle = getattr(send, "__self__", None)
            scope["sandbox.transport"] = getattr(cycle, "transport", None)
        await self.app(scope, receive, send)


def create_app(emu: BotApiEmulator, extra_routes: list[Route] | None = None) -> Any:
    """The ASGI app: /bot{token}/{method} over the emulator (plus any extra routes)."""
    routes = [
        Route("/bot{token}/{method}", _bot_api_endpoint, methods=["GET", "POST"]),
        *(extra_routes or []),
    ]
    app = Starlette(routes=routes)
    app.state.emulator = emu
    return _ExposeTransport(app)


class _QuietServer(uvicorn.Server):
    """No signal handlers: several servers share the test process and its Ctrl-C."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class TelegramServer:
    """A running emulator server; ``base_url`` goes to ApplicationBuilder().base_url()."""

    def __init__(
        self, emu: BotApiEmulator, server: uvicorn.Server, task: asyncio.Task, host: str, port: int
    ) -> None:
        self.emu = emu
        self.host = host
        self.port = port
        self._server = server
        self._task = task

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot"

    async def stop(self) -> None:
        self.emu.shutdown()  # release long polls so uvicorn's graceful shutdown is quick
        self._server.should_exit = True
        await self._task


async def serve_telegram(
    emu: BotApiEmulator,
    host: str = "127.0.0.1",
    port: int = 0,
    extra_routes: list[Route] | None = None,
) -> TelegramServer:
    """Start the emulator's HTTP server on this loop (port 0: a free port)."""
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on such sockets; without it
    # Nagle + delayed ACK add ~40 ms to every keep-alive request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    config = uvicorn.Config(
        create_app(emu, extra_routes),
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="off",
        http="h11",
        ws="none",
        timeout_graceful_shutdown=2,
    )
    server = _QuietServer(config)
    emu.resume()
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # uvicorn offers no startup event to await
        if task.done():
            task.result()
            raise RuntimeError("emulator server exited during startup")
        await asyncio.sleep(0.005)
    return TelegramServer(emu, server, task, host, sock.getsockname()[1])
