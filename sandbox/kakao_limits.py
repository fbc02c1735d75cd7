"""What Kakao accepts as a SkillResponse v2.0: the fake Open Builder's validator.

Limits come from ../shared/kakao-skill.md §3 (the official answer_json_format page plus
cross-checks). Kakao enforces them loosely ("may break the bubble"); the fake is strict on
purpose: an error here is an answer the customer might not see. Soft limits (a text folded
behind "전체 보기") are warnings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_OUTPUTS = 3
MAX_QUICK_REPLIES = 10
MAX_SIMPLE_TEXT = 1000
FOLD_SIMPLE_TEXT = 500  # beyond this the client folds the text behind "전체 보기"
MAX_LABEL = 14
MAX_LABEL_SIDE_BY_SIDE = 8
MAX_TITLE = 50
MAX_TEXTCARD_DESCRIPTION = 400
MAX_TEXTCARD_DESCRIPTION_CAROUSEL = 128
MAX_BASICCARD_DESCRIPTION = 230
MAX_LIST_ITEMS = 5
MAX_LIST_ITEMS_CAROUSEL = 4
# The current page says 3 (vertical) / 2 (horizontal); older builders say 2. Stay at 2.
MAX_LIST_BUTTONS = 2
MAX_CAROUSEL_ITEMS = 10
MAX_CAROUSEL_LISTCARDS = 5
MAX_ITEMCARD_ITEMS = 10
MAX_EXTRA_BYTES = 1000  # not documented; a generous guard against state shipped in extra (L)

COMPONENTS = (
    "simpleText",
    "simpleImage",
    "textCard",
    "basicCard",
    "commerceCard",
    "listCard",
    "itemCard",
    "carousel",
)
CAROUSEL_TYPES = ("textCard", "basicCard", "commerceCard", "listCard", "itemCard")
BUTTON_ACTIONS = ("webLink", "message", "block", "phone", "share", "operator", "addChannel")
QUICK_REPLY_ACTIONS = ("message", "block")
TOP_LEVEL_KEYS = ("version", "template", "context", "data", "useCallback")


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, where: str, what: str) -> None:
        self.errors.append(f"{where}: {what}")

    def warn(self, where: str, what: str) -> None:
        self.warnings.append(f"{where}: {what}")


def check_http(status: int, content_type: str, body: bytes) -> tuple[Any, Report]:
    """An HTTP answer from the skill: parsed JSON (or None) and what is wrong with it."""
    report = Report()
    if status != 200:
        report.error("http", f"status {status} (Kakao shows the user an error)")
        return None, report
    if "json" not in content_type.lower():
        report.error("http", f"content-type {content_type!r} is not JSON")
    try:
        data = json.loads(body)
    except ValueError:
        report.error("http", "body is not JSON")
        return None, report
    validate_response(data, report)
    return data, report


def validate_response(data: Any, report: Report | None = None) -> Report:
    report = report or Report()
    if not isinstance(data, dict):
        report.error("$", "a SkillResponse is a JSON object")
        return report
    if data.get("version") != "2.0":
        report.error("version", 'must be "2.0" (otherwise Kakao reads the answer as v1)')
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            report.warn(key, "unknown top-level key (ignored by Kakao)")
    if data.get("useCallback") is True:
        if "template" in data:
            report.error("template", "a useCallback answer carries no template")
        return report
    template = data.get("template")
    if not isinstance(template, dict):
        report.error("template", "missing (every block answers with skill data)")
        return report
    outputs = template.get("outputs")
    if not isinstance(outputs, list) or not 1 <= len(outputs) <= MAX_OUTPUTS:
        report.error("template.outputs", f"need 1 to {MAX_OUTPUTS} components")
        outputs = outputs if isinstance(outputs, list) else []
    for i, output in enumerate(outputs):
        _component(f"outputs[{i}]", output, report, in_carousel=False)
    quick = template.get("quickReplies", [])
    if quick is None:
        quick = []
    if not isinstance(quick, list):
        report.error("template.quickReplies", "must be a list")
        quick = []
    if len(quick) > MAX_QUICK_REPLIES:
        report.error("template.quickReplies", f"{len(quick)} > {MAX_QUICK_REPLIES}")
    for i, qr in enumerate(quick):
        _quick_reply(f"quickReplies[{i}]", qr, report)
    ctx = data.get("context")
    if ctx is not None and not (isinstance(ctx, dict) and isinstance(ctx.get("values"), list)):
        report.error("context", "must be {values: [...]}")
    if "data" in data and not isinstance(data["data"], dict):
        report.error("data", "must be an object")
    return report


def _text(where: str, value: Any, report: Report, limit: int, *, required: bool = False) -> int:
    if value is None:
        if required:
            report.error(where, "required")
        return 0
    if not isinstance(value, str):
        report.error(where, "must be a string")
        return 0
    if required and not value.strip():
        report.error(where, "must not be empty")
    if len(value) > limit:
        report.error(where, f"{len(value)} characters > {limit}")
    return len(value)


def _component(where: str, output: Any, report: Report, *, in_carousel: bool) -> None:
    if not isinstance(output, dict) or len(output) != 1:
        report.error(where, "one component per output, e.g. {simpleText: {...}}")
        return
    ((name, body),) = output.items()
    if name not in COMPONENTS:
        report.error(where, f"unknown component {name!r}")
        return
    _body(f"{where}.{name}", name, body, report, in_carousel=in_carousel)


def _body(where: str, name: str, body: Any, report: Report, *, in_carousel: bool) -> None:
    if not isinstance(body, dict):
        report.error(where, "must be an object")
        return
    if name == "simpleText":
        n = _text(f"{where}.text", body.get("text"), report, MAX_SIMPLE_TEXT, required=True)
        if n > FOLD_SIMPLE_TEXT:
            report.warn(f"{where}.text", f"{n} characters: folded behind 전체 보기")
    elif name == "simpleImage":
        _image(f"{where}.imageUrl", body.get("imageUrl"), report, required=True)
        _text(f"{where}.altText", body.get("altText"), report, 1000, required=True)
    elif name == "textCard":
        limit = MAX_TEXTCARD_DESCRIPTION_CAROUSEL if in_carousel else MAX_TEXTCARD_DESCRIPTION
        title = _text(f"{where}.title", body.get("title"), report, MAX_TITLE)
        desc = _text(f"{where}.description", body.get("description"), report, limit)
        if not title and not desc:
            report.error(where, "needs a title or a description")
        if title + desc > MAX_TEXTCARD_DESCRIPTION:
            report.warn(where, "title and description together show at most 400 characters")
        _buttons(where, body, report, vertical_max=3)
    elif name == "basicCard":
        thumb = body.get("thumbnail")
        if not isinstance(thumb, dict):
            report.error(f"{where}.thumbnail", "required")
            thumb = {}
        _image(f"{where}.thumbnail.imageUrl", thumb.get("imageUrl"), report, required=True)
        _text(f"{where}.title", body.get("title"), report, MAX_TITLE)
        _text(f"{where}.description", body.get("description"), report, MAX_BASICCARD_DESCRIPTION)
        _buttons(where, body, report, vertical_max=2 if thumb.get("fixedRatio") else 3)
    elif name == "commerceCard":
        if not isinstance(body.get("price"), int):
            report.error(f"{where}.price", "required whole number")
        thumbs = body.get("thumbnails")
        if not isinstance(thumbs, list) or len(thumbs) != 1:
            report.error(f"{where}.thumbnails", "exactly one thumbnail")
        _text(f"{where}.title", body.get("title"), report, 30)
        _text(f"{where}.description", body.get("description"), report, 40)
        _buttons(where, body, report, vertical_max=3)
    elif name == "listCard":
        _list_card(where, body, report, in_carousel=in_carousel)
    elif name == "itemCard":
        items = body.get("itemList")
        limit = 5 if in_carousel else MAX_ITEMCARD_ITEMS
        if not isinstance(items, list) or not 1 <= len(items) <= limit:
            report.error(f"{where}.itemList", f"need 1 to {limit} rows")
            items = []
        for i, row in enumerate(items):
            if not isinstance(row, dict):
                report.error(f"{where}.itemList[{i}]", "must be an object")
                continue
            t = _text(f"{where}.itemList[{i}].title", row.get("title"), report, 200, required=True)
            d = _text(f"{where}.itemList[{i}].description", row.get("description"), report, 200,
                      required=True)  # fmt: skip
            if t + d > 200:
                report.error(f"{where}.itemList[{i}]", "title + description > 200 characters")
        _buttons(where, body, report, vertical_max=3)
    elif name == "carousel":
        _carousel(where, body, report, in_carousel=in_carousel)


def _carousel(where: str, body: dict[str, Any], report: Report, *, in_carousel: bool) -> None:
    if in_carousel:
        report.error(where, "a carousel cannot hold a carousel")
        return
    kind = body.get("type")
    if kind not in CAROUSEL_TYPES:
        report.error(f"{where}.type", f"must be one of {', '.join(CAROUSEL_TYPES)}")
        return
    items = body.get("items")
    limit = MAX_CAROUSEL_LISTCARDS if kind == "listCard" else MAX_CAROUSEL_ITEMS
    if not isinstance(items, list) or not 1 <= len(items) <= limit:
        report.error(f"{where}.items", f"need 1 to {limit} {kind}s")
        return
    ratios = set()
    for i, item in enumerate(items):
        _body(f"{where}.items[{i}]", kind, item, report, in_carousel=True)
        if isinstance(item, dict) and isinstance(item.get("thumbnail"), dict):
            ratios.add(bool(item["thumbnail"].get("fixedRatio")))
    if len(ratios) > 1:
        report.error(where, "all images of a carousel have one ratio")


def _list_card(where: str, body: dict[str, Any], report: Report, *, in_carousel: bool) -> None:
    header = body.get("header")
    if not isinstance(header, dict):
        report.error(f"{where}.header", "required")
    else:
        _text(f"{where}.header.title", header.get("title"), report, MAX_TITLE, required=True)
    items = body.get("items")
    limit = MAX_LIST_ITEMS_CAROUSEL if in_carousel else MAX_LIST_ITEMS
    if not isinstance(items, list) or not 1 <= len(items) <= limit:
        report.error(f"{where}.items", f"need 1 to {limit} items")
        items = items if isinstance(items, list) else []
    for i, item in enumerate(items):
        w = f"{where}.items[{i}]"
        if not isinstance(item, dict):
            report.error(w, "must be an object")
            continue
        _text(f"{w}.title", item.get("title"), report, MAX_TITLE, required=True)
        _text(f"{w}.description", item.get("description"), report, MAX_TITLE)
        if "imageUrl" in item:
            _image(f"{w}.imageUrl", item.get("imageUrl"), report)
        if "action" in item:
            _action(w, item, report, allowed=("block", "message"))
        elif "link" in item and not isinstance(item["link"], dict):
            report.error(f"{w}.link", "must be an object {web: url}")
    _buttons(where, body, report, vertical_max=MAX_LIST_BUTTONS, horizontal_max=MAX_LIST_BUTTONS)


def _image(where: str, url: Any, report: Report, *, required: bool = False) -> None:
    if url is None:
        if required:
            report.error(where, "required")
        return
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        report.error(where, "must be an image URL")
    elif url.startswith("http://"):
        report.warn(where, "images must be https on devices")


def _buttons(
    where: str,
    body: dict[str, Any],
    report: Report,
    *,
    vertical_max: int,
    horizontal_max: int = 2,
) -> None:
    buttons = body.get("buttons", [])
    if buttons is None:
        return
    if not isinstance(buttons, list):
        report.error(f"{where}.buttons", "must be a list")
        return
    layout = body.get("buttonLayout", "vertical")
    if layout not in ("vertical", "horizontal"):
        report.error(f"{where}.buttonLayout", "vertical or horizontal")
        layout = "vertical"
    limit = vertical_max if layout == "vertical" else min(horizontal_max, vertical_max)
    if len(buttons) > limit:
        report.error(f"{where}.buttons", f"{len(buttons)} buttons > {limit} ({layout})")
    side_by_side = layout == "horizontal" and len(buttons) == 2
    label_max = MAX_LABEL_SIDE_BY_SIDE if side_by_side else MAX_LABEL
    for i, button in enumerate(buttons):
        w = f"{where}.buttons[{i}]"
        if not isinstance(button, dict):
            report.error(w, "must be an object")
            continue
        _text(f"{w}.label", button.get("label"), report, label_max, required=True)
        _action(w, button, report, allowed=BUTTON_ACTIONS)


def _quick_reply(where: str, qr: Any, report: Report) -> None:
    if not isinstance(qr, dict):
        report.error(where, "must be an object")
        return
    _text(f"{where}.label", qr.get("label"), report, MAX_LABEL, required=True)
    _action(where, qr, report, allowed=QUICK_REPLY_ACTIONS)


def _action(where: str, control: dict[str, Any], report: Report, *, allowed: tuple) -> None:
    action = control.get("action")
    if action not in allowed:
        report.error(f"{where}.action", f"{action!r} is not one of {', '.join(allowed)}")
        return
    if action == "block" and not _nonempty(control.get("blockId")):
        report.error(f"{where}.blockId", "required for a block action")
    if action == "message" and not _nonempty(control.get("messageText")):
        report.error(f"{where}.messageText", "required for a message action")
    if action == "webLink":
        url = control.get("webLinkUrl")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            report.error(f"{where}.webLinkUrl", "required http(s) URL")
    if action == "phone" and not _nonempty(control.get("phoneNumber")):
        report.error(f"{where}.phoneNumber", "required for a phone action")
    if "messageText" in control and not isinstance(control["messageText"], str):
        report.error(f"{where}.messageText", "must be a string")
    extra = control.get("extra")
    if extra is not None:
        if not isinstance(extra, dict):
            report.error(f"{where}.extra", "must be an object")
        elif len(json.dumps(extra, ensure_ascii=False).encode()) > MAX_EXTRA_BYTES:
            report.error(f"{where}.extra", f"over {MAX_EXTRA_BYTES} bytes")


def _nonempty(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())
