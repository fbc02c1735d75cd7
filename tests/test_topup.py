"""잔액충전 over the emulator: bank transfer requests and Telegram Stars payments."""

from __future__ import annotations

import json

import pytest

from sandbox.telegram import PaymentRejected
from shop.parsing import InputError, parse_amount


async def _outbox(env, event: str) -> list[dict]:
    rows = await env.shop.ctx.db.fetch_all(
        "SELECT * FROM outbox WHERE event = ? ORDER BY id", (event,)
    )
    return [dict(r) | {"payload": json.loads(r["payload"])} for r in rows]


async def request_bank(env, u, amount: str = "2만원", name: str = "홍길동"):
    await u.send_text("💳 잔액충전")
    await u.wait_for(r"충전 방법")
    await u.press("🏦 무통장입금")
    await u.wait_for(r"충전하실 금액")
    await u.send_text(amount)
    await u.wait_for(r"입금하실 분의 성함")
    await u.send_text(name)
    return await u.wait_for(r"충전 요청 .*접수")


async def test_bank_request_shows_account_and_alerts_admins(env):
    u = env.user(11)
    msg = await request_bank(env, u)
    assert "20,000원" in msg.text and "홍길동" in msg.text
    [topup] = await env.shop.topups.pending()
    assert (topup.amount, topup.depositor, topup.status) == (20_000, "홍길동", "pending")
    assert f"#{topup.id}" in msg.text
    alerts = await _outbox(env, "admin_topup")
    assert sorted(a["chat_id"] for a in alerts) == [9001, 9002]
    assert alerts[0]["payload"]["topup_id"] == topup.id
    assert await env.balance(11) == 0  # nothing credited before an admin approves

    await u.send_photo()
    await u.wait_for(r"사진을 받았어요")
    row = await env.shop.ctx.db.fetch_one("SELECT receipt_file_id FROM topups")
    assert row["receipt_file_id"]


async def test_duplicate_pending_request_is_refused_with_reason(env):
    u = env.user(12)
    await request_bank(env, u, "20,000원")
    await u.press("사진 없이 완료")
    await u.wait_for(r"요청이 접수되었어요")
    await u.send_text("💳 잔액충전")
    menu = await u.wait_for(r"확인 대기 중인 충전 요청")
    assert "요청 취소" in " ".join(menu.button_labels())
    await u.press("🏦 무통장입금")
    await u.wait_for(r"충전하실 금액")
    await u.send_text("20000")
    await u.wait_for(r"성함")
    await u.send_text("홍길동")
    await u.wait_for(r"이미 있어요")
    assert len(await env.shop.topups.pending()) == 1


async def test_customer_withdraws_pending_request(env):
    u = env.user(13)
    await request_bank(env, u)
    await u.press("사진 없이 완료")
    await u.send_text("💳 잔액충전")
    await u.wait_for(r"확인 대기 중")
    await u.press(r"요청 취소 #\d+")
    await u.wait_for(r"충전 방법")
    assert await env.shop.topups.pending() == []
    row = await env.shop.ctx.db.fetch_one("SELECT status FROM topups")
    assert row["status"] == "withdrawn"


@pytest.mark.parametrize(
    ("typed", "reason"),
    [("100원", r"5,000 ~ 2,000,000"), ("300만원", r"5,000 ~ 2,000,000"), ("이만원쯤", r"숫자로")],
)
async def test_bad_amount_asks_again(env, typed, reason):
    u = env.user(14)
    await u.send_command("/topup")
    await u.wait_for(r"충전 방법")
    await u.press("🏦 무통장입금")
    await u.wait_for(r"충전하실 금액")
    await u.send_text(typed)
    msg = await u.wait_for(reason)
    assert "충전하실 금액" in msg.text  # the same question again
    await u.send_text("2만 5000원")
    await u.wait_for(r"25,000원")


def test_amount_parsing_edge_cases():
    assert parse_amount("20000", lo=5000, hi=2_000_000) == 20_000
    assert parse_amount("20,000원", lo=5000, hi=2_000_000) == 20_000
    assert parse_amount("2만원", lo=5000, hi=2_000_000) == 20_000
    for bad, code in [("4999", "input.out_of_range"), ("2000001", "input.out_of_range"),
                      ("abc", "input.not_a_number"), ("", "input.empty")]:  # fmt: skip
        with pytest.raises(InputError) as err:
            parse_amount(bad, lo=5000, hi=2_000_000)
        assert err.value.code == code


async def _stars_invoice(env, u, amount: str = "10000"):
    await u.send_text("💳 잔액충전")
    await u.wait_for(r"충전 방법")
    await u.press("⭐ 텔레그램 Stars 결제")
    await u.wait_for(r"1 Star = 20원")
    await u.send_text(amount)
    await env.emu.wait_event(lambda e: e.kind == "message" and e.chat_id == u.id
                             and "Stars" in e.text, since=0)  # fmt: skip
    return next(m for m in reversed(u.transcript()) if m.kind == "invoice")


async def test_stars_payment_credits_once(env):
    u = env.user(15)
    invoice = await _stars_invoice(env, u)
    assert invoice.invoice["currency"] == "XTR"
    assert invoice.invoice["total_amount"] == 500  # 10,000원 / 20원
    await u.pay(invoice)
    msg = await u.wait_for(r"충전되었어요")
    assert "10,000원" in msg.text
    assert await env.balance(15) == 10_000

    assert len([m for m in u.bot_messages() if "충전되었어요" in m.text]) == 1
    assert not any((await env.shop.check_ledger()).values())


async def test_redelivered_payment_update_credits_nothing(env):
    u = env.user(16)
    invoice = await _stars_invoice(env, u, "2만원")
    env.emu.deliver_twice(2)  # pre-checkout and successful_payment both arrive twice
    await u.pay(invoice)
    await u.wait_for(r"충전되었어요")
    # Replay the exact successful_payment message (same charge id) twice more.
    sent = next(m for m in reversed(u.transcript()) if m.kind == "successful_payment")
    env.emu.enqueue_update({"message": sent.to_api()}, twice=True)
    await env.emu.wait_updates_fetched()
    await u.send_command("/start")  # a later update: everything before it was handled
    await u.wait_for(r"현재 잔액")
    assert await env.balance(16) == 20_000
    assert len([m for m in u.bot_messages() if "충전되었어요" in m.text]) == 1
    assert not [m for m in u.bot_messages() if "오류" in m.text]
    rows = await env.shop.ctx.db.fetch_all("SELECT * FROM topups WHERE method = 'stars'")
    assert len(rows) == 1 and rows[0]["stars"] == 1000


async def test_checkout_refused_when_amount_no_longer_valid(env):
    u = env.user(17)
    invoice = await _stars_invoice(env, u)
    invoice.invoice_params["payload"] = "topup:999999999"  # tampered / out of bounds
    with pytest.raises(PaymentRejected):
        await u.pay(invoice)
    assert await env.balance(17) == 0


async def test_stars_credit_offers_way_back_to_order(env):
    u = env.user(18)
    await u.send_command("/start")
    await u.wait_for(r"현재 잔액")
    env.app.user_data[18]["chat"] = {"card": "tok123"}  # a card that lacked balance
    invoice = await _stars_invoice(env, u)
    await u.pay(invoice)
    msg = await u.wait_for(r"충전되었어요")
    assert [b["callback_data"] for b in msg.buttons()] == ["o:card:tok123"]
