"""The Bot API emulator against a real python-telegram-bot Application over loopback HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from sandbox.telegram import (
    BotApiEmulator,
    PaymentRejected,
    TelegramServer,
    parse_html,
    serve_telegram,
)

TOKEN = "123456:TEST"


class FakeClock:
    """Flood control reads this clock, so retry_after is deterministic."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --------------------------------------------------------------------------- a tiny bot

Ctx = ContextTypes.DEFAULT_TYPE


def _count_markup(n: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Count", callback_data=f"count:{n}")]])


async def _start(update: Update, context: Ctx) -> None:
    name = html.escape(update.effective_user.first_name)
    await update.message.reply_html(f"Welcome, <b>{name}</b>!", reply_markup=_count_markup(0))


async def _menu(update: Update, context: Ctx) -> None:
    keyboard = ReplyKeyboardMarkup([["잔액", "주문"], ["문의"]], resize_keyboard=True)
    await update.message.reply_text("Menu", reply_markup=keyboard)


async def _count(update: Update, context: Ctx) -> None:
    query = update.callback_query
    n = int(query.data.split(":")[1]) + 1
    await query.answer(f"counted {n}")
    await query.edit_message_text(f"Count: {n}", reply_markup=_count_markup(n))


async def _buy(update: Update, context: Ctx) -> None:
    payload = "topup:5000" if update.message.text == "/buy" else "expired:1"
    await context.bot.send_invoice(
        chat_id=update.effective_chat.id,
        title="충전 5,000원",
        description="잔액 충전",
        payload=payload,
        provider_token="TEST-PROVIDER",
        currency="KRW",
        prices=[LabeledPrice("충전", 5000)],
    )


async def _precheckout(update: Update, context: Ctx) -> None:
    query = update.pre_checkout_query
    if query.invoice_payload.startswith("topup:"):
        await query.answer(ok=True)
    else:
        await query.answer(ok=False, error_message="만료된 결제입니다")


async def _paid(update: Update, context: Ctx) -> None:
    sp = update.message.successful_payment
    text = f"paid {sp.total_amount} {sp.currency} {sp.telegram_payment_charge_id}"
    await update.message.reply_text(text)


async def _echo(update: Update, context: Ctx) -> None:
    context.bot_data.setdefault("seen", []).append(update.update_id)
    await update.message.reply_text(f"echo: {update.message.text}")


async def _media(update: Update, context: Ctx) -> None:
    kind = "sticker" if update.message.sticker else "photo"
    await update.message.reply_text(f"got a {kind}")


async def _member(update: Update, context: Ctx) -> None:
    status = update.my_chat_member.new_chat_member.status
    context.bot_data.setdefault("member", []).append(status)


def _install_handlers(app: Application) -> None:
    app.add_handler(CommandHandler("start", _start))
    app.add_handler(CommandHandler("menu", _menu))
    app.add_handler(CommandHandler(["buy", "buy_expired"], _buy))
    app.add_handler(CallbackQueryHandler(_count, pattern=r"^count:\d+$"))
    app.add_handler(PreCheckoutQueryHandler(_precheckout))
    app.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, _paid))
    app.add_handler(MessageHandler(filters.Sticker.ALL | filters.PHOTO, _media))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    app.add_handler(ChatMemberHandler(_member, ChatMemberHandler.MY_CHAT_MEMBER))


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def server(clock: FakeClock) -> AsyncIterator[TelegramServer]:
    srv = await serve_telegram(BotApiEmulator(TOKEN, clock=clock))
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
def emu(server: TelegramServer) -> BotApiEmulator:
    return server.emu


@pytest.fixture
async def app(server: TelegramServer) -> AsyncIterator[Application]:
    application = ApplicationBuilder().token(TOKEN).base_url(server.base_url).build()
    _install_handlers(application)
    async with application:
        await application.start()
        await application.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()


# --------------------------------------------------------------------------- conversations


async def test_start_reply_arrives_with_parsed_html(emu: BotApiEmulator, app: Application) -> None:
    user = emu.user(1001, "Kim <Jr>")
    await user.send_command("/start")
    reply = await user.wait_for(r"^Welcome, Kim <Jr>!$")
    assert reply.source == "Welcome, <b>Kim &lt;Jr&gt;</b>!"
    assert reply.entities == [{"type": "bold", "offset": 9, "length": 8}]
    assert reply.button_labels() == ["Count"]
    assert [c.method for c in emu.calls][:2] == ["getMe", "deleteWebhook"]
    assert emu.calls_of("sendMessage")[0].params["chat_id"] == 1001


async def test_button_press_answers_callback_and_edits(
    emu: BotApiEmulator, app: Application
) -> None:
    user = emu.user(1002, "Lee")
    await user.send_command("/start")
    welcome = await user.wait_for("Welcome")

    query_id = await user.press("Count")
    answer = await user.wait_callback_answer(query_id)
    edited = await user.wait_for(r"^Count: 1$")
    assert answer.text == "counted 1" and not answer.show_alert
    assert edited is welcome and len(edited.history) == 1
    assert edited.history[0].text == "Welcome, Lee!"

    await user.press(r"Cou.t")  # a regex works too
    await user.wait_for(r"^Count: 2$")
    assert [a.text for a in user.callback_answers] == ["counted 1", "counted 2"]


async def test_reply_keyboard_is_the_current_keyboard(
    emu: BotApiEmulator, app: Application
) -> None:
    user = emu.user(1003)
    await user.send_command("menu")
    await user.wait_for("^Menu$")
    assert user.current_keyboard() == ["잔액", "주문", "문의"]
    assert user.current_keyboard_rows() == [["잔액", "주문"], ["문의"]]
    await user.press_key("잔액")
    await user.wait_for("^echo: 잔액$")
    await user.send_sticker()
    await user.wait_for("got a sticker")
    await user.send_photo(caption="영수증")
    await user.wait_for("got a photo")


async def test_forged_callback_data_reaches_the_bot(emu: BotApiEmulator, app: Application) -> None:
    user = emu.user(1004)
    await user.send_command("/start")
    welcome = await user.wait_for("Welcome")
    await user.press_data("count:41", welcome.message_id)
    await user.wait_for("^Count: 42$")


# --------------------------------------------------------------------------- strictness


async def test_edit_that_changes_nothing_is_rejected(emu: BotApiEmulator, app: Application) -> None:
    user = emu.user(1010)
    sent = await app.bot.send_message(user.id, "same", reply_markup=_count_markup(0))
    with pytest.raises(BadRequest, match="Message is not modified"):
        await app.bot.edit_message_text(
            "same", chat_id=user.id, message_id=sent.message_id, reply_markup=_count_markup(0)
        )
    with pytest.raises(BadRequest, match="Message is not modified"):
        await app.bot.edit_message_reply_markup(
            chat_id=user.id, message_id=sent.message_id, reply_markup=_count_markup(0)
        )
    # Like Telegram: editing the text without reply_markup drops the inline keyboard.
    await app.bot.edit_message_text("same", chat_id=user.id, message_id=sent.message_id)
    assert user.last_bot_message().reply_markup is None
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await app.bot.edit_message_text("x", chat_id=user.id, message_id=999)


async def test_callback_data_over_64_bytes_is_rejected(
    emu: BotApiEmulator, app: Application
) -> None:
    user = emu.user(1011)
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("가", callback_data="가" * 22)]])
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await app.bot.send_message(user.id, "pick", reply_markup=too_long)
    fits = InlineKeyboardMarkup([[InlineKeyboardButton("가", callback_data="가" * 21)]])
    await app.bot.send_message(user.id, "pick", reply_markup=fits)
    assert emu.stats["400"] == 1


async def test_html_and_text_rules(emu: BotApiEmulator, app: Application) -> None:
    user = emu.user(1012)
    bot = app.bot
    for unescaped in ("1 < 2", "R&D", "<script>x</script>", "<b>open"):
        with pytest.raises(BadRequest, match="Can't parse entities"):
            await bot.send_message(user.id, f"주문: {unescaped}", parse_mode=ParseMode.HTML)
    await bot.send_message(user.id, html.escape("1 < 2 & R&D"), parse_mode=ParseMode.HTML)
    await bot.send_message(user.id, "1 < 2 & R&D")  # no parse_mode: anything goes
    assert [m.text for m in user.bot_messages()] == ["1 < 2 & R&D", "1 < 2 & R&D"]
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(user.id, "x" * 4097)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(user.id, "<b> </b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hi")


async def test_telegram_limits_refused_in_telegrams_words(
    emu: BotApiEmulator, app: Application
) -> None:
    """Each limit, just over and just at it; the answer is Telegram's (400 + its text)."""
    user, bot = emu.user(1013), app.bot

    def rows(n_rows: int, per_row: int) -> list[list[InlineKeyboardButton]]:
        return [
            [InlineKeyboardButton(f"{r}.{c}", callback_data=f"{r}.{c}") for c in range(per_row)]
            for r in range(n_rows)
        ]

    too_long: list[tuple[str, dict]] = [
        ("message is too long", {"text": "😀" * 4097}),  # counted in characters, not UTF-16
        ("message is too long", {"text": f"<b>{'가' * 4097}</b>", "parse_mode": "HTML"}),
        ("text is too long", {"text": "x" * 40000}),
        ("message text is empty", {"text": ""}),
        ("can't parse entities: Unsupported start tag \"br\" at byte offset 1", {
            "text": "a<br>b", "parse_mode": "HTML"}),
        ("BUTTON_DATA_INVALID", {"reply_markup": InlineKeyboardMarkup(
            [[InlineKeyboardButton("x", callback_data="x" * 65)]])}),
        ("reply markup is too long", {"reply_markup": InlineKeyboardMarkup(rows(1, 9))}),
        ("reply markup is too long", {"reply_markup": InlineKeyboardMarkup(rows(13, 8))}),
        ("reply markup is too long", {"reply_markup": ReplyKeyboardMarkup([["k"] * 13])}),
        ("reply markup is too long", {"reply_markup": InlineKeyboardMarkup(  # ~12 KB
            [[InlineKeyboardButton("긴 이름" * 100, callback_data=str(i))] for i in range(10)])}),
        ("inline keyboard button text must be non-empty", {"reply_markup": InlineKeyboardMarkup(
            [[InlineKeyboardButton("", callback_data="x")]])}),
        ("keyboard button text must be non-empty", {"reply_markup": ReplyKeyboardMarkup([[""]])}),
    ]  # fmt: skip
    for description, kwargs in too_long:
        text = kwargs.pop("text", "hi")
        with pytest.raises(BadRequest):
            await bot.send_message(user.id, text, **kwargs)
        call = emu.calls_of("sendMessage")[-1]
        assert (call.status, call.response["description"]) == (400, f"Bad Request: {description}")
    assert user.bot_messages() == []

    # exactly at each limit: accepted
    await bot.send_message(user.id, "😀" * 4096)
    await bot.send_message(
        user.id, "ok", reply_markup=InlineKeyboardMarkup([*rows(12, 8)[:-1], rows(1, 4)[0]])
    )
    await bot.send_message(user.id, "ok", reply_markup=ReplyKeyboardMarkup([["k"] * 12] * 25))
    photo = await bot.send_photo(user.id, b"\x89PNG fake", caption="c" * 1024)
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_photo(user.id, b"\x89PNG fake", caption="c" * 1025)
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.edit_message_caption(user.id, photo.message_id, caption="c" * 1025)
    sent = await bot.send_message(user.id, "edit me")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.edit_message_text("e" * 4097, user.id, sent.message_id)
    with pytest.raises(BadRequest, match="Reply markup is too long"):
        await bot.edit_message_reply_markup(
            user.id, sent.message_id, reply_markup=InlineKeyboardMarkup(rows(1, 9))
        )
    assert len(user.bot_messages()) == 5


def test_html_parser_entities_use_utf16_offsets() -> None:
    text, entities = parse_html('😀 <a href="https://x.kr/?a=1&amp;b=2">링크</a> &#35; 2 > 1')
    assert text == "😀 링크 # 2 > 1"
    assert entities == [
        {"type": "text_link", "offset": 3, "length": 2, "url": "https://x.kr/?a=1&b=2"}
    ]


async def test_flood_limits_raise_retry_after(
    emu: BotApiEmulator, app: Application, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    emu.set_flood_limits(chat_burst=3, chat_per_sec=1, global_burst=5, global_per_sec=1)
    users = [emu.user(1020 + i) for i in range(3)]
    for _ in range(3):
        await app.bot.send_message(users[0].id, "burst")
    with pytest.raises(RetryAfter) as exc_info:
        await app.bot.send_message(users[0].id, "one too many")
    assert exc_info.value.retry_after == dtm.timedelta(seconds=1)

    clock.advance(1)  # a token back in chat 0 and globally (2 + 1 left)
    await app.bot.send_message(users[0].id, "after the pause")
    await app.bot.send_message(users[1].id, "other chat")
    await app.bot.send_message(users[2].id, "third chat")
    with pytest.raises(RetryAfter):  # chat 1 has tokens left, the global bucket has not
        await app.bot.send_message(users[1].id, "over the global limit")
    assert emu.stats["429_flood"] == 2

    emu.set_flood_limits(enabled=False)
    await app.bot.send_message(users[2].id, "unlimited again")


async def test_blocked_user_is_forbidden(emu: BotApiEmulator, app: Application) -> None:
    user = emu.user(1030)
    await user.send_command("/start")
    await user.wait_for("Welcome")
    emu.block(user.id)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await app.bot.send_message(user.id, "공지")
    await user.send_text("다시 왔어요")  # writing again unblocks, like Telegram
    await user.wait_for("echo: 다시 왔어요")
    assert app.bot_data["member"] == ["kicked", "member"]

    stranger = emu.user(1031, started=False)
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await app.bot.send_message(stranger.id, "hi")


async def test_invoice_payment_reaches_the_bot(emu: BotApiEmulator, app: Application) -> None:
    user = emu.user(1040)
    await user.send_command("/buy")
    invoice = await user.wait_for("충전 5,000원")
    assert invoice.invoice == {
        "title": "충전 5,000원",
        "description": "잔액 충전",
        "start_parameter": "",
        "currency": "KRW",
        "total_amount": 5000,
    }
    charge_id = await user.pay()
    await user.wait_for(f"^paid 5000 KRW {charge_id}$")
    assert emu.calls_of("answerPreCheckoutQuery")[0].params["ok"] is True

    await user.send_command("/buy_expired")
    await user.wait_for("충전 5,000원")
    with pytest.raises(PaymentRejected, match="만료된 결제입니다"):
        await user.pay()


async def test_update_delivered_twice_arrives_twice(emu: BotApiEmulator, app: Application) -> None:
    user = emu.user(1050)
    emu.deliver_twice()
    await user.send_text("dup")
    first = await user.wait_for("^echo: dup$")
    second = await user.wait_for("^echo: dup$", after=first)
    assert first is not second
    seen = app.bot_data["seen"]
    assert len(seen) == 2 and seen[0] == seen[1]
    assert emu.stats["duplicated_updates"] == 1


# --------------------------------------------------------------------------- faults


async def test_injected_faults(
    emu: BotApiEmulator, app: Application, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    user = emu.user(1060)
    bot = app.bot
    emu.fail_next("sendMessage", kind="5xx")
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(user.id, "a")
    emu.fail_next("sendMessage", kind="5xx", status=502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(user.id, "b")
    emu.fail_next("sendMessage", kind="429", retry_after=7)
    with pytest.raises(RetryAfter) as exc_info:
        await bot.send_message(user.id, "c")
    assert exc_info.value.retry_after == dtm.timedelta(seconds=7)
    emu.fail_next("sendMessage", kind="drop")
    with pytest.raises(NetworkError):
        await bot.send_message(user.id, "d")
    emu.fail_next("sendMessage", kind="drop_after")
    with pytest.raises(NetworkError):
        await bot.send_message(user.id, "e")
    # Only the call whose response was lost reached the chat.
    assert [m.text for m in user.bot_messages()] == ["e"]
    assert emu.stats["dropped"] == 2 and emu.stats["5xx"] == 2 and emu.stats["429"] == 1
    await bot.send_message(user.id, "f")


async def test_polling_recovers_from_a_failed_get_updates(
    emu: BotApiEmulator, app: Application
) -> None:
    user = emu.user(1061)
    emu.fail_next("getUpdates", kind="5xx")
    await user.send_text("one")  # answers the pending poll; the next getUpdates fails
    await user.wait_for("echo: one")
    await user.send_text("two")
    await user.wait_for("echo: two", timeout=5)
    assert [c.status for c in emu.calls_of("getUpdates")].count(500) == 1


# --------------------------------------------------------------------------- misc API


async def test_unknown_token_is_unauthorized(server: TelegramServer) -> None:
    async with httpx.AsyncClient() as client:
        resp = await client.post(f"{server.base_url}999:WRONG/getMe")
    assert resp.status_code == 401
    assert resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    bot = Bot("999:WRONG", base_url=server.base_url)
    with pytest.raises(InvalidToken):
        await bot.get_me()
    await bot.shutdown()


async def test_raw_http_bodies_and_poll_conflict(server: TelegramServer) -> None:
    emu, api = server.emu, f"{server.base_url}{TOKEN}"
    user = emu.user(1075)
    markup = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}
    async with httpx.AsyncClient() as client:
        as_json = await client.post(
            f"{api}/sendMessage", json={"chat_id": user.id, "text": "json", "reply_markup": markup}
        )
        as_form = await client.post(
            f"{api}/SENDMESSAGE",
            data={"chat_id": str(user.id), "text": "form", "reply_markup": json.dumps(markup)},
        )
        as_query = await client.get(f"{api}/sendMessage", params={"chat_id": user.id, "text": "q"})
        assert [r.json()["ok"] for r in (as_json, as_form, as_query)] == [True, True, True]
        assert as_form.json()["result"]["reply_markup"] == markup
        assert [m.text for m in user.bot_messages()] == ["json", "form", "q"]

        # A second getUpdates ends the first long poll with 409, as on Telegram.
        first = asyncio.create_task(client.post(f"{api}/getUpdates", data={"timeout": 5}))
        await emu.wait_call("getUpdates")
        second = await client.post(f"{api}/getUpdates", data={"timeout": 0})
        assert (await first).status_code == 409
        assert second.json() == {"ok": True, "result": []}


async def test_commands_photo_and_chat_action(emu: BotApiEmulator, app: Application) -> None:
    user = emu.user(1070)
    await app.bot.set_my_commands([("start", "시작"), ("buy", "충전")], language_code="ko")
    assert [c.command for c in await app.bot.get_my_commands(language_code="ko")] == [
        "start",
        "buy",
    ]
    assert await app.bot.get_my_commands() == ()
    assert emu.commands[("default", "ko")][1] == {"command": "buy", "description": "충전"}
    await app.bot.send_chat_action(user.id, "typing")
    sent = await app.bot.send_photo(
        user.id, photo=b"\x89PNG fake", caption="<i>QR</i>", parse_mode="HTML"
    )
    assert sent.photo[-1].width == 800 and sent.caption == "QR"
    assert user.last_bot_message().kind == "photo"
    assert emu.calls_of("sendPhoto")[0].params["photo"].data == b"\x89PNG fake"
    assert await app.bot.delete_message(user.id, sent.message_id)
    assert user.last_bot_message() is None
    assert await app.bot.set_my_description("모르는 메서드도 기록")  # permissive fallback
    assert emu.stats["fallback"] == 1


async def test_stop_releases_a_pending_long_poll() -> None:
    # A client long-polling for 30 s must not hold up the server's shutdown.
    srv = await serve_telegram(BotApiEmulator(TOKEN))
    url = f"{srv.base_url}{TOKEN}/getUpdates"
    async with httpx.AsyncClient(timeout=35) as client:
        poll = asyncio.create_task(client.post(url, data={"timeout": 30}))
        await srv.emu.wait_call("getUpdates")
        async with asyncio.timeout(2):
            await srv.stop()
            resp = await poll
    assert resp.json() == {"ok": True, "result": []}


async def test_chat_page_view_of_the_core(emu: BotApiEmulator, app: Application) -> None:
    user = emu.user(1080, "Park")
    start = emu.version
    await user.send_command("/start")
    version = await emu.wait_changed(start, timeout=5)
    assert version > start
    await user.wait_for("Welcome")
    assert emu.chats()[0].id == user.id
    views = [m.as_dict() for m in user.transcript()]
    assert [v["from_bot"] for v in views] == [False, True]
    assert views[1]["buttons"] == [[{"text": "Count", "callback_data": "count:0"}]]
    kinds = [e.kind for e in emu.events_since(start)]
    assert kinds[:2] == ["message", "message"]
