"""The console's HTTP rules: session cookie, CSRF token, form bodies, security headers.

- The session cookie is HttpOnly, SameSite=Strict, Path=/, Secure when the console is
  served over https (``__Host-`` prefixed then, so no sub-domain can plant one).
- Every state-changing request is a POST whose form carries ``csrf`` = HMAC of the
  session secret: only a page of this console can know it. A POST from another origin is
  refused before that (Origin header), and SameSite=Strict already keeps the cookie off
  cross-site requests.
- Pages may not be framed or cached, and never send their URL to another site.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import Response

COOKIE_SECURE = "__Host-console"
COOKIE_PLAIN = "console_session"
MAX_FORM_BYTES = 64 * 1024
MAX_FORM_FIELDS = 40

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Never to another site (a login link's path is a secret, if a used one); same-origin
    # requests keep their Origin header, which the POST check below reads.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def secure_for(public_url: str | None, request: Request) -> bool:
    """Secure cookies when the console is reached over https (through the proxy)."""
    if public_url:
        return public_url.startswith("https://")
    return request.url.scheme == "https"


def cookie_name(secure: bool) -> str:
    return COOKIE_SECURE if secure else COOKIE_PLAIN


def session_secret(request: Request, secure: bool) -> str | None:
    return request.cookies.get(cookie_name(secure))


def set_session_cookie(response: Response, secret: str, secure: bool) -> None:
    response.set_cookie(
        cookie_name(secure), secret, path="/", httponly=True, samesite="strict", secure=secure
    )


def clear_session_cookie(response: Response, secure: bool) -> None:
    response.delete_cookie(
        cookie_name(secure), path="/", httponly=True, samesite="strict", secure=secure
    )


def csrf_token(secret: str) -> str:
    """Derived from the session secret (never stored): valid exactly while the session is."""
    return hmac.new(secret.encode(), b"console-csrf", hashlib.sha256).hexdigest()


def csrf_ok(secret: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(secret), presented or "")


def same_origin(request: Request, public_url: str | None) -> bool:
    """A POST's Origin (when the browser sends one) must be this console's."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True  # not sent (or hidden) by some clients; the CSRF token still must match
    allowed = {f"{request.url.scheme}://{request.headers.get('host', '')}"}
    if public_url:
        parts = urlsplit(public_url)
        allowed.add(f"{parts.scheme}://{parts.netloc}")
    return origin in allowed


async def read_form(request: Request) -> dict[str, str] | None:
    """An urlencoded form body (the only kind the console's forms send), size-capped."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM_BYTES):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        parsed = parse_qs(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        return None
    return {key: values[-1] for key, values in parsed.items()}


def with_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
