"""The panel simulator's wire format, time model, refunds and /_sim controls (raw HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from sandbox.panel import PanelSimulator, RunningServer, serve_panel

LINK = "https://www.instagram.com/p/abc/"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http(panel_server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=panel_server.base_url) as client:
        yield client


async def api(http: httpx.AsyncClient, sim: PanelSimulator, **fields: Any) -> Any:
    response = await http.post(sim.path, data={"key": sim.api_key, **fields})
    return response.json()


async def test_get_query_and_post_form_both_work(
    panel_server: RunningServer, http: httpx.AsyncClient
) -> None:
    sim = panel_server.sim
    got = await http.get(sim.path, params={"key": sim.api_key, "action": "balance"})
    assert got.json() == {"balance": "100.00000", "currency": "USD"}
    assert await api(http, sim, action="nope") == {"error": "Incorrect request"}
    bad = await http.post(sim.path, data={"key": "x", "action": "balance"})
    assert (bad.status_code, bad.json()) == (200, {"error": "Invalid API key"})


async def test_services_wire_format(panel_server: RunningServer, http: httpx.AsyncClient) -> None:
    services = await api(http, panel_server.sim, action="services")
    first = services[0]
    assert isinstance(first["service"], int) and isinstance(first["rate"], str)
    assert isinstance(first["min"], str) and isinstance(first["refill"], bool)
    assert {s["type"] for s in services} >= {
        "Default",
        "Package",
        "Custom Comments",
        "Subscriptions",
        "Poll",
    }
    assert any(s.get("dripfeed") is True for s in services)
    assert any("dripfeed" not in s for s in services)


async def test_add_validation_and_charges(
    panel_server: RunningServer, http: httpx.AsyncClient
) -> None:
    sim = panel_server.sim
    assert await api(http, sim, action="add", service="701", link=LINK, quantity="100") == {
        "error": "Incorrect request"
    }  # Poll needs answer_number
    ok = await api(
        http, sim, action="add", service="701", link=LINK, quantity="100", answer_number="2"
    )
    assert ok == {"order": 23501}  # a rejected add uses no id
    comments = await api(
        http, sim, action="add", service="501", link=LINK, comments="a\r\nb\n\nc\r\nd\ne"
    )
    assert sim.order(comments["order"]).quantity == 5
    assert await api(http, sim, action="add", service="102", link="", quantity="100") == {
        "error": "Bad link"
    }
    drip = await api(
        http, sim, action="add", service="102", link=LINK, quantity="300", runs="200", interval="5"
    )
    assert drip == {"error": "Quantity more than maximum 50000"}
    assert sim.balance == Decimal(100) - Decimal("0.5") - Decimal("0.225")
    assert [r.error for r in sim.add_records] == [
        "Incorrect request",
        None,
        None,
        "Bad link",
        "Quantity more than maximum 50000",
    ]


async def test_orders_advance_with_the_clock_and_refund() -> None:
    clock = FakeClock()
    sim = PanelSimulator(clock=clock, speed=10, balance="10")
    params = {"key": sim.api_key, "action": "add", "service": "102", "quantity": "1000"}
    for i in range(7):  # ids 23501..23507: 23503 is Canceled, 23507 Partial
        status, _, _ = await sim.handle({**params, "link": f"{LINK}{i}"})
        assert status == 200
    assert sim.balance == Decimal("1.25")
    clock.now += 10
    sim.tick()
    assert sim.order(23501).status == "Processing"
    assert sim.order(23503).status == "Canceled"
    assert sim.balance == Decimal("2.50")  # full refund
    clock.now += 10
    sim.tick()
    assert (sim.order(23501).status, sim.order(23501).remains) == ("In progress", 667)
    assert sim.order(23501).start_count > 0
    clock.now += 100  # long pause: every order reaches its end
    sim.tick()
    assert sim.order(23501).status == "Completed" and sim.order(23501).remains == 0
    partial = sim.order(23507)
    assert (partial.status, partial.remains) == ("Partial", 200)
    assert sim.balance == Decimal("2.50") + Decimal("0.25")  # 1.25 × 200 / 1000


async def test_cancel_while_in_progress_ends_partial(
    panel_server: RunningServer, http: httpx.AsyncClient
) -> None:
    sim = panel_server.sim
    order = await api(http, sim, action="add", service="102", link=LINK, quantity="900")
    sim.advance(2)
    assert await api(http, sim, action="cancel", orders=str(order["order"])) == [
        {"order": order["order"], "cancel": 1}
    ]
    sim.advance()
    assert sim.order(order["order"]).status == "Partial"
    assert sim.balance == Decimal(100) - Decimal("1.125") + Decimal(
        "0.75"
    )  # 600 of 900 undelivered
    again = await api(http, sim, action="cancel", orders=str(order["order"]))
    assert again == [{"order": order["order"], "cancel": {"error": "Order can't be canceled"}}]


async def test_multi_status_limits_and_shapes(
    panel_server: RunningServer, http: httpx.AsyncClient
) -> None:
    sim = panel_server.sim
    order = (await api(http, sim, action="add", service="102", link=LINK, quantity="100"))["order"]
    too_many = ",".join(str(i) for i in range(101))
    assert "error" in await api(http, sim, action="status", orders=too_many)
    keyed = await api(http, sim, action="status", orders=f"{order},5")
    assert keyed["5"] == {"error": "Incorrect order ID"}
    assert keyed[str(order)]["charge"] == "0.12500"
    sim.set_quirk("multistatus_array", times=1)
    sim.set_quirk("bare_string_errors", times=1)
    shaped = await api(http, sim, action="status", orders=f"{order},5")
    assert isinstance(shaped, list) and shaped[1] == "Incorrect order ID"
    assert isinstance(await api(http, sim, action="status", orders=f"{order},5"), dict)


async def test_one_shot_quirks_count_only_requests_they_apply_to(
    panel_server: RunningServer, http: httpx.AsyncClient
) -> None:
    sim = panel_server.sim
    sim.set_quirk("cancelled_spelling", times=1)
    await api(http, sim, action="balance")  # not a status call: the quirk stays armed
    assert "cancelled_spelling" in sim.quirks
    await api(http, sim, action="status", order="1")
    assert sim.quirks == {}
    sim.set_quirk("html_503", times=2)
    codes = [(await http.post(sim.path, data={"action": "balance"})).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    with pytest.raises(ValueError, match="unknown quirk"):
        sim.set_quirk("nope")


async def test_quirk_wire_effects(panel_server: RunningServer, http: httpx.AsyncClient) -> None:
    sim = panel_server.sim
    sim.set_quirk("rate_limit_429", times=1, value=9)
    limited = await http.post(sim.path, data={"key": sim.api_key, "action": "balance"})
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "9")
    sim.set_quirk("php_warning_prefix", times=1)
    warned = await http.post(sim.path, data={"key": sim.api_key, "action": "balance"})
    assert warned.text.startswith("<br />") and warned.text.endswith('"currency":"USD"}')
    sim.set_quirk("errors_4xx", times=2)
    bad_key = await http.post(sim.path, data={"key": "x", "action": "balance"})
    unknown = await http.post(sim.path, data={"key": sim.api_key, "action": "status", "order": "1"})
    assert (bad_key.status_code, unknown.status_code) == (401, 400)
    sim.set_quirk("numbers_as_json_numbers", times=1)
    assert (await http.post(sim.path, data={"key": sim.api_key, "action": "balance"})).text == (
        '{"balance":100,"currency":"USD"}'
    )
    sim.set_quirk("html_200", times=1)
    page = await http.post(sim.path, data={"key": sim.api_key, "action": "balance"})
    assert page.status_code == 200 and page.text.startswith("<!DOCTYPE html>")


async def test_dripfeed_children_and_completion(
    panel_server: RunningServer, http: httpx.AsyncClient
) -> None:
    sim = panel_server.sim
    order = await api(
        http, sim, action="add", service="102", link=LINK, quantity="100", runs="3", interval="10"
    )
    parent = sim.order(order["order"])
    sim.advance(3)
    shape = await api(http, sim, action="status", order=str(parent.id))
    assert shape == {"status": "In progress", "runs": "3", "orders": parent.children}
    sim.advance(10)
    assert parent.status == "Completed"
    assert {sim.orders[c].status for c in parent.children} == {"Completed", "Canceled"}
    refused = await api(
        http, sim, action="add", service="103", link=LINK, quantity="100", runs="2", interval="5"
    )
    assert refused == {"error": "This services does not support Dripfeed feature!"}


async def test_subscription_posts_funds_and_end() -> None:
    sim = PanelSimulator(auto_advance=False, balance="2", seed=1)
    params = {"key": sim.api_key, "action": "add", "service": "601", "username": "acc"}
    _, body, _ = await sim.handle({**params, "min": "100", "max": "200", "delay": "7"})
    assert body == b'{"error":"Incorrect delay"}'
    _, body, _ = await sim.handle({**params, "min": "100", "max": "200", "posts": "2"})
    assert body == b'{"order":23501}'
    sub = sim.order(23501)
    first = sim.new_post(sub.id)
    assert first is not None and 100 <= first.quantity <= 200
    assert sim.new_post(sub.id, quantity=200) is not None
    with pytest.raises(ValueError, match="used all its posts"):
        sim.new_post(sub.id)
    sim.advance(6)
    assert sub.status == "Completed"
    _, body, _ = await sim.handle({**params, "action": "status", "order": "23501"})
    assert body == b'{"status":"Completed","expiry":false,"posts":"2","orders":[23502,23503]}'
    other = {**params, "username": "poor", "min": "100", "max": "100"}
    await sim.handle(other)
    sim.set_balance("0.1")
    assert sim.new_post(23504) is None and sim.order(23504).status == "Paused"
    sim.end_subscription(23504, "Canceled")
    assert sim.order(23504).status == "Canceled"


async def test_refill_lifecycle_and_outcome(
    panel_server: RunningServer, http: httpx.AsyncClient
) -> None:
    sim = panel_server.sim
    ids = []
    for i in range(4):
        order = await api(http, sim, action="add", service="101", link=f"{LINK}{i}", quantity="10")
        sim.set_order(order["order"], status="Completed")
        ids.append(str(order["order"]))
    created = await api(http, sim, action="refill", orders=",".join(ids))
    assert [entry["refill"] for entry in created] == [7781, 7782, 7783, 7784]
    dup = await api(http, sim, action="refill", order=ids[0])
    assert dup == {"error": "Refill was requested less than 24 hours ago"}
    sim.advance(2)
    statuses = await api(http, sim, action="refill_status", refills="7781,7784,1")
    assert statuses == [
        {"refill": 7781, "status": "Completed"},
        {"refill": 7784, "status": "Rejected"},
        {"refill": 1, "status": {"error": "Refill not found"}},
    ]


async def test_string_ids_and_start_count_controls(
    panel_server: RunningServer, http: httpx.AsyncClient
) -> None:
    sim = panel_server.sim
    sim.set_quirk("string_order_ids", times=1)
    order = await api(http, sim, action="add", service="102", link=LINK, quantity="100")
    assert order == {"order": "A23501"}
    sim.set_order("A23501", status="in progress", remains=40, start_count=77)
    got = await api(http, sim, action="status", order="A23501")
    assert got == {
        "charge": "0.12500",
        "start_count": "77",
        "status": "In progress",
        "remains": "40",
        "currency": "USD",
    }


async def test_sim_http_controls(panel_server: RunningServer, http: httpx.AsyncClient) -> None:
    sim = panel_server.sim
    await api(http, sim, action="add", service="102", link=LINK, quantity="100")
    await api(http, sim, action="add", service="102", link=LINK, quantity="100")  # duplicate
    adds = (await http.get("/_sim/adds")).json()
    assert len(adds["records"]) == 2 and adds["created_by_link"] == {LINK: 1}
    assert "key" not in adds["records"][0]["fields"]
    changed = await http.post("/_sim/orders/23501", json={"status": "In progress", "remains": 5})
    assert changed.json()["remains"] == 5
    assert (await http.get("/_sim/orders/23501")).json()["status"] == "In progress"
    assert (await http.get("/_sim/orders/999")).status_code == 404
    assert len((await http.get("/_sim/orders")).json()["orders"]) == 1
    quirks = await http.post("/_sim/quirks", json={"name": "html_503", "times": 1})
    assert quirks.json() == {"quirks": {"html_503": {"times": 1, "value": True}}}
    assert (await http.post("/_sim/quirks", json={"name": "bogus"})).status_code == 400
    assert (await http.delete("/_sim/quirks")).json() == {"quirks": {}}
    assert (await http.post("/_sim/balance", json={"balance": "5.5"})).json() == {
        "balance": "5.50000"
    }
    state = (await http.post("/_sim/advance", json={"steps": 3})).json()
    assert state["balance"] == "5.50000" and state["calls"]["add"] == 2
    assert sim.order(23501).status == "Completed"
    sub = await api(http, sim, action="add", service="601", username="acc", min="50", max="60")
    post = await http.post(f"/_sim/subscriptions/{sub['order']}/posts", json={"quantity": 55})
    assert post.json()["order"] == "23503"
    ended = await http.post(f"/_sim/subscriptions/{sub['order']}/end", json={"status": "Expired"})
    assert ended.json()["status"] == "Expired"
    sim.set_order(23503, status="Completed")
    await api(http, sim, action="refill", order="23501")  # 102 has refill
    assert (await http.post("/_sim/refills/7781", json={"status": "Rejected"})).json()[
        "status"
    ] == "Rejected"
    assert (await http.post("/_sim/release")).json() == {"released": True}
    assert len((await http.get("/_sim/services")).json()) >= 8


async def test_serve_panel_on_custom_path() -> None:
    sim = PanelSimulator(path="/api.php")
    async with await serve_panel(sim) as server:
        assert server.url.endswith("/api.php") and server.url.startswith(server.base_url)
        async with httpx.AsyncClient() as client:
            response = await client.post(server.url, data={"key": sim.api_key, "action": "balance"})
    assert response.json()["currency"] == "USD"
