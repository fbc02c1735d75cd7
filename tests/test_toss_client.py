"""payments/toss.py against the Toss stand-in (sandbox/toss.py) over real HTTP, and the
stand-in's strictness: what Toss refuses, it refuses with Toss's code."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest

from payments.gateway import (
    Declined,
    Misconfigured,
    NotFound,
    OutcomeUnknown,
    PaymentStatus,
)
from payments.toss import TossClient, basic_auth, classify, confirm_idempotency_key
from sandbox.toss import TEST_SECRET_KEY, TossServer, TossStandIn, serve_toss
from shop.clock import ManualClock
from tests.tossenv import open_window, pay


@pytest.fixture
async def toss() -> AsyncIterator[tuple[TossServer, TossClient, ManualClock]]:
    clock = ManualClock()
    server = await serve_toss(TossStandIn(clock=clock.now))
    client = TossClient(TEST_SECRET_KEY, api_url=server.url, timeout=2.0)
    try:
        yield server, client, clock
    finally:
        await client.aclose()
        await server.stop()


def test_basic_auth_has_the_trailing_colon_and_no_bom():
    header = basic_auth("test_sk_EXAMPLE0000000000000000")
    assert header == "Basic dGVzdF9za19FWEFNUExFMDAwMDAwMDAwMDAwMDAwMDo="
    assert base64.b64decode(header[6:]).decode() == "test_sk_EXAMPLE0000000000000000:"


def test_codes_are_classified_by_what_they_tell():
    assert isinstance(classify("REJECT_CARD_COMPANY"), Declined)
    assert isinstance(classify("EXCEED_MAX_DAILY_PAYMENT_COUNT"), Declined)
    assert isinstance(classify("NOT_FOUND_PAYMENT_SESSION"), Declined)
    assert isinstance(classify("NOT_FOUND_PAYMENT"), NotFound)
    assert isinstance(classify("UNAUTHORIZED_KEY"), Misconfigured)
    for unknown in ("ALREADY_PROCESSED_PAYMENT", "PROVIDER_ERROR", "IDEMPOTENT_REQUEST_PROCESSING",
                    "SOMETHING_NEW", "INVALID_REQUEST"):  # fmt: skip
        err = classify(unknown)
        assert type(err) is OutcomeUnknown, unknown


async def test_window_then_confirm_then_lookups(toss):
    server, client, _ = toss
    back = await pay(server.url, "order_abc123", 10_000)
    assert back.path == "/pay/toss/success"
    q = back.query
    assert (q["paymentType"], q["orderId"], q["amount"]) == ("NORMAL", "order_abc123", "10000")
    payment = await client.confirm(payment_key=q["paymentKey"], order_id="order_abc123",
                                   amount=10_000)  # fmt: skip
    assert payment.status is PaymentStatus.DONE and payment.settles("order_abc123", 10_000)
    assert payment.method == "카드" and payment.receipt_url and payment.approved_at
    assert server.sim.confirms[-1].idempotency_key == confirm_idempotency_key(
        "order_abc123", q["paymentKey"])  # fmt: skip
    assert (await client.payment(q["paymentKey"])).status is PaymentStatus.DONE
    assert (await client.payment_by_order("order_abc123")).payment_key == q["paymentKey"]
    with pytest.raises(NotFound):
        await client.payment_by_order("order_nobody")
    # The same confirm again (same key) replays the first answer; the order cannot be
    # opened in a window again after DONE.
    again = await client.confirm(payment_key=q["paymentKey"], order_id="order_abc123",
                                 amount=10_000)  # fmt: skip
    assert again == payment
    status, text = await open_window(server.url, order_id="order_abc123", amount=10_000)
    assert status == 400 and "ALREADY_PROCESSED_PAYMENT" in text


async def test_wrong_key_and_missing_colon_are_401(toss):
    server, _, _ = toss
    back = await pay(server.url, "order_auth01", 5000)
    wrong = TossClient("test_sk_wrong", api_url=server.url)
    try:
        with pytest.raises(Misconfigured) as err:
            await wrong.payment(back.query["paymentKey"])
        assert err.value.code == "UNAUTHORIZED_KEY"
    finally:
        await wrong.aclose()
    no_colon = "Basic " + base64.b64encode(TEST_SECRET_KEY.encode()).decode()
    async with httpx.AsyncClient() as http:
        resp = await http.get(f"{server.url}/v1/payments/orders/order_auth01",
                              headers={"Authorization": no_colon})  # fmt: skip
    assert resp.status_code == 401 and resp.json()["code"] == "UNAUTHORIZED_KEY"


async def test_amount_and_order_are_bound_to_the_payment_key(toss):
    server, client, _ = toss
    q = (await pay(server.url, "order_bind01", 1000)).query
    with pytest.raises(OutcomeUnknown) as err:  # the real code is unverified: never a credit
        await client.confirm(payment_key=q["paymentKey"], order_id="order_bind01", amount=10_000)
    assert err.value.code == "INVALID_REQUEST"
    other = TossClient(TEST_SECRET_KEY, api_url=server.url)  # fresh Idempotency-Key scope
    try:
        with pytest.raises(Declined) as err2:
            await other.confirm(payment_key=q["paymentKey"], order_id="order_other1", amount=1000)
        assert err2.value.code == "NOT_FOUND_PAYMENT_SESSION"
    finally:
        await other.aclose()
    assert server.sim.payments[q["paymentKey"]].status == "IN_PROGRESS"


async def test_session_expires_ten_minutes_after_authentication(toss):
    server, client, clock = toss
    q = (await pay(server.url, "order_late01", 5000)).query
    clock.advance(minutes=10, seconds=1)
    with pytest.raises(Declined) as err:
        await client.confirm(payment_key=q["paymentKey"], order_id="order_late01", amount=5000)
    assert err.value.code == "NOT_FOUND_PAYMENT_SESSION"
    looked = await client.payment_by_order("order_late01")
    assert looked.status is PaymentStatus.EXPIRED and looked.status.final_unpaid


async def test_faults_after_commit_are_unknown_and_the_lookup_tells_the_truth(toss):
    server, _, _ = toss
    quick = TossClient(TEST_SECRET_KEY, api_url=server.url, timeout=0.3)
    try:
        for n, fault in enumerate(("timeout_after_commit", "500_after_commit",
                                   "provider_error_after_commit")):  # fmt: skip
            order = f"order_fault{n}"
            q = (await pay(server.url, order, 7000)).query
            server.sim.fail_next_confirm(fault)
            with pytest.raises(OutcomeUnknown):
                await quick.confirm(payment_key=q["paymentKey"], order_id=order, amount=7000)
            assert (await quick.payment_by_order(order)).settles(order, 7000), fault
        # A 5xx before anything happened: still unknown to the client; nothing approved.
        q = (await pay(server.url, "order_fault9", 7000)).query
        server.sim.fail_next_confirm("500")
        with pytest.raises(OutcomeUnknown):
            await quick.confirm(payment_key=q["paymentKey"], order_id="order_fault9", amount=7000)
        assert (await quick.payment_by_order("order_fault9")).status is PaymentStatus.IN_PROGRESS
    finally:
        await quick.aclose()


async def test_decline_test_code_and_idempotency_key_rules(toss):
    server, client, _ = toss
    q = (await pay(server.url, "order_decl01", 5000)).query
    server.sim.fail_next_confirm("decline")
    with pytest.raises(Declined) as err:
        await client.confirm(payment_key=q["paymentKey"], order_id="order_decl01", amount=5000)
    assert err.value.code == "REJECT_CARD_PAYMENT"
    auth = {"Authorization": basic_auth(TEST_SECRET_KEY)}
    body = {"paymentKey": "x", "orderId": "order_x00001", "amount": 100}
    async with httpx.AsyncClient(base_url=server.url, headers=auth) as http:
        resp = await http.post("/v1/payments/confirm", json=body,
                               headers={"Idempotency-Key": "k" * 301})  # fmt: skip
        assert resp.json()["code"] == "INVALID_IDEMPOTENCY_KEY"
        test_code = {"TossPayments-Test-Code": "REJECT_CARD_COMPANY"}
        resp = await http.post("/v1/payments/confirm", json=body, headers=test_code)
        assert resp.status_code == 403 and resp.json()["code"] == "REJECT_CARD_COMPANY"
        # confirmed without a key, then again: ALREADY_PROCESSED_PAYMENT
        q = (await pay(server.url, "order_twice1", 5000)).query
        body = {"paymentKey": q["paymentKey"], "orderId": "order_twice1", "amount": 5000}
        assert (await http.post("/v1/payments/confirm", json=body)).status_code == 200
        again = await http.post("/v1/payments/confirm", json=body)
        assert again.json()["code"] == "ALREADY_PROCESSED_PAYMENT"


async def test_window_refuses_what_toss_refuses(toss):
    server, _, _ = toss
    for kw, code in (
        ({"order_id": "short", "amount": 5000}, "INVALID_REQUEST"),
        ({"order_id": "bad order id!", "amount": 5000}, "INVALID_REQUEST"),
        ({"order_id": "order_min001", "amount": 99}, "BELOW_MINIMUM_AMOUNT"),
        ({"order_id": "order_ck0001", "amount": 5000, "client_key": "test_ck_other"},
         "INVALID_API_KEY"),
        ({"order_id": "order_name01", "amount": 5000, "order_name": "x" * 101}, "INVALID_REQUEST"),
    ):  # fmt: skip
        status, text = await open_window(server.url, **kw)
        assert status == 400 and code in text, (kw, text)
    closed = await pay(server.url, "order_close1", 5000, action="close")
    assert closed.path == "/pay/toss/fail" and closed.query["code"] == "PAY_PROCESS_CANCELED"
    assert "orderId" not in closed.query
    declined = await pay(server.url, "order_decl02", 5000, action="decline")
    assert declined.query["code"] == "REJECT_CARD_COMPANY"
    assert declined.query["orderId"] == "order_decl02"


async def test_webhook_hint_parsing_takes_only_the_keys(toss):
    _, client, _ = toss
    body = b'{"eventType":"PAYMENT_STATUS_CHANGED","createdAt":"2026-01-12T15:30:41.815093",' \
           b'"data":{"paymentKey":"pk1","orderId":"order_1","status":"DONE"}}'  # fmt: skip
    hint = client.parse_webhook(body)
    assert hint is not None and (hint.payment_key, hint.order_id) == ("pk1", "order_1")
    assert client.parse_webhook(b"not json") is None
    assert client.parse_webhook(b'{"eventType":"DEPOSIT_CALLBACK","data":{}}') is None
    assert client.parse_webhook(b'{"eventType":"PAYMENT_STATUS_CHANGED","data":{}}') is None


async def test_webhooks_are_retried_on_the_toss_schedule_until_a_200():
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from sandbox.server import start_uvicorn, stop_uvicorn

    seen: list[tuple[str, str, dict]] = []
    answers = [500, 503, 200]

    async def hook(request: Request) -> Response:
        seen.append((request.headers["tosspayments-webhook-transmission-id"],
                     request.headers["tosspayments-webhook-transmission-retried-count"],
                     await request.json()))  # fmt: skip
        return Response(status_code=answers[len(seen) - 1])

    server, port, task = await start_uvicorn(
        Starlette(routes=[Route("/h", hook, methods=["POST"])])
    )
    clock = ManualClock()
    sim = TossStandIn(clock=clock.now, webhook_url=f"http://127.0.0.1:{port}/h", auto_deliver=False)
    toss = await serve_toss(sim)
    client = TossClient(TEST_SECRET_KEY, api_url=toss.url)
    try:
        q = (await pay(toss.url, "order_hook01", 5000)).query
        assert sim.deliveries == []  # IN_PROGRESS sends nothing
        await client.confirm(payment_key=q["paymentKey"], order_id="order_hook01", amount=5000)
        assert await sim.deliver_due() == 0  # 500
        assert await sim.deliver_due() == 0  # not due again before 1 minute
        clock.advance(minutes=1)
        assert await sim.deliver_due() == 0  # 503
        clock.advance(minutes=3)
        assert await sim.deliver_due() == 0  # 4 minutes not over yet
        clock.advance(minutes=1)
        assert await sim.deliver_due() == 1
        [d] = sim.deliveries
        assert d.statuses == [500, 503, 200] and d.delivered
        assert [s[1] for s in seen] == ["0", "1", "2"] and len({s[0] for s in seen}) == 1
        body = seen[0][2]
        assert body["eventType"] == "PAYMENT_STATUS_CHANGED" and body["data"]["status"] == "DONE"
        assert "+" not in body["createdAt"]  # KST without an offset, like Toss
    finally:
        await client.aclose()
        await toss.stop()
        await stop_uvicorn(server, task)
