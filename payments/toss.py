"""Toss Payments (payment window, API 개별 연동): confirm, lookups, webhook parsing.

Protocol facts (see shared toss-payments.md): one host; ``Authorization: Basic
base64(secretKey + ":")`` (the colon is mandatory); errors are ``{"code", "message"}``
with an HTTP status that sources disagree on, so we branch on ``code``; a confirm is
made idempotent with ``Idempotency-Key: confirm-<orderId>-<hash of paymentKey>`` (one
key per order, attempt and action: a constant key would replay another order's answer,
a fresh key for a retry after an error could approve twice).

The secret key is only ever in the Authorization header; no message we build holds it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Any, Self
from urllib.parse import quote

import httpx

from payments.gateway import (
    Declined,
    GatewayError,
    Misconfigured,
    NotFound,
    OutcomeUnknown,
    Payment,
    PaymentStatus,
    WebhookHint,
)

log = logging.getLogger(__name__)

API_URL = "https://api.tosspayments.com"
SDK_URL = "https://js.tosspayments.com/v2/standard"
DEFAULT_TIMEOUT = 30.0  # a confirm waits for the card company; Toss answers within ~10 s

# Definite refusals: nothing was captured by this call.
DECLINE_CODES = frozenset(
    {
        "REJECT_CARD_PAYMENT",
        "REJECT_CARD_COMPANY",
        "INVALID_REJECT_CARD",
        "INVALID_STOPPED_CARD",
        "INVALID_CARD_EXPIRATION",
        "INVALID_CARD_NUMBER",
        "BELOW_MINIMUM_AMOUNT",
        "FORBIDDEN_REQUEST",
        "NOT_FOUND_PAYMENT_SESSION",  # the 10-minute window passed, or another orderId
        "PAY_PROCESS_CANCELED",
        "PAY_PROCESS_ABORTED",
    }
)
DECLINE_PREFIXES = ("EXCEED_MAX_",)
MISCONFIG_CODES = frozenset(
    {"UNAUTHORIZED_KEY", "INVALID_API_KEY", "INCORRECT_BASIC_AUTH_FORMAT", "NOT_FOUND_MERCHANT"}
)
NOT_FOUND_CODES = frozenset({"NOT_FOUND_PAYMENT"})
# Everything else (ALREADY_PROCESSED_PAYMENT, PROVIDER_ERROR, FAILED_*_INTERNAL_SYSTEM_*,
# UNKNOWN_PAYMENT_ERROR, IDEMPOTENT_REQUEST_PROCESSING, INVALID_REQUEST, codes we have never
# seen) says nothing certain about the payment: OutcomeUnknown, and the caller looks it up.


def basic_auth(secret_key: str) -> str:
    """``Basic base64("<secretKey>:")``: key as user name, empty password, no BOM."""
    return "Basic " + base64.b64encode(f"{secret_key}:".encode()).decode("ascii")


def confirm_idempotency_key(order_id: str, payment_key: str) -> str:
    """One key per order *and* attempt: after a decline the customer may pay the same
    order again with a new paymentKey, and a key of the orderId alone would replay the
    decline. Retries of one attempt reuse its key. (≤ 8 + 64 + 1 + 16 chars < 300.)"""
    digest = hashlib.sha256(payment_key.encode()).hexdigest()[:16]
    return f"confirm-{order_id}-{digest}"


def classify(code: str, message: str = "") -> GatewayError:
    if code in DECLINE_CODES or code.startswith(DECLINE_PREFIXES):
        return Declined(code, message)
    if code in NOT_FOUND_CODES:
        return NotFound(code, message)
    if code in MISCONFIG_CODES:
        return Misconfigured(code, message)
    return OutcomeUnknown(code, message)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"not an integer amount: {value!r}")
    return int(value)


def parse_payment(data: Any) -> Payment:
    """A Payment object (confirm answer, lookup, webhook ``data``); ValueError if unusable."""
    if not isinstance(data, dict):
        raise ValueError("payment is not an object")
    key, order_id = data.get("paymentKey"), data.get("orderId")
    if not isinstance(key, str) or not key or not isinstance(order_id, str) or not order_id:
        raise ValueError("payment without paymentKey/orderId")
    receipt = data.get("receipt")
    failure = data.get("failure") if isinstance(data.get("failure"), dict) else {}
    receipt_url = receipt.get("url") if isinstance(receipt, dict) else None
    return Payment(
        payment_key=key,
        order_id=order_id,
        status=PaymentStatus.parse(data.get("status")),
        total_amount=_int(data.get("totalAmount")),
        currency=str(data.get("currency") or ""),
        method=data.get("method") if isinstance(data.get("method"), str) else None,
        receipt_url=receipt_url if isinstance(receipt_url, str) else None,
        approved_at=data.get("approvedAt") if isinstance(data.get("approvedAt"), str) else None,
        failure_code=failure.get("code") if isinstance(failure.get("code"), str) else None,
        failure_message=failure.get("message") if isinstance(failure.get("message"), str) else None,
    )


class TossClient:
    """One Toss merchant (one secret key). Implements ``payments.gateway.CardGateway``."""

    name = "toss"

    def __init__(
        self,
        secret_key: str,
        *,
        api_url: str = API_URL,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not secret_key:
            raise ValueError("Toss secret key is empty")
        self._http = httpx.AsyncClient(
            base_url=api_url.rstrip("/"),
            timeout=timeout,
            headers={"Authorization": basic_auth(secret_key), "Accept": "application/json"},
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"TossClient(api_url={str(self._http.base_url)!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ---- the API -------------------------------------------------------------------

    async def confirm(self, *, payment_key: str, order_id: str, amount: int) -> Payment:
        body = {"paymentKey": payment_key, "orderId": order_id, "amount": amount}
        headers = {"Idempotency-Key": confirm_idempotency_key(order_id, payment_key)}
        return await self._payment("POST", "/v1/payments/confirm", json_body=body, headers=headers)

    async def payment(self, payment_key: str) -> Payment:
        return await self._payment("GET", f"/v1/payments/{quote(payment_key, safe='')}")

    async def payment_by_order(self, order_id: str) -> Payment:
        return await self._payment("GET", f"/v1/payments/orders/{quote(order_id, safe='')}")

    def parse_webhook(self, body: bytes) -> WebhookHint | None:
        """``PAYMENT_STATUS_CHANGED``: unsigned, so only the keys are taken from it."""
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(event, dict) or event.get("eventType") != "PAYMENT_STATUS_CHANGED":
            return None
        data = event.get("data")
        if not isinstance(data, dict):
            return None
        key, order_id = data.get("paymentKey"), data.get("orderId")
        key = key if isinstance(key, str) and 0 < len(key) <= 200 else None
        order_id = order_id if isinstance(order_id, str) and 0 < len(order_id) <= 64 else None
        if key is None and order_id is None:
            return None
        return WebhookHint(payment_key=key, order_id=order_id, event_type=event["eventType"])

    # ---- plumbing ------------------------------------------------------------------

    async def _payment(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Payment:
        try:
            resp = await self._http.request(method, path, json=json_body, headers=headers)
        except httpx.TimeoutException as exc:
            # The request may have reached Toss and been approved: unknown, never "failed".
            raise OutcomeUnknown("TIMEOUT", f"no answer from Toss ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise OutcomeUnknown("NETWORK", f"cannot reach Toss ({type(exc).__name__})") from exc
        try:
            data = resp.json()
        except ValueError:
            data = None
        if resp.status_code == 200:
            try:
                return parse_payment(data)
            except ValueError as exc:
                raise OutcomeUnknown("GARBAGE", f"unusable payment object: {exc}") from exc
        code = data.get("code") if isinstance(data, dict) else None
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(code, str) or not code:
            raise OutcomeUnknown(f"HTTP_{resp.status_code}", "no error code in the answer")
        if resp.status_code >= 500:
            # A 5xx may come after the approval was committed; even a "decline"-looking
            # code from a broken server is not trusted.
            raise OutcomeUnknown(code, str(message or ""))
        err = classify(code, str(message or ""))
        if isinstance(err, Misconfigured):
            log.error("Toss refused our credentials or request: %s", code)
        raise err
