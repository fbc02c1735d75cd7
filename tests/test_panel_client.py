"""PanelClient against the simulator over real loopback HTTP (plus a few odd panel
shapes the simulator does not produce, through httpx.MockTransport)."""

from __future__ import annotations

import json
import logging
import socket
from decimal import Decimal

import httpx
import pytest

from fulfillment import parse
from fulfillment.client import PanelClient, add_fields
from fulfillment.models import (
    AddRequest,
    ItemError,
    OrderStatus,
    PanelRejected,
    PanelStatus,
    PanelUnavailable,
    RefillStatus,
    ServiceType,
)
from sandbox.panel import PanelSimulator, RunningServer, SimService

Panel = tuple[PanelSimulator, PanelClient]
PANEL_KEY = "tEsT-pAnEl-SeCrEt-9f8e7d6c5b4a"  # the same key as conftest's panel fixtures
LINK = "https://www.instagram.com/some.account/"


def default(service: str = "102", quantity: int = 1000, link: str = LINK, **kw: int) -> AddRequest:
    return AddRequest(service, ServiceType.DEFAULT, link=link, quantity=quantity, **kw)


# --- services -------------------------------------------------------------------------


async def test_services_are_typed_and_exact(panel: Panel) -> None:
    _, client = panel
    services = {s.service_id: s for s in await client.services()}
    assert len(services) >= 8
    assert services["101"].category == "인스타그램 한국인 팔로워"
    assert services["101"].rate == Decimal("9.80") and services["101"].refill
    assert services["102"].dripfeed and services["102"].cancel
    assert services["202"].rate == Decimal("0.0002")
    assert (services["401"].type, services["501"].type, services["601"].type) == (
        ServiceType.PACKAGE,
        ServiceType.CUSTOM_COMMENTS,
        ServiceType.SUBSCRIPTIONS,
    )
    assert services["701"].type is ServiceType.OTHER and services["701"].raw_type == "Poll"
    assert (services["101"].min, services["101"].max) == (10, 5000)
    assert services["601"].dripfeed is False  # missing flag → False


async def test_services_numbers_as_json_numbers(panel: Panel) -> None:
    sim, client = panel
    sim.set_quirk("numbers_as_json_numbers", times=1)
    services = {s.service_id: s for s in await client.services()}
    assert services["202"].rate == Decimal("0.0002")
    assert isinstance(services["202"].rate, Decimal)
    assert services["301"].max == 1000000


# --- add --------------------------------------------------------------------------------


async def test_add_default_sends_only_its_fields(panel: Panel) -> None:
    sim, client = panel
    order_id = await client.add(default(quantity=1000))
    assert order_id == "23501"
    assert sim.add_records[0].fields == {
        "action": "add",
        "service": "102",
        "link": LINK,
        "quantity": "1000",
    }
    assert sim.balance == Decimal("100") - Decimal("1.25")


async def test_add_dripfeed_and_its_status_shape(panel: Panel) -> None:
    sim, client = panel
    order_id = await client.add(default(quantity=200, runs=3, interval=15))
    assert sim.add_records[0].fields["runs"] == "3"
    assert sim.add_records[0].fields["interval"] == "15"
    assert sim.balance == Decimal("100") - Decimal("1.25") * 600 / 1000
    sim.advance(2)
    status = await client.status(order_id)
    assert status.status is PanelStatus.IN_PROGRESS
    assert status.runs == 3 and len(status.child_orders) == 2
    assert status.charge is None and status.remains is None
    child = await client.status(status.child_orders[0])
    assert child.charge == Decimal("0.25")


async def test_add_package_sends_link_only(panel: Panel) -> None:
    sim, client = panel
    await client.add(AddRequest("401", ServiceType.PACKAGE, link=LINK, quantity=5))
    assert sim.add_records[0].fields == {"action": "add", "service": "401", "link": LINK}
    assert sim.balance == Decimal("88.00")  # flat package price


async def test_add_custom_comments_counts_lines(panel: Panel) -> None:
    sim, client = panel
    comments = ("최고예요!", "좋아요 👍", "", "멋져요", "대박", "감사합니다")
    req = AddRequest("501", ServiceType.CUSTOM_COMMENTS, link=LINK, comments=comments)
    order_id = await client.add(req)
    fields = sim.add_records[0].fields
    assert "quantity" not in fields
    assert fields["comments"] == "최고예요!\n좋아요 👍\n멋져요\n대박\n감사합니다"
    assert sim.order(order_id).quantity == 5
    assert (await client.status(order_id)).charge == Decimal("0.225")


async def test_subscription_lifecycle(panel: Panel) -> None:
    sim, client = panel
    req = AddRequest(
        "601",
        ServiceType.SUBSCRIPTIONS,
        username="some.account",
        min=100,
        max=200,
        posts=3,
        delay=30,
        expiry="31/12/2099",
    )
    sub_id = await client.add(req)
    fields = sim.add_records[0].fields
    assert set(fields) == {
        "action",
        "service",
        "username",
        "min",
        "max",
        "posts",
        "delay",
        "expiry",
    }
    status = await client.status(sub_id)
    assert status.status is PanelStatus.IN_PROGRESS and status.raw_status == "Active"
    assert status.posts == 3 and status.child_orders == ()
    child = sim.new_post(sub_id)
    assert child is not None and 100 <= child.quantity <= 200
    status = await client.status(sub_id)
    assert status.child_orders == (child.ext_id,)
    child_status = await client.status(child.ext_id)
    assert child_status.charge == Decimal("2.80") * child.quantity / 1000
    sim.end_subscription(sub_id, "Expired")
    assert (await client.status(sub_id)).status is PanelStatus.EXPIRED


@pytest.mark.parametrize(
    ("req", "text"),
    [
        (default(service="999"), "Incorrect service ID"),
        (default(quantity=10), "Quantity less than minimal 100"),
        (default(quantity=50001), "Quantity more than maximum 50000"),
        (default(service="101", runs=2, interval=5), "does not support Dripfeed"),
        (default(service="301", quantity=1000000), "Not enough funds on balance"),
    ],
)
async def test_add_rejections(panel: Panel, req: AddRequest, text: str) -> None:
    sim, client = panel
    with pytest.raises(PanelRejected) as info:
        await client.add(req)
    assert text in info.value.message
    assert sim.orders == {} and sim.balance == Decimal("100")


async def test_add_duplicate_link_and_funds_flags(panel: Panel) -> None:
    sim, client = panel
    await client.add(default())
    with pytest.raises(PanelRejected) as dup:
        await client.add(default())
    assert dup.value.is_duplicate_link and not dup.value.is_funds
    sim.set_balance("0.001")
    with pytest.raises(PanelRejected) as funds:
        await client.add(default(link=LINK + "p/2"))
    assert funds.value.is_funds


async def test_raw_i18n_errors(panel: Panel) -> None:
    sim, client = panel
    await client.add(default())
    sim.set_quirk("raw_i18n_errors")
    with pytest.raises(PanelRejected) as dup:
        await client.add(default())
    assert dup.value.message == "neworder.error.link_duplicate" and dup.value.is_duplicate_link
    sim.set_balance("0")
    with pytest.raises(PanelRejected) as funds:
        await client.add(default(link=LINK + "x"))
    assert funds.value.message == "neworder.error.not_enough_funds" and funds.value.is_funds


async def test_errors_with_4xx_status_are_rejections(panel: Panel) -> None:
    sim, client = panel
    sim.set_quirk("errors_4xx")
    with pytest.raises(PanelRejected, match="Quantity less than minimal"):
        await client.add(default(quantity=1))
    with pytest.raises(PanelRejected, match="Incorrect order ID"):
        await client.status("1")
    assert sim.calls["status"] == 1  # a rejection is never retried


async def test_wrong_key_is_rejected_without_leaking(panel_server: RunningServer) -> None:
    wrong = "WrOnG-kEy-0123456789abcdef"
    async with PanelClient(panel_server.url, wrong) as client:
        with pytest.raises(PanelRejected) as info:
            await client.balance()
    assert info.value.message == "Invalid API key"
    assert wrong not in str(info.value) and wrong not in repr(client)


async def test_unknown_type_is_not_sent(panel: Panel) -> None:
    sim, client = panel
    with pytest.raises(ValueError, match="cannot be ordered"):
        await client.add(AddRequest("701", ServiceType.OTHER, link=LINK, quantity=100))
    with pytest.raises(ValueError, match="quantity"):
        await client.add(AddRequest("102", ServiceType.DEFAULT, link=LINK))
    assert sim.calls["add"] == 0


# --- status -----------------------------------------------------------------------------


async def test_status_follows_the_order_lifecycle(panel: Panel) -> None:
    sim, client = panel
    order_id = await client.add(default(quantity=900))
    seen = []
    for _ in range(5):
        status = await client.status(order_id)
        seen.append((status.status, status.remains))
        sim.advance()
    assert seen == [
        (PanelStatus.PENDING, 900),
        (PanelStatus.PROCESSING, 900),
        (PanelStatus.IN_PROGRESS, 600),
        (PanelStatus.IN_PROGRESS, 300),
        (PanelStatus.COMPLETED, 0),
    ]
    final = await client.status(order_id)
    assert final.start_count and final.start_count > 0 and final.currency == "USD"


@pytest.mark.parametrize(
    ("quirk", "state", "expected", "raw"),
    [
        ("cancelled_spelling", "Canceled", PanelStatus.CANCELED, "Cancelled"),
        ("lowercase_statuses", "In progress", PanelStatus.IN_PROGRESS, "in progress"),
        ("lowercase_statuses", "Partial", PanelStatus.PARTIAL, "partial"),
        ("unknown_status_word", "Processing", PanelStatus.UNKNOWN, "Stuck"),
    ],
)
async def test_status_word_quirks(
    panel: Panel, quirk: str, state: str, expected: PanelStatus, raw: str
) -> None:
    sim, client = panel
    order_id = await client.add(default())
    sim.set_order(order_id, status=state, remains=400)
    sim.set_quirk(quirk)
    status = await client.status(order_id)
    assert (status.status, status.raw_status) == (expected, raw)
    batch = await client.statuses([order_id])
    assert batch.results[order_id] == status


async def test_negative_remains_and_numbers(panel: Panel) -> None:
    sim, client = panel
    order_id = await client.add(default())
    sim.set_order(order_id, status="Completed")
    sim.set_quirk("negative_remains", value=3)
    sim.set_quirk("numbers_as_json_numbers")
    status = await client.status(order_id)
    assert status.remains == -3 and status.charge == Decimal("1.25")


async def test_string_order_ids(panel: Panel) -> None:
    sim, client = panel
    sim.set_quirk("string_order_ids", times=1)
    first = await client.add(default())
    second = await client.add(default(link=LINK + "2"))
    assert (first, second) == ("A23501", "23502")
    assert (await client.status(first)).status is PanelStatus.PENDING
    batch = await client.statuses([first, second])
    assert all(isinstance(r, OrderStatus) for r in batch.results.values())
    assert await client.cancel([first]) == {first: True}


async def test_statuses_chunks_250_ids_into_3_calls(panel: Panel) -> None:
    sim, client = panel
    real = [await client.add(default(link=f"{LINK}p/{i}")) for i in range(3)]
    ids = [*real, *(str(i) for i in range(1, 248))]
    batch = await client.statuses(ids)
    assert batch.calls == 3 and sim.calls["status"] == 3
    assert len(batch.results) == 250
    assert all(isinstance(batch.results[i], OrderStatus) for i in real)
    assert batch.results["1"] == ItemError("Incorrect order ID")


@pytest.mark.parametrize(
    "quirks",
    [["multistatus_array"], ["bare_string_errors"], ["multistatus_array", "bare_string_errors"]],
)
async def test_statuses_shapes(panel: Panel, quirks: list[str]) -> None:
    sim, client = panel
    a = await client.add(default())
    b = await client.add(default(link=LINK + "b"))
    sim.set_order(b, status="Partial", remains=250)
    for quirk in quirks:
        sim.set_quirk(quirk)
    batch = await client.statuses([a, "77", b])
    assert batch.results[a].status is PanelStatus.PENDING  # type: ignore[union-attr]
    assert batch.results["77"] == ItemError("Incorrect order ID")
    assert batch.results[b].remains == 250  # type: ignore[union-attr]


async def test_statuses_with_no_ids_makes_no_call(panel: Panel) -> None:
    sim, client = panel
    batch = await client.statuses([])
    assert batch.results == {} and batch.calls == 0 and sim.calls["status"] == 0


# --- refill and cancel ----------------------------------------------------------------------


async def test_refill_single_and_status(panel: Panel) -> None:
    sim, client = panel
    order_id = await client.add(default())
    with pytest.raises(PanelRejected, match="not completed"):
        await client.refill(order_id)
    sim.set_order(order_id, status="Completed")
    refill_id = await client.refill(order_id)
    assert refill_id == "7781"
    assert await client.refill_status(refill_id) == RefillStatus("pending", "Pending")
    sim.advance()
    sim.set_quirk("lowercase_statuses", times=1)
    assert await client.refill_status(refill_id) == RefillStatus("in_progress", "in progress")
    sim.advance()
    assert (await client.refill_status(refill_id)).status == "completed"
    with pytest.raises(PanelRejected, match="Refill not found"):
        await client.refill_status("1")


async def test_refills_and_refill_statuses_batch(panel: Panel) -> None:
    sim, client = panel
    a = await client.add(default(service="101", quantity=100))
    b = await client.add(default(service="103", quantity=100))  # no refill on 103
    sim.set_order(a, status="Completed")
    sim.set_order(b, status="Completed")
    result = await client.refills([a, b, "5"])
    assert result[a] == "7781"
    assert result[b] == ItemError("Refill is disabled for this service")
    assert result["5"] == ItemError("Incorrect order ID")
    sim.set_refill("7781", "Rejected")
    statuses = await client.refill_statuses(["7781", "9"])
    assert statuses["7781"] == RefillStatus("rejected", "Rejected")
    assert statuses["9"] == ItemError("Refill not found")


async def test_cancel_is_a_request_not_a_cancellation(panel: Panel) -> None:
    sim, client = panel
    order_id = await client.add(default())  # 102 allows cancel
    no_cancel = await client.add(default(service="101", quantity=100))
    result = await client.cancel([order_id, no_cancel, "42"])
    assert result[order_id] is True
    assert result[no_cancel] == ItemError("Cancel is disabled for this service")
    assert result["42"] == ItemError("Incorrect order ID")
    assert (await client.status(order_id)).status is PanelStatus.PENDING
    balance_before = sim.balance
    sim.advance()
    assert (await client.status(order_id)).status is PanelStatus.CANCELED
    assert sim.balance == balance_before + Decimal("1.25")


async def test_balance(panel: Panel) -> None:
    sim, client = panel
    sim.set_balance("1234.56789123")
    balance = await client.balance()
    assert balance.amount == Decimal("1234.56789123") and balance.currency == "USD"
    sim.set_quirk("numbers_as_json_numbers", times=1)
    assert (await client.balance()).amount == Decimal("1234.56789123")


async def test_decimal_exactness(panel: Panel) -> None:
    sim, client = panel
    sim.add_service(SimService(900, "tiny", "Default", "test", Decimal("0.12345678"), 1, 100))
    order_id = await client.add(default(service="900", quantity=7))
    expected = Decimal("0.00086419746")  # 11 decimals
    assert (await client.status(order_id)).charge == expected
    sim.set_quirk("numbers_as_json_numbers", times=1)
    assert (await client.status(order_id)).charge == expected
    tiny = await client.add(default(service="202", quantity=123))
    assert (await client.status(tiny)).charge == Decimal("0.0000246")
    assert (await client.balance()).amount == Decimal(100) - expected - Decimal("0.0000246")


# --- transport failures and retries --------------------------------------------------------


async def test_html_200_is_unavailable_and_read_calls_retry(
    panel: Panel, panel_sleeps: list[float]
) -> None:
    sim, client = panel
    sim.set_quirk("html_200", times=2)
    assert (await client.balance()).amount == Decimal(100)
    assert sim.calls["balance"] == 3 and panel_sleeps == [0.5, 1.0]


async def test_read_retries_give_up_after_max_retries(
    panel: Panel, panel_sleeps: list[float]
) -> None:
    sim, client = panel
    sim.set_quirk("html_503")
    with pytest.raises(PanelUnavailable, match="HTTP 503"):
        await client.services()
    assert sim.calls["services"] == 4 and panel_sleeps == [0.5, 1.0, 2.0]


@pytest.mark.parametrize("quirk", ["html_200", "html_503", "rate_limit_429"])
async def test_add_is_never_retried(panel: Panel, panel_sleeps: list[float], quirk: str) -> None:
    sim, client = panel
    sim.set_quirk(quirk)
    with pytest.raises(PanelUnavailable):
        await client.add(default())
    assert sim.calls["add"] == 1 and panel_sleeps == []


@pytest.mark.parametrize("quirk", ["html_200", "html_503"])
async def test_refill_and_cancel_are_never_retried(panel: Panel, quirk: str) -> None:
    sim, client = panel
    sim.set_quirk(quirk)
    with pytest.raises(PanelUnavailable):
        await client.refill("1")
    with pytest.raises(PanelUnavailable):
        await client.cancel(["1"])
    with pytest.raises(PanelUnavailable):
        await client.refills(["1"])
    assert sim.calls["refill"] == 2 and sim.calls["cancel"] == 1


async def test_rate_limit_honours_retry_after(panel: Panel, panel_sleeps: list[float]) -> None:
    sim, client = panel
    sim.set_quirk("rate_limit_429", times=1, value=7)
    batch = await client.statuses(["1"])
    assert batch.calls == 2 and panel_sleeps == [7.0]
    sim.set_quirk("rate_limit_429", times=1, value=3600)
    await client.balance()
    assert panel_sleeps[-1] == 30.0  # capped


async def test_rate_limited_add_carries_retry_after(panel: Panel) -> None:
    sim, client = panel
    sim.set_quirk("rate_limit_429", times=1, value=12)
    with pytest.raises(PanelUnavailable) as info:
        await client.add(default())
    assert info.value.retry_after == 12.0


async def test_php_warning_before_json(panel: Panel) -> None:
    sim, client = panel
    sim.set_quirk("php_warning_prefix")
    order_id = await client.add(default())
    assert (await client.status(order_id)).status is PanelStatus.PENDING
    assert (await client.statuses([order_id])).calls == 1
    assert len(await client.services()) >= 8


async def test_add_timeout_is_ambiguous_and_never_resent(panel_server: RunningServer) -> None:
    sim = panel_server.sim
    sim.set_quirk("slow_add", times=1)
    async with PanelClient(panel_server.url, PANEL_KEY, timeout=0.3) as client:
        with pytest.raises(PanelUnavailable) as info:
            await client.add(default())
        assert info.value.request_sent is True
        sim.release_slow()
        # the order exists although the client never learnt its id
        assert sim.calls["add"] == 1 and sim.orders_created(link=LINK) == 1
        assert len(sim.adds(link=LINK)) == 1


async def test_connect_error_means_not_sent(panel_sleeps: list[float]) -> None:
    with socket.socket() as sock:  # a port that surely has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def no_sleep(seconds: float) -> None:
        panel_sleeps.append(seconds)

    url = f"http://127.0.0.1:{port}/api/v2"
    async with PanelClient(url, PANEL_KEY, max_retries=1, sleep=no_sleep) as client:
        with pytest.raises(PanelUnavailable) as info:
            await client.add(default())
        assert info.value.request_sent is False and panel_sleeps == []
        with pytest.raises(PanelUnavailable):
            await client.balance()
        assert panel_sleeps == [0.5]


async def test_key_never_in_logs_or_errors(
    panel: Panel, panel_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    sim, client = panel
    caplog.set_level(logging.DEBUG)
    errors: list[Exception] = []
    order_id = await client.add(default())
    await client.statuses([order_id, "1"])
    for quirk in ("html_200", "html_503", "rate_limit_429", "errors_4xx", "php_warning_prefix"):
        sim.set_quirk(quirk, times=1)
        try:
            await client.add(default(quantity=1, link=LINK + quirk))
        except (PanelRejected, PanelUnavailable) as exc:
            errors.append(exc)
    sim.set_quirk("slow_add", times=1)
    async with PanelClient(panel_server.url, PANEL_KEY, timeout=0.2) as slow:
        try:
            await slow.add(default(link=LINK + "slow"))
        except PanelUnavailable as exc:
            errors.append(exc)
    sim.release_slow()
    echoing = httpx.MockTransport(
        lambda r: httpx.Response(200, json={"error": f"Invalid API key {PANEL_KEY}"})
    )
    async with PanelClient("http://panel.test/api/v2", PANEL_KEY, transport=echoing) as echo:
        try:
            await echo.balance()
        except PanelRejected as exc:
            errors.append(exc)
    assert len(errors) == 7
    for exc in errors:
        assert PANEL_KEY not in str(exc) and PANEL_KEY not in repr(exc)
    assert PANEL_KEY not in caplog.text
    for record in caplog.records:
        assert PANEL_KEY not in record.getMessage()
    assert PANEL_KEY not in repr(client)


# --- panel shapes the simulator does not produce (MockTransport) -----------------------


def mock_client(*responses: httpx.Response, **kw: float) -> tuple[PanelClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    async def no_sleep(seconds: float) -> None:
        return None

    client = PanelClient(
        "https://panel.test/api/v1",
        PANEL_KEY,
        transport=httpx.MockTransport(handler),
        sleep=no_sleep,
        **kw,  # type: ignore[arg-type]
    )
    return client, seen


def raw(body: str | bytes, status: int = 200, **headers: str) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return httpx.Response(status, content=content, headers=headers)


async def test_request_is_a_browser_like_form_post() -> None:
    client, seen = mock_client(raw('{"balance": "1.5", "currency": "KRW"}'))
    async with client:
        assert (await client.balance()).currency == "KRW"
    request = seen[0]
    assert request.method == "POST" and str(request.url) == "https://panel.test/api/v1"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "Mozilla/5.0" in request.headers["user-agent"]
    assert dict(httpx.QueryParams(request.content.decode())) == {
        "key": PANEL_KEY,
        "action": "balance",
    }


async def test_odd_service_lists() -> None:
    services = [
        {"service": "5", "name": "a", "type": "custom_comments", "category": "c", "rate": 12,
         "min": 5, "max": "1000", "refill": "1", "cancel": 0, "dripfeed": "0", "desc": "d"},
        {"service": 6, "name": "b", "type": "SUBSCRIPTIONS", "category": "c", "rate": "95200",
         "min": "1", "max": "2", "description": "long"},
        {"service": 7, "name": "broken", "rate": "", "min": "1", "max": "2"},
        {"service": 8, "name": "c", "type": "Mentions Users Followers", "category": "c",
         "rate": 0.5, "min": 1, "max": 2, "refill": True, "extra": {"x": 1}},
    ]  # fmt: skip
    client, _ = mock_client(raw(json.dumps(services)))
    async with client:
        parsed = await client.services()
    assert [s.service_id for s in parsed] == ["5", "6", "8"]
    a, b, c = parsed
    assert (a.type, a.refill, a.cancel, a.dripfeed, a.description) == (
        ServiceType.CUSTOM_COMMENTS, True, False, False, "d",
    )  # fmt: skip
    assert (b.type, b.rate, b.description) == (ServiceType.SUBSCRIPTIONS, Decimal(95200), "long")
    assert (c.type, c.rate, c.refill) == (ServiceType.OTHER, Decimal("0.5"), True)


@pytest.mark.parametrize("body", ['{"status":"success","data":"Empty Data"}', '"nothing"', "null"])
async def test_non_array_services_are_empty(body: str) -> None:
    client, _ = mock_client(raw(body))
    async with client:
        assert await client.services() == []


async def test_tolerant_status_values() -> None:
    body = (
        '{"order": 9, "charge": 0.27819, "start_count": "", "status": "inprogress",'
        ' "remains": "Unknown", "currency": null, "status_extra": "ok"}'
    )
    client, _ = mock_client(raw(body, 201))
    async with client:
        status = await client.status("9")
    assert status == OrderStatus(
        status=PanelStatus.IN_PROGRESS, raw_status="inprogress", charge=Decimal("0.27819")
    )


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Refunded", PanelStatus.CANCELED),
        ("CANCELLED", PanelStatus.CANCELED),
        ("In Progress", PanelStatus.IN_PROGRESS),
        ("in_progress", PanelStatus.IN_PROGRESS),
        ("Active", PanelStatus.IN_PROGRESS),
        ("Success", PanelStatus.COMPLETED),
        ("Fail", PanelStatus.FAILED),
        ("Error", PanelStatus.FAILED),
        ("Paused", PanelStatus.PAUSED),
        ("Expired", PanelStatus.EXPIRED),
        ("", PanelStatus.UNKNOWN),
    ],
)
async def test_status_words(word: str, expected: PanelStatus) -> None:
    client, _ = mock_client(raw(json.dumps({"status": word, "remains": "-2"})))
    async with client:
        status = await client.status("1")
    assert status.status is expected and status.remains == -2


async def test_status_error_with_echoed_order_is_a_rejection() -> None:
    client, _ = mock_client(raw('{"order": "5", "error": "Incorrect order ID"}'))
    async with client:
        with pytest.raises(PanelRejected, match="Incorrect order ID"):
            await client.status("5")


async def test_keyed_array_status_and_mixed_entries() -> None:
    body = json.dumps(
        [
            {"order": 2, "status": "Completed", "charge": "1", "remains": 0},
            {"order": "1", "status": "Pending"},
        ]
    )
    client, _ = mock_client(raw(body))
    async with client:
        batch = await client.statuses(["1", "2", "1"])
    assert batch.results["1"].status is PanelStatus.PENDING  # type: ignore[union-attr]
    assert batch.results["2"].status is PanelStatus.COMPLETED  # type: ignore[union-attr]
    assert batch.calls == 1


async def test_add_answer_variants() -> None:
    client, _ = mock_client(
        raw('{"order_id": "X-1", "status": "success", "charge": "1.0"}'),
        raw('{"status": "error", "error": "Bad link"}'),
        raw('{"status": "success"}'),
        raw("", 200),
        raw('{"error": "Internal"}', 500),
        raw("<html>Not found</html>", 404),
    )
    async with client:
        assert await client.add(default()) == "X-1"
        with pytest.raises(PanelRejected, match="Bad link"):
            await client.add(default())
        for message in ("no order id", "empty body", "HTTP 500: Internal", "HTTP 404"):
            with pytest.raises(PanelUnavailable, match=message):
                await client.add(default())


async def test_refill_and_cancel_variants() -> None:
    client, _ = mock_client(
        raw('{"refill": 77, "success": "Refill request accepted"}'),
        raw('{"refill": {"error": "Order not eligible for refill."}}'),
        raw('{"1": {"cancel": 1}, "2": "Incorrect order ID", "3": {"cancel": 0}}'),
        raw('[{"refill": 5, "status": "Cancelled"}, "Refill not found"]'),
        raw('[{"order": 1, "refill": "R-9"}, {"order": 2, "refill": "Order not eligible"}]'),
    )
    async with client:
        assert await client.refill("1") == "77"
        with pytest.raises(PanelRejected, match="not eligible"):
            await client.refill("1")
        assert await client.cancel(["1", "2", "3", "4"]) == {
            "1": True,
            "2": ItemError("Incorrect order ID"),
            "3": False,
            "4": ItemError("no answer for this id"),
        }
        assert await client.refill_statuses(["5", "6"]) == {
            "5": RefillStatus("canceled", "Cancelled"),
            "6": ItemError("Refill not found"),
        }
        assert await client.refills(["1", "2"]) == {
            "1": "R-9",
            "2": ItemError("Order not eligible"),
        }


async def test_retry_after_as_http_date_and_redirects() -> None:
    client, seen = mock_client(
        raw("", 307, location="https://panel.test/api/v2"),
        raw('{"error": "slow down"}', 429, **{"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        raw('{"balance": "0"}'),
    )
    async with client:
        assert (await client.balance()).amount == Decimal(0)
    assert [str(r.url) for r in seen][:2] == [
        "https://panel.test/api/v1",
        "https://panel.test/api/v2",
    ]
    assert seen[1].method == "POST" and b"action=balance" in seen[1].content


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.27819", Decimal("0.27819")),
        (" 8 ", Decimal(8)),
        (3, Decimal(3)),
        (Decimal("0.00000000123"), Decimal("0.00000000123")),
        ("1,234.50", Decimal("1234.50")),
        ("0,27", None),  # decimal comma: ambiguous, never 27
        ("", None),
        (None, None),
        ("Unknown", None),
        ("NaN", None),
        (True, None),
    ],
)
def test_to_decimal(value: object, expected: Decimal | None) -> None:
    assert parse.to_decimal(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("157", 157), (-2, -2), ("-2", -2), ("12.0", 12), ("", None), ("Unknown", None), (None, None)],
)
def test_to_int(value: object, expected: int | None) -> None:
    assert parse.to_int(value) == expected


def test_comment_with_inner_newline_stays_one_line() -> None:
    req = AddRequest("501", ServiceType.CUSTOM_COMMENTS, link=LINK, comments=("a\nb", " c "))
    assert add_fields(req)["comments"] == "a b\nc"
