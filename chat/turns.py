"""One customer turn: what happened (an event), who, on which front, in which state; and
the reply (screens, a toast, effects, the new state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chat.screens import Capabilities, Screen
from shop.models import User

# ---- events: what the customer did ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text:
    """Typed text (a Telegram reply-keyboard label arrives as text too)."""

    text: str


@dataclass(frozen=True, slots=True)
class Tap:
    """A tapped choice: its data, exactly as the screen gave it (may be old or forged)."""

    data: str


@dataclass(frozen=True, slots=True)
class Command:
    """A command: start, help, order, balance, orders, topup, cancel (Kakao's welcome
    block is ``Command("start")``)."""

    name: str
    args: str = ""


@dataclass(frozen=True, slots=True)
class Media:
    """Something that is not text: ``photo`` (``ref`` = the front's file id), ``sticker``…"""

    kind: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Paid:
    """A payment the front collected itself (Telegram Stars): credit it."""

    payload: str
    currency: str
    total: int  # in the currency's units (Stars)
    charge_id: str  # the front's unique payment id (idempotency)


Event = Text | Tap | Command | Media | Paid


@dataclass(slots=True)
class Turn:
    user: User  # the shop's customer (front + external id → one user)
    lang: str  # "ko" | "en"
    caps: Capabilities
    state: dict[str, Any]  # the JSON-able state the front persisted (``{}`` at first)
    event: Event
    # Seconds the front can still wait before it must answer (KakaoTalk: its 5-second
    # rule); a confirmed order's panel call then finishes after the answer. None: no limit.
    answer_within: float | None = None


# ---- effects: things only the front can do --------------------------------------------


@dataclass(frozen=True, slots=True)
class Invoice:
    """Ask the front to collect a payment (Telegram Stars: sendInvoice, currency XTR)."""

    title: str
    description: str
    label: str
    payload: str  # handed back in Paid.payload
    currency: str
    amount: int  # in the currency's units


Effect = Invoice


@dataclass(slots=True)
class Reply:
    screens: list[Screen]
    state: dict[str, Any]  # persist this and hand it back with the next turn
    toast: str | None = None  # a short note on the tap (Telegram: answerCallbackQuery)
    alert: bool = False  # the toast needs a tap to dismiss
    clear_tapped: bool = False  # take the choices off the tapped screen (a used confirm)
    effects: list[Effect] = field(default_factory=list)
