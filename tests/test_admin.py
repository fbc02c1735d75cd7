"""The admin console over the emulator: top-up decisions, review queue, adjustments,
broadcast. Customer notifications are asserted as outbox rows (the notifier sends them)."""

from __future__ import annotations

import asyncio
import json

import httpx

from bot.jobs import run_outbox
from shop.models import OrderInput, PlaceOutcome
from storage import outbox
from tests.botenv import ADMIN_IDS


async def _rows(env, sql: str, *args) -> list[dict]:
    return [dict(r) for r in await env.shop.ctx.db.fetch_all(sql, args)]


async def _outbox(env, event: str) -> list[dict]:
    rows = await _rows(env, "SELECT * FROM outbox WHERE event = ? ORDER BY id", event)
    return [r | {"payload": json.loads(r["payload"])} for r in rows]


async def _bank_request(env, tg_id: int, amount: int = 30_000):
    user = await env.shop.users.ensure(tg_id, f"cust{tg_id}", f"고객{tg_id}", "ko")
    return await env.shop.topups.request_bank(user.id, amount, "김입금")


async def _open_pending(admin):
    await admin.send_command("/admin")
    await admin.wait_for(r"관리자 메뉴")
    await admin.press("💰 대기 중인 충전")
    return await admin.wait_for(r"대기 중인 충전 요청")


async def test_approve_credits_and_every_admin_learns_who(env):
    topup = await _bank_request(env, 21)
    a0, a1 = env.admin(0), env.admin(1)
    await _open_pending(a0)
    await a0.press(f"✅ 승인 #{topup.id}")
    msg = await a0.wait_for(r"승인.*처리: ")
    assert "30,000원" in msg.text and "고객 잔액: 30,000원" in msg.text
    await run_outbox(env.runtime)  # the other admin never got the alert: told who decided
    note = await a1.wait_for(r"처리: ", after=0)
    assert f"#{topup.id}" in note.text and "승인" in note.text and str(ADMIN_IDS[0]) in note.text
    assert await env.balance(21) == 30_000
    [row] = await _outbox(env, "topup_approved")
    assert row["chat_id"] == 21 and row["payload"]["balance"] == 30_000
    [audit] = await _rows(env, "SELECT * FROM audit WHERE action = 'topup.approve'")
    assert audit["actor_id"] == ADMIN_IDS[0]

    # The second admin presses the (stale) alert: nothing changes, told who decided.
    await _open_pending(a1)  # nothing pending any more
    menu = await a1.wait_for(r"대기 중인 충전 요청이 없어요")
    qid = await a1.press_data(f"a:tp:ok:{topup.id}", menu)
    answer = await a1.wait_callback_answer(qid)
    assert "이미 처리된" in (answer.text or "")
    assert await env.balance(21) == 30_000


async def test_two_admins_approving_at_once_credit_once(env):
    topup = await _bank_request(env, 22)
    a0, a1 = env.admin(0), env.admin(1)
    m0, m1 = await _open_pending(a0), await _open_pending(a1)
    q0 = await a0.press_data(f"a:tp:ok:{topup.id}", m0)
    q1 = await a1.press_data(f"a:tp:ok:{topup.id}", m1)
    await asyncio.gather(a0.wait_callback_answer(q0), a1.wait_callback_answer(q1))
    assert await env.balance(22) == 30_000
    credits = await _rows(env, "SELECT * FROM ledger WHERE kind = 'topup'")
    assert len(credits) == 1
    assert len(await _outbox(env, "topup_approved")) == 1
    assert not any((await env.shop.check_ledger()).values())


async def test_forged_approve_by_customer_does_nothing_and_reveals_nothing(env, caplog):
    topup = await _bank_request(env, 23)
    mallory = env.user(23)
    await mallory.send_command("/start")
    greeting = await mallory.wait_for(r"현재 잔액")
    before = len(mallory.bot_messages())
    qid = await mallory.press_data(f"a:tp:ok:{topup.id}", greeting)
    answer = await mallory.wait_callback_answer(qid)
    assert not answer.text
    await mallory.send_command("/admin")
    await mallory.wait_for(r"무엇을 도와드릴까요")  # the same as any unknown input
    assert len(mallory.bot_messages()) == before + 1
    assert await env.balance(23) == 0
    assert (await env.shop.topups.get(topup.id)).status == "pending"
    assert "non-admin 23" in caplog.text


async def test_reject_needs_a_reason_that_reaches_the_customer(env):
    topup = await _bank_request(env, 24)
    a0 = env.admin(0)
    await _open_pending(a0)
    await a0.press(f"❌ 거절 #{topup.id}")
    await a0.wait_for(r"거절하는 사유")
    await a0.send_text(".")
    await a0.wait_for(r"사유는 꼭 입력")
    await a0.send_text("입금 내역이 <없어요>")
    msg = await a0.wait_for(r"거절")
    assert "&lt;없어요&gt;" not in msg.text and "<없어요>" in msg.text  # escaped, shown
    [row] = await _outbox(env, "topup_rejected")
    assert row["chat_id"] == 24 and row["payload"]["reason"] == "입금 내역이 <없어요>"
    assert (await env.shop.topups.get(topup.id)).status == "rejected"
    assert await env.balance(24) == 0


async def _review_order(env, tg_id: int) -> int:
    await env.credit(tg_id, 50_000)
    user = await env.shop.users.by_telegram(tg_id)
    svc = next(s for s in await env.shop.catalog.all() if s.panel_id == "101")
    env.shop.ctx.panel._http.timeout = httpx.Timeout(0.3)
    env.sim.set_quirk("slow_add", times=1, value=2.0)
    q = await env.shop.orders.quote(
        user.id, svc.id, OrderInput(link="https://instagram.com/a", quantity=100)
    )
    result = await env.shop.orders.place(user.id, q.token)
    env.sim.release_slow()
    env.shop.ctx.panel._http.timeout = httpx.Timeout(5)
    assert result.outcome == PlaceOutcome.NEEDS_REVIEW
    return result.order.id


async def test_review_refund_happens_once(env):
    order_id = await _review_order(env, 25)
    assert await env.balance(25) < 50_000
    a0 = env.admin(0)
    await a0.send_command("/admin")
    await a0.wait_for(r"관리자 메뉴")
    await a0.press("🔍 확인 필요 주문")
    queue = await a0.wait_for(r"확인 필요 주문")
    await a0.press(f"↩️ 환불 #{order_id}", queue)
    await a0.wait_for(r"환불하는 사유")
    await a0.send_text(".")  # not a reason
    await a0.wait_for(r"사유는 꼭 입력")
    await a0.send_text("패널에서 주문을 찾지 못함")
    await a0.wait_for(r"환불했어요")
    await a0.press(f"↩️ 환불 #{order_id}", queue)  # the same old button again
    await a0.wait_for(r"환불하는 사유")
    await a0.send_text("두 번째 시도")
    await a0.wait_for(r"이미 처리")
    assert await env.balance(25) == 50_000
    (entry,) = await _rows(env, "SELECT * FROM audit WHERE action = 'order.refund'")
    assert "패널에서 주문을 찾지 못함" in entry["after"] and entry["actor_id"] == ADMIN_IDS[0]
    refunds = await _rows(env, "SELECT * FROM ledger WHERE kind = 'refund'")
    assert len(refunds) == 1
    order = await _rows(env, "SELECT status, refunded, price FROM orders WHERE id = ?", order_id)
    assert order[0]["status"] == "failed" and order[0]["refunded"] == order[0]["price"]
    assert not any((await env.shop.check_ledger()).values())


async def test_attach_panel_id_after_checking_the_panel(env):
    order_id = await _review_order(env, 26)
    [panel_id] = [r.order for r in env.sim.adds()]
    a0 = env.admin(0)
    await a0.send_command("/admin")
    await a0.wait_for(r"관리자 메뉴")
    await a0.press("🔍 확인 필요 주문")
    await a0.wait_for(r"확인 필요 주문")
    await a0.press(f"🔗 패널번호 #{order_id}")
    await a0.wait_for(r"패널 주문번호를 입력")
    await a0.send_text("999999")
    await a0.wait_for(r"확인하지 못했어요")
    order = (await _rows(env, "SELECT * FROM orders WHERE id = ?", order_id))[0]
    assert order["status"] == "needs_review"
    assert panel_id is not None
    await a0.press(f"🔗 패널번호 #{order_id}", await _reopen_review(a0))
    await a0.wait_for(r"패널 주문번호를 입력")
    await a0.send_text(str(panel_id))
    await a0.wait_for(r"연결했어요")
    order = (await _rows(env, "SELECT * FROM orders WHERE id = ?", order_id))[0]
    assert (order["status"], order["panel_order_id"]) == ("pending", str(panel_id))


async def _reopen_review(a0):
    await a0.send_command("/admin")
    await a0.wait_for(r"관리자 메뉴")
    await a0.press("🔍 확인 필요 주문")
    return await a0.wait_for(r"확인 필요 주문")


async def test_balance_adjustment_needs_reason_confirmation_and_audit(env):
    await env.credit(27, 10_000)
    a0 = env.admin(0)
    await a0.send_command("/admin")
    await a0.wait_for(r"관리자 메뉴")
    await a0.press("👤 고객 조회")
    await a0.wait_for(r"텔레그램 ID")
    await a0.send_text("27")
    card = await a0.wait_for(r"잔액: <?b?>?10,000원|잔액: 10,000원")
    assert "10,000원" in card.text
    await a0.press("± 잔액 조정")
    await a0.wait_for(r"조정할 금액")
    await a0.send_text("-3000")
    await a0.wait_for(r"조정 사유")
    await a0.send_text(" ")
    await a0.wait_for(r"사유는 꼭 입력")
    assert await env.balance(27) == 10_000
    await a0.send_text("이벤트 환급 오류 정정")
    preview = await a0.wait_for(r"조정할까요")
    assert "10,000원 → 7,000원" in preview.text
    assert await env.balance(27) == 10_000  # nothing before the confirmation
    confirm_data = preview.buttons()[0]["callback_data"]
    q1 = await a0.press("✅ 확인", preview)
    await a0.wait_for(r"잔액을 조정했어요")
    await a0.wait_callback_answer(q1)
    q2 = await a0.press_data(confirm_data, preview)  # replayed
    await a0.wait_callback_answer(q2)
    assert await env.balance(27) == 7_000  # the same confirmation twice: once
    [row] = await _rows(env, "SELECT * FROM ledger WHERE kind = 'adjustment'")
    assert row["amount"] == -3000 and row["note"] == "이벤트 환급 오류 정정"
    [audit] = await _rows(env, "SELECT * FROM audit WHERE action = 'balance.adjust'")
    assert audit["actor_id"] == ADMIN_IDS[0]
    assert json.loads(audit["before"]) == {"balance": 10_000}
    assert json.loads(audit["after"])["balance"] == 7_000


async def test_broadcast_to_300_customers_reports_progress(env):
    for i in range(300):
        await env.shop.users.ensure(100_000 + i, None, f"c{i}", "ko")
    env.app.bot_data["broadcast_progress_interval"] = 0.05
    a0 = env.admin(0)
    await a0.send_command("/admin")
    await a0.wait_for(r"관리자 메뉴")
    await a0.press("📣 전체 공지")
    await a0.wait_for(r"공지 내용을 입력")
    await a0.send_text("<b>점검</b> 안내: 오늘 밤 2시")
    preview = await a0.wait_for(r"미리보기")
    assert "<b>점검</b>" in preview.text  # shown as typed, not as markup
    await a0.press("📣 보내기", preview)
    await a0.wait_for(r"발송 중: 0 / 300")
    rows = await _outbox(env, "broadcast")
    assert len(rows) == 300
    assert len({r["dedupe_key"] for r in rows}) == 300
    assert rows[0]["payload"]["text"] == "&lt;b&gt;점검&lt;/b&gt; 안내: 오늘 밤 2시"
    # Stand in for the paced notifier: mark rows sent and watch the one message move.
    async with env.shop.ctx.db.transaction() as conn:
        for r in rows[:120]:
            await outbox.mark(conn, r["id"], "sent", env.shop.ctx.now_iso())
    progress = await a0.wait_for(r"발송 중: 120 / 300")
    async with env.shop.ctx.db.transaction() as conn:
        for r in rows[120:299]:
            await outbox.mark(conn, r["id"], "sent", env.shop.ctx.now_iso())
        await outbox.mark(conn, rows[299]["id"], "failed", env.shop.ctx.now_iso(), "blocked")
    done = await a0.wait_for(r"발송 완료: 299 / 300 \(실패 1\)")
    assert done.message_id == progress.message_id  # one message, edited
    assert len(await _rows(env, "SELECT * FROM audit WHERE action = 'broadcast'")) == 1


async def test_stats_show_today_and_panel_balance(env):
    await env.credit(28, 50_000)
    user = await env.shop.users.by_telegram(28)
    svc = next(s for s in await env.shop.catalog.all() if s.panel_id == "101")
    q = await env.shop.orders.quote(
        user.id, svc.id, OrderInput(link="https://instagram.com/b", quantity=100)
    )
    placed = await env.shop.orders.place(user.id, q.token)
    assert placed.outcome == PlaceOutcome.PLACED
    a0 = env.admin(0)
    await a0.send_command("/admin")
    await a0.wait_for(r"관리자 메뉴")
    await a0.press("📊 통계")
    msg = await a0.wait_for(r"패널 잔액")
    assert f"오늘\n주문 1건 · 매출 {placed.order.price:,}원" in msg.text
    assert "전체 고객: 1명" in msg.text
    assert "확인 불가" not in msg.text  # the simulator answered the balance call


async def test_hide_service_and_override_price_are_audited(env):
    svc = next(s for s in await env.shop.catalog.all() if s.panel_id == "101")
    a0 = env.admin(0)
    await a0.send_command("/admin")
    await a0.wait_for(r"관리자 메뉴")
    await a0.press("🧾 서비스 관리")
    page = await a0.wait_for(r"서비스 관리")
    await a0.press(f"👁 #{svc.id}", page)
    await a0.wait_for(f"🚫 #{svc.id}")
    assert not (await env.shop.catalog.get(svc.id)).visible
    await a0.press(f"💲 가격 #{svc.id}")
    await a0.wait_for(r"1000개당 가격")
    await a0.send_text("3,500")
    await a0.wait_for(r"가격을 변경했어요")
    assert (await env.shop.catalog.get(svc.id)).price_override == 3500
    actions = [r["action"] for r in await _rows(env, "SELECT action FROM audit ORDER BY id")]
    assert actions == ["service.visible", "service.price"]


async def test_decision_updates_every_admins_alert_in_place(env):
    from bot.notifier import OutboxSender
    from shop.jobs import ShopJobs

    a0, a1 = env.admin(0), env.admin(1)  # both have a chat with the bot
    topup = await _bank_request(env, 25)
    sender = OutboxSender(ShopJobs(env.shop.ctx), env.app.bot, chat_interval=0)
    await sender.drain()  # both admins get the alert with 승인/거절
    alert0 = await a0.wait_for(rf"#{topup.id}", after=0)
    alert1 = await a1.wait_for(rf"#{topup.id}", after=0)
    assert alert1.button_labels() == ["승인", "거절"]
    await a0.press_data(f"a:tp:ok:{topup.id}", alert0)
    await a0.wait_for(r"승인.*처리: ")
    await sender.drain()
    edited = await a1.wait_for(r"처리: ", after=0)
    assert edited.message_id == alert1.message_id  # the same message, edited in place
    assert edited.button_labels() == []  # no buttons left to press
    assert await env.balance(25) == 30_000


async def test_a_decision_made_outside_the_chat_updates_every_alert(env):
    """The web console decides through the same use-case: no admin keeps live buttons."""
    from bot.notifier import OutboxSender
    from shop.jobs import ShopJobs

    a0, a1 = env.admin(0), env.admin(1)
    topup = await _bank_request(env, 26)
    sender = OutboxSender(ShopJobs(env.shop.ctx), env.app.bot, chat_interval=0)
    await sender.drain()
    alerts = [await a.wait_for(rf"#{topup.id}", after=0) for a in (a0, a1)]
    result = await env.shop.topups.reject(topup.id, ADMIN_IDS[1], "입금 확인 안 됨 <b>")
    assert result.decision.value == "done"
    await sender.drain()
    for admin, alert in zip((a0, a1), alerts, strict=True):
        edited = await admin.wait_for(r"거절.*처리: ", after=0)
        assert edited.message_id == alert.message_id and edited.button_labels() == []
        assert "입금 확인 안 됨 <b>" in edited.text  # the reason shown as typed: escaped
    assert len(a0.bot_messages()) == 1 and len(a1.bot_messages()) == 1  # edited, not resent


async def test_global_markup_changes_prices_and_is_audited(env):
    a0 = env.admin(0)
    svc = next(s for s in await env.shop.catalog.all() if s.panel_id == "101")
    assert env.shop.catalog.price_per_1000(svc) == 20580  # 9.80 × 1400 × 1.50
    await a0.send_command("/admin")
    menu = await a0.wait_for(r"관리자 메뉴")
    await a0.press(r"서비스", menu)
    page = await a0.wait_for(r"전체 마진: 50%")
    await a0.press("📈 전체 마진 변경", page)
    await a0.wait_for(r"새 전체 마진")
    await a0.send_text("abc")
    await a0.wait_for(r"0에서 1000 사이")
    await a0.send_text("100%")
    await a0.wait_for(r"전체 마진을 100%로")
    assert env.shop.catalog.price_per_1000(svc) == 27440  # 9.80 × 1400 × 2.00
    [row] = await _rows(env, "SELECT * FROM audit WHERE action = 'shop.markup'")
    assert json.loads(row["before"]) == {"markup_percent": "50"}
    assert json.loads(row["after"]) == {"markup_percent": "100"}
    # A restart keeps it (stored in the database, not in memory only).
    await env.shop.catalog.load_overrides()
    assert env.shop.catalog.markup_percent == 100


async def test_broadcast_goes_out_through_the_paced_notifier(env):
    import time

    from bot.notifier import OutboxSender
    from shop.jobs import ShopJobs

    customers = [env.user(200_000 + i) for i in range(30)]
    for c in customers:
        await env.shop.users.ensure(c.id, None, c.info.first_name, "ko")
    env.app.bot_data["broadcast_progress_interval"] = 0.05
    a0 = env.admin(0)
    await a0.send_command("/admin")
    await a0.wait_for(r"관리자 메뉴")
    await a0.press("📣 전체 공지")
    await a0.wait_for(r"공지 내용을 입력")
    await a0.send_text("<i>점검</i> 안내 & 감사")
    preview = await a0.wait_for(r"미리보기")
    await a0.press("📣 보내기", preview)
    await a0.wait_for(r"발송 중: 0 / 30")
    sender = OutboxSender(ShopJobs(env.shop.ctx), env.app.bot, global_rate=10, chat_interval=0)
    started = time.monotonic()
    await sender.drain()
    elapsed = time.monotonic() - started
    assert elapsed >= 2.5  # 30 messages at ≤ 10/s: paced, not a burst
    done = await a0.wait_for(r"발송 완료: 30 / 30", timeout=10)
    assert done is not None
    for c in customers:
        msg = c.last_bot_message()
        assert msg is not None and msg.text.endswith("<i>점검</i> 안내 & 감사")  # literal
