"""Helpers for the card tests: a buyer who goes through the Toss stand-in's window over
real HTTP (what the SDK and the browser would do), without a browser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx

from sandbox.toss import TEST_CLIENT_KEY


@dataclass
class Return:
    """Where the window sent the buyer back to: success or fail URL and its query."""

    url: str

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.url).query).items()}


async def open_window(
    toss_url: str,
    *,
    order_id: str,
    amount: int,
    success_url: str = "http://shop.test/pay/toss/success",
    fail_url: str = "http://shop.test/pay/toss/fail",
    order_name: str = "잔액 충전",
    client_key: str = TEST_CLIENT_KEY,
) -> tuple[int, str]:
    """GET the window as the SDK would; (HTTP status, paymentKey or the error text)."""
    params = {
        "clientKey": client_key, "customerKey": "@@ANONYMOUS", "method": "CARD",
        "orderId": order_id, "orderName": order_name, "amount": str(amount), "currency": "KRW",
        "successUrl": success_url, "failUrl": fail_url,
    }  # fmt: skip
    async with httpx.AsyncClient() as http:
        resp = await http.get(f"{toss_url}/window", params=params)
    if resp.status_code != 200:
        return resp.status_code, resp.text
    found = re.search(r'action="/window/([^/"]+)/pay"', resp.text)
    assert found, resp.text
    return 200, found.group(1)


async def press(toss_url: str, payment_key: str, action: str = "pay") -> Return:
    """Press pay / decline / close in the window; the redirect Toss would send."""
    async with httpx.AsyncClient() as http:
        resp = await http.post(f"{toss_url}/window/{payment_key}/{action}")
    assert resp.status_code == 303, resp.text
    return Return(resp.headers["location"])


async def pay(toss_url: str, order_id: str, amount: int, action: str = "pay", **kw: str) -> Return:
    status, key = await open_window(toss_url, order_id=order_id, amount=amount, **kw)
    assert status == 200, key
    return await press(toss_url, key, action)
