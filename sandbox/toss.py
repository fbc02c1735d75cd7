"""A Toss Payments stand-in (ASGI, real HTTP): the payment window, the API and webhooks.

Behaves like Toss where it matters to the shop (shared toss-payments.md §10):

* ``GET /v2/standard``: a small SDK v2 look-alike (``TossPayments(ck).payment({customerKey})
  .requestPayment({...})``) that navigates to this server's window instead of Toss's.
* ``GET /window?...``: validates clientKey, orderId (6–64 ``[A-Za-z0-9_-]``, not reused
  after DONE), orderName (≤100), amount (≥100 KRW) and creates a READY payment. Its buttons:
  pay → IN_PROGRESS + 303 to successUrl (``paymentType, orderId, paymentKey, amount``
  appended), decline → ABORTED + failUrl ``REJECT_CARD_COMPANY``, close → failUrl
  ``PAY_PROCESS_CANCELED`` without orderId (the payment is untouched, no webhook).
* ``POST /v1/payments/confirm``: exactly ``Basic base64(secret + ":")`` (else 401
  ``UNAUTHORIZED_KEY``); paymentKey↔orderId↔amount binding; 10 minutes after
  authentication → ``NOT_FOUND_PAYMENT_SESSION`` + EXPIRED; DONE again without a key →
  ``ALREADY_PROCESSED_PAYMENT``; Idempotency-Key replay per (key, auth, path, method) for
  15 days, 409 while the first is running, >300 chars → 400; ``TossPayments-Test-Code``.
* ``GET /v1/payments/{paymentKey}`` and ``/v1/payments/orders/{orderId}``.
* Webhooks ``PAYMENT_STATUS_CHANGED`` on DONE/ABORTED/EXPIRED with the transmission
  headers; anything but 200 is retried after 1, 4, 16, 64, 256, 1024, 4096 minutes (on
  the stand-in's clock: ``deliver_due``); switches to duplicate, and ``forge_webhook``.
* Fault switches for the next confirms (``faults``): ``timeout_after_commit`` (approve,
  then never answer), ``500_after_commit``, ``provider_error_after_commit``, ``500``
  (nothing approved), ``decline``; ``lookup_faults``: the next N lookups answer 500.

Not modelled: cancels (refund to card), virtual accounts, easy-pay apps.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import html
import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox.server import EmbeddedServer, start_uvicorn, stop_uvicorn

log = logging.getLogger(__name__)

KST = timezone(timedelta(hours=9))
SESSION = timedelta(minutes=10)  # authenticated → must be confirmed within this
WINDOW = timedelta(minutes=30)  # window opened → must be authenticated within this
IDEMPOTENCY_TTL = timedelta(days=15)
RETRY_MINUTES = (1, 4, 16, 64, 256, 1024, 4096)
ORDER_ID_RE = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
TEST_CLIENT_KEY = "test_ck_sandboxClientKey0000000000"
TEST_SECRET_KEY = "test_sk_sandboxSecretKey0000000000"

# code → (HTTP status, message), as Toss words them (messages in Korean, the default).
ERRORS: dict[str, tuple[int, str]] = {
    "UNAUTHORIZED_KEY": (401, "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다."),
    "INVALID_API_KEY": (400, "잘못된 시크릿키 연동 정보 입니다."),
    "INVALID_REQUEST": (400, "잘못된 요청입니다."),
    "INVALID_IDEMPOTENCY_KEY": (400, "멱등키가 유효하지 않습니다."),
    "IDEMPOTENT_REQUEST_PROCESSING": (409, "이전 멱등 요청이 처리 중입니다."),
    "NOT_FOUND_PAYMENT": (404, "존재하지 않는 결제 입니다."),
    "NOT_FOUND_PAYMENT_SESSION": (
        404,
        "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다.",
    ),
    "ALREADY_PROCESSED_PAYMENT": (400, "이미 처리된 결제 입니다."),
    "REJECT_CARD_PAYMENT": (403, "한도초과 혹은 잔액부족으로 결제에 실패했습니다."),
    "REJECT_CARD_COMPANY": (403, "카드사에서 결제를 거절했습니다."),
    "BELOW_MINIMUM_AMOUNT": (400, "신용카드는 결제금액이 100원 이상부터 결제가 가능합니다."),
    "PROVIDER_ERROR": (400, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요."),
    "FAILED_INTERNAL_SYSTEM_PROCESSING": (
        500,
        "내부 시스템 처리 작업이 실패했습니다. 잠시 후 다시 시도해주세요.",
    ),
    "NOT_FOUND_MERCHANT": (404, "존재하지 않는 상점 정보 입니다."),
    "PAY_PROCESS_CANCELED": (400, "사용자에 의해 결제가 취소되었습니다."),
}
FAULTS = frozenset(
    {"timeout_after_commit", "500_after_commit", "provider_error_after_commit", "500", "decline"}
)


def _now_utc() -> datetime:
    return datetime.now(UTC)


def _kst(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(KST).isoformat(timespec="seconds")


def error_body(code: str, message: str | None = None) -> dict[str, str]:
    return {"code": code, "message": message or ERRORS.get(code, (400, code))[1]}


def add_query(url: str, params: dict[str, str]) -> str:
    """Append to the URL's query, keeping the merchant's own parameters (``t=``)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


@dataclass
class SimPayment:
    payment_key: str
    order_id: str
    order_name: str
    amount: int
    success_url: str
    fail_url: str
    customer_key: str
    requested_at: datetime
    status: str = "READY"
    authenticated_at: datetime | None = None
    approved_at: datetime | None = None
    failure: tuple[str, str] | None = None

    def as_json(self) -> dict[str, Any]:
        done = self.status in ("DONE", "CANCELED", "PARTIAL_CANCELED")
        return {
            "mId": "tstandin",
            "version": "2022-11-16",
            "type": "NORMAL",
            "paymentKey": self.payment_key,
            "orderId": self.order_id,
            "orderName": self.order_name,
            "status": self.status,
            "method": "카드" if self.authenticated_at else None,
            "currency": "KRW",
            "country": "KR",
            "totalAmount": self.amount,
            "balanceAmount": self.amount,
            "suppliedAmount": round(self.amount / 1.1),
            "vat": self.amount - round(self.amount / 1.1),
            "taxFreeAmount": 0,
            "taxExemptionAmount": 0,
            "requestedAt": _kst(self.requested_at),
            "approvedAt": _kst(self.approved_at),
            "lastTransactionKey": f"txrd_{self.payment_key[-10:]}" if done else None,
            "isPartialCancelable": True,
            "useEscrow": False,
            "card": {"issuerCode": "61", "number": "48902300****406*", "installmentPlanMonths": 0,
                     "cardType": "신용", "amount": self.amount} if self.authenticated_at else None,
            "easyPay": None,
            "secret": None,
            "cancels": None,
            "failure": None
            if self.failure is None
            else {"code": self.failure[0], "message": self.failure[1]},
            "receipt": {"url": f"https://dashboard.tosspayments.com/receipt/redirection?"
                               f"transactionId={self.payment_key}"} if done else None,
            "checkout": {"url": f"https://api.tosspayments.com/v1/payments/{self.payment_key}"
                                "/checkout"},
        }  # fmt: skip


@dataclass
class Delivery:
    transmission_id: str
    body: dict[str, Any]
    due_at: datetime
    attempts: int = 0  # sends so far
    statuses: list[int] = field(default_factory=list)
    delivered: bool = False
    gave_up: bool = False


@dataclass
class ConfirmCall:
    idempotency_key: str | None
    body: Any
    answer: int  # HTTP status (0: never answered)


class TossStandIn:
    """The state behind the stand-in's HTTP face; tests flip its switches directly."""

    def __init__(
        self,
        *,
        client_key: str = TEST_CLIENT_KEY,
        secret_key: str = TEST_SECRET_KEY,
        clock: Callable[[], datetime] = _now_utc,
        webhook_url: str | None = None,
        auto_deliver: bool = True,
        mismatch_code: str = "INVALID_REQUEST",  # the real code is unverified (§3)
        docs_keys: bool = False,
    ) -> None:
        self.client_key = client_key
        self.secret_key = secret_key
        self.clock = clock
        self.webhook_url = webhook_url
        self.auto_deliver = auto_deliver
        self.mismatch_code = mismatch_code
        self.docs_keys = docs_keys
        self.payments: dict[str, SimPayment] = {}
        self.by_order: dict[str, list[str]] = {}
        self.faults: list[str] = []  # consumed one per confirm call
        self.lookup_faults = 0  # the next N lookups answer 500
        self.duplicate_webhooks = False
        self.confirms: list[ConfirmCall] = []
        self.deliveries: list[Delivery] = []
        self._idem: dict[tuple[str, str, str, str], tuple[datetime, int, Any] | None] = {}
        self._hang = asyncio.Event()  # released at stop: held "timeout" answers end
        self._tasks: set[asyncio.Task[Any]] = set()
        self._seq = 0

    # ---- switches and helpers for tests -------------------------------------------------

    def fail_next_confirm(self, fault: str) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {sorted(FAULTS)}")
        self.faults.append(fault)

    def latest(self, order_id: str) -> SimPayment | None:
        keys = self.by_order.get(order_id) or []
        return self.payments[keys[-1]] if keys else None

    def release(self) -> None:
        self._hang.set()

    async def settle_webhooks(self) -> None:
        """Wait until every delivery started so far has finished (no sleeping)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def forge_webhook(self, order_id: str, status: str = "DONE") -> None:
        """An attacker's webhook: a body claiming ``status`` for the order's payment."""
        p = self.latest(order_id)
        data = p.as_json() if p else {"paymentKey": "forged" + secrets.token_hex(8)}
        data.update({"orderId": order_id, "status": status})
        self._enqueue(data)

    # ---- the window ---------------------------------------------------------------------

    def open_window(self, params: dict[str, str]) -> SimPayment | tuple[str, str]:
        """Create a READY payment from the SDK's parameters, or (code, message)."""
        if params.get("clientKey") != self.client_key:
            return "INVALID_API_KEY", ERRORS["INVALID_API_KEY"][1]
        order_id = params.get("orderId", "")
        if not ORDER_ID_RE.match(order_id):
            return (
                "INVALID_REQUEST",
                "orderId는 6자 이상 64자 이하의 영문, 숫자, -, _ 만 허용됩니다.",
            )
        if any(self.payments[k].status == "DONE" for k in self.by_order.get(order_id, [])):
            return "ALREADY_PROCESSED_PAYMENT", ERRORS["ALREADY_PROCESSED_PAYMENT"][1]
        name = params.get("orderName", "")
        if not 1 <= len(name) <= 100:
            return "INVALID_REQUEST", "orderName은 1자 이상 100자 이하여야 합니다."
        if params.get("currency", "KRW") != "KRW" or params.get("method", "CARD") != "CARD":
            return "INVALID_REQUEST", "지원하지 않는 결제 수단 또는 통화입니다."
        try:
            amount = int(params.get("amount", ""))
        except ValueError:
            return "INVALID_REQUEST", "amount는 정수여야 합니다."
        if amount < 100:
            return "BELOW_MINIMUM_AMOUNT", ERRORS["BELOW_MINIMUM_AMOUNT"][1]
        for url_key in ("successUrl", "failUrl"):
            if not params.get(url_key, "").startswith(("http://", "https://")):
                return "INVALID_REQUEST", f"{url_key}가 올바르지 않습니다."
        now = self.clock()
        self._seq += 1
        key = f"tstan{now.astimezone(KST):%Y%m%d%H%M%S}{self._seq:03d}{secrets.token_urlsafe(4)}"
        p = SimPayment(
            payment_key=key, order_id=order_id, order_name=name, amount=amount,
            success_url=params["successUrl"], fail_url=params["failUrl"],
            customer_key=params.get("customerKey", ""), requested_at=now,
        )  # fmt: skip
        self.payments[key] = p
        self.by_order.setdefault(order_id, []).append(key)
        return p

    def approve(self, p: SimPayment) -> str:
        """The buyer authenticated: IN_PROGRESS; the success redirect (never a webhook)."""
        self._expire(p)
        if p.status != "READY":
            return add_query(p.fail_url, {"code": "PAY_PROCESS_ABORTED", "orderId": p.order_id,
                                          "message": "결제가 진행되지 않았습니다."})  # fmt: skip
        p.status, p.authenticated_at = "IN_PROGRESS", self.clock()
        back = {"paymentType": "NORMAL", "orderId": p.order_id, "paymentKey": p.payment_key,
                "amount": str(p.amount)}  # fmt: skip
        return add_query(p.success_url, back)

    def decline(self, p: SimPayment) -> str:
        code = "REJECT_CARD_COMPANY"
        if p.status == "READY":
            self._set_status(p, "ABORTED", (code, ERRORS[code][1]))
        return add_query(p.fail_url, {"code": code, "message": ERRORS[code][1],
                                      "orderId": p.order_id})  # fmt: skip

    def close(self, p: SimPayment) -> str:
        # Closing the window changes nothing at Toss and sends no orderId back (§2, §9.12).
        code = "PAY_PROCESS_CANCELED"
        return add_query(p.fail_url, {"code": code, "message": ERRORS[code][1]})

    # ---- payment state ------------------------------------------------------------------

    def _expire(self, p: SimPayment) -> None:
        now = self.clock()
        if p.status == "READY" and now - p.requested_at > WINDOW:
            self._set_status(p, "EXPIRED", ("EXPIRED_PAYMENT", "결제 유효 시간이 지났습니다."))
        elif (
            p.status == "IN_PROGRESS"
            and p.authenticated_at is not None
            and now - p.authenticated_at > SESSION
        ):
            self._set_status(p, "EXPIRED", ("EXPIRED_PAYMENT", "결제 유효 시간이 지났습니다."))

    def sweep(self) -> None:
        """The expiry sweeper: overdue READY/IN_PROGRESS payments become EXPIRED."""
        for p in list(self.payments.values()):
            self._expire(p)

    def _set_status(
        self, p: SimPayment, status: str, failure: tuple[str, str] | None = None
    ) -> None:
        p.status = status
        if failure is not None:
            p.failure = failure
        if status in ("DONE", "ABORTED", "EXPIRED", "CANCELED", "PARTIAL_CANCELED"):
            self._enqueue(p.as_json())

    # ---- webhooks -----------------------------------------------------------------------

    def _enqueue(self, data: dict[str, Any]) -> None:
        if self.webhook_url is None:
            return
        created = self.clock().astimezone(KST).replace(tzinfo=None)  # no offset, like Toss
        body = {"eventType": "PAYMENT_STATUS_CHANGED",
                "createdAt": created.isoformat(timespec="microseconds"), "data": data}  # fmt: skip
        copies = 2 if self.duplicate_webhooks else 1
        for _ in range(copies):
            self.deliveries.append(Delivery(secrets.token_hex(12), body, self.clock()))
        if self.auto_deliver:
            self._spawn(self.deliver_due())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver_due(self) -> int:
        """Send every delivery that is due now; returns how many got a 200."""
        due = [d for d in self.deliveries
               if not d.delivered and not d.gave_up and d.due_at <= self.clock()]  # fmt: skip
        ok = 0
        if not due or self.webhook_url is None:
            return 0
        async with httpx.AsyncClient(timeout=10) as client:
            for d in due:
                ok += await self._send(client, d)
        return ok

    async def _send(self, client: httpx.AsyncClient, d: Delivery) -> int:
        assert self.webhook_url is not None
        d.due_at = datetime.max.replace(tzinfo=UTC)  # not due again while in flight
        headers = {
            "tosspayments-webhook-transmission-id": d.transmission_id,
            "tosspayments-webhook-transmission-time": self.clock().astimezone(KST).isoformat(),
            "tosspayments-webhook-transmission-retried-count": str(d.attempts),
        }
        try:
            resp = await client.post(self.webhook_url, json=d.body, headers=headers)
            status = resp.status_code
        except httpx.HTTPError:
            status = 0
        d.attempts += 1
        d.statuses.append(status)
        if status == 200:
            d.delivered = True
            return 1
        if d.attempts > len(RETRY_MINUTES):
            d.gave_up = True  # Toss e-mails the merchant at this point
        else:
            d.due_at = self.clock() + timedelta(minutes=RETRY_MINUTES[d.attempts - 1])
        return 0

    # ---- the API ------------------------------------------------------------------------

    def _auth_error(self, request: Request) -> JSONResponse | None:
        want = "Basic " + base64.b64encode(f"{self.secret_key}:".encode()).decode()
        got = request.headers.get("authorization", "")
        if got == want:
            return None
        return self._error("UNAUTHORIZED_KEY")

    def _error(self, code: str, status: int | None = None) -> JSONResponse:
        return JSONResponse(error_body(code), status_code=status or ERRORS.get(code, (400, ""))[0])

    async def confirm(self, request: Request) -> Response:
        call = ConfirmCall(request.headers.get("idempotency-key"), None, 0)
        self.confirms.append(call)
        if (denied := self._auth_error(request)) is not None:
            call.answer = denied.status_code
            return denied
        idem = call.idempotency_key
        if idem is not None and not 1 <= len(idem) <= 300:
            return self._error("INVALID_IDEMPOTENCY_KEY")
        slot = None
        if idem is not None:
            slot = (idem, request.headers["authorization"], request.url.path, request.method)
            now = self.clock()
            if slot in self._idem:
                stored = self._idem[slot]
                if stored is None:
                    return self._error("IDEMPOTENT_REQUEST_PROCESSING")
                if now - stored[0] < IDEMPOTENCY_TTL:
                    call.answer = stored[1]
                    return JSONResponse(stored[2], status_code=stored[1])
            self._idem[slot] = None  # running
        try:
            status, body, after = self._confirm(request.headers, await self._json(request))
        except BaseException:
            if slot is not None:
                self._idem.pop(slot, None)
            raise
        if slot is not None:
            if status >= 500 and after is None:
                self._idem.pop(slot, None)  # a failure before anything happened: not stored
            else:
                self._idem[slot] = (self.clock(), status, body)
        call.answer = status
        # Faults after the commit: the approval stands, only the answer is lost.
        if after == "timeout_after_commit":
            await self._hang.wait()
            call.answer = 0
            return self._error("FAILED_INTERNAL_SYSTEM_PROCESSING", 504)
        if after == "500_after_commit":
            call.answer = 500
            return self._error("FAILED_INTERNAL_SYSTEM_PROCESSING", 500)
        if after == "provider_error_after_commit":
            call.answer = 400
            return self._error("PROVIDER_ERROR")
        return JSONResponse(body, status_code=status)

    async def _json(self, request: Request) -> Any:
        try:
            return json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            return None

    def _confirm(self, headers: Any, body: Any) -> tuple[int, Any, str | None]:
        test_code = headers.get("tosspayments-test-code")
        if test_code:
            return ERRORS.get(test_code, (400, ""))[0], error_body(test_code), None
        if not isinstance(body, dict):
            return 400, error_body("INVALID_REQUEST"), None
        key, order_id, amount = body.get("paymentKey"), body.get("orderId"), body.get("amount")
        if (
            not isinstance(key, str)
            or not isinstance(order_id, str)
            or isinstance(amount, bool)
            or not isinstance(amount, int)
        ):
            return 400, error_body("INVALID_REQUEST"), None
        p = self.payments.get(key)
        if p is None:
            return 404, error_body("NOT_FOUND_PAYMENT"), None
        self._expire(p)
        if p.order_id != order_id:
            return 404, error_body("NOT_FOUND_PAYMENT_SESSION"), None
        if p.status == "DONE":
            return 400, error_body("ALREADY_PROCESSED_PAYMENT"), None
        if p.status != "IN_PROGRESS":  # READY (never authenticated), EXPIRED, ABORTED
            return 404, error_body("NOT_FOUND_PAYMENT_SESSION"), None
        if amount != p.amount:
            return (
                ERRORS.get(self.mismatch_code, (400, ""))[0],
                error_body(self.mismatch_code),
                None,
            )
        fault = self.faults.pop(0) if self.faults else None
        if fault == "500":
            return 500, error_body("FAILED_INTERNAL_SYSTEM_PROCESSING"), None
        if fault == "decline":
            code = "REJECT_CARD_PAYMENT"
            self._set_status(p, "ABORTED", (code, ERRORS[code][1]))
            return 403, error_body(code), None
        p.approved_at = self.clock()
        self._set_status(p, "DONE")
        return 200, p.as_json(), fault

    def lookup(self, request: Request, p: SimPayment | None) -> Response:
        if (denied := self._auth_error(request)) is not None:
            return denied
        if self.lookup_faults > 0:
            self.lookup_faults -= 1
            return self._error("FAILED_INTERNAL_SYSTEM_PROCESSING")
        if self.docs_keys:
            return self._error("NOT_FOUND_MERCHANT")
        if p is None:
            return self._error("NOT_FOUND_PAYMENT")
        self._expire(p)
        return JSONResponse(p.as_json())


# ---- the HTTP face -------------------------------------------------------------------------

SDK_JS = """// A stand-in for Toss Payments' SDK v2 (payment window only): it opens the
// stand-in's window page instead of Toss's.
(function () {
  var base = new URL(document.currentScript.src).origin;
  function TossPayments(clientKey) {
    if (!clientKey) { throw new Error("clientKey is required"); }
    return {
      payment: function (opts) {
        var customerKey = (opts && opts.customerKey) || "";
        return {
          requestPayment: function (req) {
            var q = new URLSearchParams({
              clientKey: clientKey, customerKey: customerKey, method: req.method || "",
              orderId: req.orderId || "", orderName: req.orderName || "",
              amount: String(req.amount && req.amount.value),
              currency: (req.amount && req.amount.currency) || "",
              successUrl: req.successUrl || "", failUrl: req.failUrl || ""
            });
            window.location.assign(base + "/window?" + q.toString());
            return new Promise(function () {});
          }
        };
      }
    };
  }
  TossPayments.ANONYMOUS = "@@ANONYMOUS";
  window.TossPayments = TossPayments;
})();
"""

WINDOW_HTML = """<!doctype html>
<html lang="ko"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>토스페이먼츠 결제창 (stand-in)</title><link rel="icon" href="data:,">
<style>
body {{ font-family: sans-serif; margin: 0; background: #f2f4f6; color: #191f28; }}
main {{ max-width: 420px; margin: 0 auto; padding: 24px 20px; }}
.card {{ background: #fff; border-radius: 16px; padding: 20px; }}
.amount {{ font-size: 28px; font-weight: 700; margin: 8px 0 20px; }}
button {{ display: block; width: 100%; padding: 14px; margin: 8px 0; border: 0;
  border-radius: 12px; font-size: 16px; }}
.pay {{ background: #3182f6; color: #fff; }}
.decline {{ background: #ffeeee; color: #d22030; }}
.close {{ background: #e5e8eb; }}
small {{ color: #6b7684; }}
</style></head>
<body><main><div class="card">
<small>토스페이먼츠 · 테스트 결제창 (샌드박스)</small>
<h1>{order_name}</h1>
<div class="amount" id="amount">{amount:,}원</div>
<form method="post" action="/window/{key}/pay"><button class="pay" id="pay">결제하기</button></form>
<form method="post" action="/window/{key}/decline">
<button class="decline" id="decline">카드사 거절 (decline)</button></form>
<form method="post" action="/window/{key}/close">
<button class="close" id="close">닫기 (close)</button></form>
<small>실제 카드로 결제되지 않아요. No real card is charged.</small>
</div></main></body></html>
"""


def create_app(sim: TossStandIn) -> Starlette:
    async def sdk(request: Request) -> Response:
        return Response(SDK_JS, media_type="text/javascript")

    async def window(request: Request) -> Response:
        made = sim.open_window(dict(request.query_params))
        if isinstance(made, tuple):
            code, message = made
            page = (f"<!doctype html><meta charset=utf-8><title>{html.escape(code)}</title>"
                    f"<p id=error>{html.escape(code)}: {html.escape(message)}</p>")  # fmt: skip
            return HTMLResponse(page, status_code=400)
        page = WINDOW_HTML.format(
            order_name=html.escape(made.order_name), amount=made.amount,
            key=html.escape(made.payment_key),
        )  # fmt: skip
        return HTMLResponse(page)

    async def window_action(request: Request) -> Response:
        p = sim.payments.get(request.path_params["key"])
        if p is None:
            return HTMLResponse("<p id=error>NOT_FOUND_PAYMENT</p>", status_code=404)
        action = request.path_params["action"]
        target = {"pay": sim.approve, "decline": sim.decline, "close": sim.close}[action](p)
        return RedirectResponse(target, status_code=303)

    async def confirm(request: Request) -> Response:
        try:
            return await sim.confirm(request)
        except ClientDisconnect:  # the shop was killed mid-request: nothing to answer
            return Response(status_code=499)

    async def by_key(request: Request) -> Response:
        return sim.lookup(request, sim.payments.get(request.path_params["key"]))

    async def by_order(request: Request) -> Response:
        return sim.lookup(request, sim.latest(request.path_params["order_id"]))

    return Starlette(
        routes=[
            Route("/v2/standard", sdk),
            Route("/window", window),
            Route("/window/{key}/{action:str}", window_action, methods=["POST"]),
            Route("/v1/payments/confirm", confirm, methods=["POST"]),
            Route("/v1/payments/orders/{order_id}", by_order),
            Route("/v1/payments/{key}", by_key),
        ]
    )


@dataclass
class TossServer:
    sim: TossStandIn
    url: str  # API base URL and SDK origin
    _server: EmbeddedServer
    _task: asyncio.Task[None]

    @property
    def sdk_url(self) -> str:
        return self.url + "/v2/standard"

    async def stop(self) -> None:
        self.sim.release()
        with contextlib.suppress(Exception):
            await self.sim.settle_webhooks()
        await stop_uvicorn(self._server, self._task)


async def serve_toss(sim: TossStandIn, host: str = "127.0.0.1", port: int = 0) -> TossServer:
    server, actual_port, task = await start_uvicorn(create_app(sim), host, port)
    return TossServer(sim, f"http://{host}:{actual_port}", server, task)
