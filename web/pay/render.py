"""Server-rendered HTML for the pay pages: small, phone-first, no outside style, and no
script except the gateway's own SDK on the pay page (enforced by a Content-Security-Policy
with a per-response nonce).

Everything that is not a literal here goes through ``html.escape`` (``texts.t`` does it
for the catalog); the data the pay page's script needs travels as JSON in a
``<script type="application/json">`` block with ``<``, ``>`` and ``&`` escaped.
"""

from __future__ import annotations

import html
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse

from web.pay.texts import lang_of, t

STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f2f4f6; color: #191f28; line-height: 1.5;
  font-family: -apple-system, BlinkMacSystemFont, "Apple SD Gothic Neo", "Noto Sans KR",
  "Malgun Gothic", sans-serif; }
main { max-width: 480px; margin: 0 auto; padding: 24px 16px 48px; }
.card { background: #fff; border-radius: 16px; padding: 24px 20px; }
.shop { color: #6b7684; font-size: 14px; margin: 0 0 4px; }
h1 { font-size: 22px; margin: 0 0 16px; }
.amount { font-size: 32px; font-weight: 700; margin: 4px 0 16px; }
.label { color: #6b7684; font-size: 14px; margin: 0; }
.button { display: block; width: 100%; padding: 16px; border: 0; border-radius: 12px;
  background: #3182f6; color: #fff; font-size: 17px; font-weight: 600; text-align: center;
  text-decoration: none; cursor: pointer; }
.button[disabled] { background: #a5c8fb; }
.note { color: #6b7684; font-size: 13px; margin: 12px 0 0; }
.msg { color: #d22030; min-height: 1.5em; margin: 12px 0 0; }
.ok { color: #0b8a4a; }
a { color: #3182f6; }
"""

PAY_SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById("checkout").textContent);
  var button = document.getElementById("pay");
  var msg = document.getElementById("msg");
  button.disabled = false;
  button.addEventListener("click", function () {
    if (typeof window.TossPayments !== "function") {
      msg.textContent = data.text.sdkMissing;
      return;
    }
    button.disabled = true;
    msg.textContent = "";
    var payment = window.TossPayments(data.clientKey).payment({
      customerKey: window.TossPayments.ANONYMOUS
    });
    payment.requestPayment({
      method: "CARD",
      amount: { currency: "KRW", value: data.amount },
      orderId: data.orderId,
      orderName: data.orderName,
      successUrl: data.successUrl,
      failUrl: data.failUrl
    }).catch(function (err) {
      button.disabled = false;
      msg.textContent = data.text.windowError + (err && err.message ? ": " + err.message : "");
    });
  });
})();
"""


@dataclass(frozen=True)
class Page:
    lang: str
    title_key: str
    body: str  # escaped HTML
    status: int = 200
    script: str | None = None  # inline script (nonce'd); only on the pay page
    sdk_url: str | None = None
    data: dict[str, Any] | None = None  # JSON for the script


def json_block(data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def csp(nonce: str, sdk_url: str | None) -> str:
    if sdk_url is None:
        return (f"default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' data:; "
                "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")  # fmt: skip
    # The gateway's SDK builds its own window (frames, styles, card-company pages), so
    # frames and styles are left open to https; scripts come only from our nonce and the
    # SDK's host (plus the gateway's own domain, which its SDK loads helpers from).
    sdk = _origin(sdk_url)
    gateway = "https://*.tosspayments.com"
    return (
        f"default-src 'self'; script-src 'nonce-{nonce}' {sdk} {gateway}; "
        f"style-src 'self' 'unsafe-inline' {sdk} {gateway}; img-src 'self' data: https:; "
        f"frame-src {sdk} https:; connect-src 'self' {sdk} https:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )


def respond(page: Page) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    lang = lang_of(page.lang)
    head = [
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="robots" content="noindex">',
        '<link rel="icon" href="data:,">',  # no favicon request
        f"<title>{t(lang, page.title_key)}</title>",
        f'<style nonce="{nonce}">{STYLE}</style>',
    ]
    tail = []
    if page.data is not None:
        tail.append(
            f'<script type="application/json" id="checkout">{json_block(page.data)}</script>'
        )
    if page.sdk_url is not None:
        tail.append(f'<script nonce="{nonce}" src="{html.escape(page.sdk_url)}"></script>')
    if page.script is not None:
        tail.append(f'<script nonce="{nonce}">{page.script}</script>')
    doc = (
        f'<!doctype html>\n<html lang="{lang}"><head>{"".join(head)}</head>'
        f"<body><main>{page.body}</main>{''.join(tail)}</body></html>"
    )
    headers = {
        "Content-Security-Policy": csp(nonce, page.sdk_url),
        "Cache-Control": "no-store",
        "Referrer-Policy": "strict-origin",
        "X-Content-Type-Options": "nosniff",
    }
    return HTMLResponse(doc, status_code=page.status, headers=headers)


def card(*parts: str) -> str:
    return '<div class="card">' + "".join(parts) + "</div>"


def p(text: str, cls: str | None = None, id_: str | None = None) -> str:
    attrs = (f' class="{cls}"' if cls else "") + (f' id="{id_}"' if id_ else "")
    return f"<p{attrs}>{text}</p>"


def link(href: str, text: str, cls: str | None = None) -> str:
    """A link; only http(s) addresses are kept (a gateway's receipt URL is outside data)."""
    local = href.startswith("/") and not href.startswith("//")
    if urlsplit(href).scheme not in ("http", "https") and not local:
        return ""
    attrs = f' class="{cls}"' if cls else ""
    return f'<a href="{html.escape(href)}"{attrs} rel="noopener noreferrer">{text}</a>'
