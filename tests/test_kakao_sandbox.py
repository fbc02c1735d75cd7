"""The fake Open Builder and Event API are strict: they refuse what Kakao refuses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.kakao import KAKAO_ERROR_TEXT, OpenBuilder, SkillError
from sandbox.kakao_event_api import EventApi, serve_kakao
from sandbox.kakao_limits import validate_response
from sandbox.server import start_uvicorn, stop_uvicorn

KEY = "kakao-rest-key-TeSt-7f3a"


def text(t: str, **extra: Any) -> dict[str, Any]:
    return {"version": "2.0", "template": {"outputs": [{"simpleText": {"text": t}}], **extra}}


class EchoSkill:
    """A scripted skill: records payloads; answers with ``next`` (or an echo)."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.next: list[Any] = []
        self.delay = 0.0
        self.finished = asyncio.Event()

    async def endpoint(self, request: Request) -> Response:
        payload = await request.json()
        self.payloads.append(payload)
        if self.delay:
            await asyncio.sleep(self.delay)
        self.finished.set()
        answer = self.next.pop(0) if self.next else text(payload["userRequest"]["utterance"])
        if isinstance(answer, Response):
            return answer
        return JSONResponse(answer)


@pytest.fixture
async def skill() -> AsyncIterator[tuple[EchoSkill, OpenBuilder]]:
    echo = EchoSkill()
    server, port, task = await start_uvicorn(
        Starlette(routes=[Route("/skill", echo.endpoint, methods=["POST"])])
    )
    ob = OpenBuilder(skill_url=f"http://127.0.0.1:{port}/skill")
    try:
        yield echo, ob
    finally:
        await ob.aclose()
        await stop_uvicorn(server, task)


async def test_payload_shape_and_taps(skill) -> None:
    echo, ob = skill
    u = ob.user("민수")
    router = ob.console.router.id
    menu = {
        "version": "2.0",
        "template": {
            "outputs": [
                {"textCard": {"title": "주문 확인", "description": "1,000개 · 12,500원",
                              "buttons": [
                                  {"label": "확인", "action": "block", "blockId": router,
                                   "messageText": "확인", "extra": {"d": "o:ok:abc"}},
                                  {"label": "도움말", "action": "message", "messageText": "도움"},
                              ]}},
            ],
            "quickReplies": [{"label": "메뉴", "action": "block", "blockId": router,
                              "extra": {"d": "menu"}}],
        },
    }  # fmt: skip
    echo.next.append(menu)
    turn = await u.enter()
    first = echo.payloads[-1]
    assert first["userRequest"]["block"]["id"] == ob.console.welcome.id
    assert first["userRequest"]["user"]["id"] == u.key and len(u.key) == 66
    assert first["userRequest"]["user"]["properties"]["isFriend"] is True
    assert first["bot"]["id"] == ob.console.bot_id
    assert first["action"]["clientExtra"] == {}
    assert turn.labels == ["확인", "도움말", "메뉴"]

    await u.say("안녕")
    typed = echo.payloads[-1]
    assert typed["userRequest"]["block"]["id"] == ob.console.fallback.id
    assert typed["flow"]["trigger"]["type"] == "TEXT_INPUT"
    # The quick reply belonged to the previous answer: KakaoTalk no longer shows it.
    assert not u.has("메뉴")
    # Card buttons stay tappable forever.
    await u.tap("확인")
    tapped = echo.payloads[-1]
    assert tapped["action"]["clientExtra"] == {"d": "o:ok:abc"}
    assert tapped["userRequest"]["utterance"] == "확인"
    assert tapped["userRequest"]["block"]["id"] == router
    assert tapped["flow"]["trigger"]["type"] == "CARD_BUTTON_BLOCK"
    await u.tap("도움말")  # a message button is typed text: fallback, nothing extra
    assert echo.payloads[-1]["userRequest"]["utterance"] == "도움"
    assert echo.payloads[-1]["userRequest"]["block"]["id"] == ob.console.fallback.id
    assert echo.payloads[-1]["action"]["clientExtra"] == {}

    ob.typed_extra = "null"
    await u.say("x")
    assert echo.payloads[-1]["action"]["clientExtra"] is None
    ob.typed_extra = "missing"
    await u.say("y")
    assert "clientExtra" not in echo.payloads[-1]["action"]
    stranger = ob.user("방문자", is_friend=False)
    await stranger.say("hi")
    assert "isFriend" not in echo.payloads[-1]["userRequest"]["user"]["properties"]


# fmt: off
BAD_ANSWERS = [
    {"template": {"outputs": [{"simpleText": {"text": "v1?"}}]}},  # no version
    {"version": "2.0", "template": {"outputs": []}},
    text("x" * 1001),
    {"version": "2.0", "template": {"outputs": [{"simpleText": {"text": "a"}}] * 4}},
    text("a", quickReplies=[{"label": "q", "action": "message", "messageText": "q"}] * 11),
    text("a", quickReplies=[{"label": "열다섯글자가넘는아주긴라벨입니다", "action": "message",
                             "messageText": "x"}]),
    text("a", quickReplies=[{"label": "q", "action": "webLink", "webLinkUrl": "https://x"}]),
    text("a", quickReplies=[{"label": "q", "action": "block"}]),  # no blockId
    {"version": "2.0", "template": {"outputs": [{"textCard": {"title": "t", "buttons": [
        {"label": "일이삼사오육칠팔구", "action": "message", "messageText": "a"},
        {"label": "b", "action": "message", "messageText": "b"}],
        "buttonLayout": "horizontal"}}]}},  # 9 chars side by side > 8
    {"version": "2.0", "template": {"outputs": [{"listCard": {
        "header": {"title": "h"},
        "items": [{"title": f"i{n}"} for n in range(6)]}}]}},
    {"version": "2.0", "template": {"outputs": [{"listCard": {
        "header": {"title": "h"}, "items": [{"title": "i"}],
        "buttons": [{"label": str(n), "action": "message", "messageText": "m"}
                    for n in range(3)]}}]}},
    {"version": "2.0", "template": {"outputs": [{"textCard": {
        "description": "d" * 401}}]}},
    {"version": "2.0", "template": {"outputs": [{"carousel": {"type": "textCard",
        "items": [{"description": "d" * 129}]}}]}},
    {"version": "2.0", "template": {"outputs": [{"basicCard": {"title": "no thumbnail"}}]}},
    {"version": "2.0", "template": {"outputs": [{"fancyCard": {}}]}},
]
# fmt: on


@pytest.mark.parametrize("bad", BAD_ANSWERS)
def test_validator_refuses(bad: dict[str, Any]) -> None:
    assert not validate_response(bad).ok


def test_validator_accepts_the_documented_confirmation_card() -> None:
    card = {"version": "2.0", "template": {
        "outputs": [{"textCard": {
            "title": "주문 확인",
            "description": "인스타 팔로워 (HQ)\n수량 1,000 · 12,500원",
            "buttons": [
                {"label": "확인", "action": "block", "blockId": "b1", "messageText": "확인",
                 "extra": {"op": "confirm", "t": "x9Fq"}},
                {"label": "취소", "action": "block", "blockId": "b1", "messageText": "취소"}]}}],
        "quickReplies": [{"label": "📦 주문 상태", "action": "block", "blockId": "b1",
                          "messageText": "주문 상태", "extra": {"op": "orders"}}]}}  # fmt: skip
    report = validate_response(card)
    assert report.ok and not report.warnings


async def test_invalid_or_late_answers_are_refused(skill) -> None:
    echo, ob = skill
    u = ob.user("지수")
    echo.next.append({"template": {"outputs": [{"simpleText": {"text": "v1"}}]}})
    with pytest.raises(SkillError, match="version"):
        await u.say("a")
    assert u.transcript[-1].who == "error" and u.transcript[-1].text == KAKAO_ERROR_TEXT
    echo.next.append(Response("oops", status_code=500))
    turn = await u.say("b", expect_error=True)
    assert not turn.ok and "500" in (turn.error or "")
    # Late: the customer sees the error at the deadline; the server still finishes.
    echo.delay = 0.3
    echo.finished.clear()
    turn = await u.say("c", deadline=0.05, expect_error=True)
    assert turn.late and not turn.ok
    await echo.finished.wait()
    await ob.aclose()  # waits for the late answer
    assert [t.utterance for t in ob.late_answers] == ["c"]
    assert ob.late_answers[0].response is not None
    assert len(ob.violations) == 3


async def test_tapping_an_unknown_block_fails_the_test(skill) -> None:
    echo, ob = skill
    u = ob.user("하나")
    stray = {"label": "다음", "action": "block", "blockId": "not-in-console", "extra": {}}
    echo.next.append(text("a", quickReplies=[stray]))
    await u.say("x")
    with pytest.raises(AssertionError, match="unknown to the console"):
        await u.tap("다음")


async def test_event_api() -> None:
    ob = OpenBuilder()
    api = EventApi(ob, KEY)
    server = await serve_kakao(api)
    friend, stranger = ob.user("친구"), ob.user("남", is_friend=False)
    bot = ob.console.bot_id
    body = {"event": {"name": "shop_news", "data": {"text": "주문 #7 완료"}},
            "user": [{"type": "botUserKey", "id": friend.key},
                     {"type": "botUserKey", "id": stranger.key},
                     {"type": "botUserKey", "id": "f" * 66}]}  # fmt: skip
    auth = {"Authorization": f"KakaoAK {KEY}"}
    try:
        async with httpx.AsyncClient(base_url=server.url) as c:
            r = await c.post(f"/v2/bots/{bot}/talk", json=body)
            assert r.status_code == 401
            r = await c.post(f"/v2/bots/{bot}/talk", json=body, headers=auth)
            assert r.status_code == 200 and r.json()["status"] == "SUCCESS"
            result = (await c.get(f"/v1/tasks/{r.json()['taskId']}", headers=auth)).json()
            assert result["allRequestCount"] == 3 and result["successCount"] == 1
            assert {f["userID"] for f in result["fail"]["list"]} == {stranger.key, "f" * 66}
            assert friend.events() == ["주문 #7 완료"] and stranger.events() == []
            assert api.cost == 15
            many = {**body, "user": [{"type": "botUserKey", "id": str(n)} for n in range(101)]}
            dup = {**body, "user": [body["user"][0]] * 2}
            other = {**body, "event": {"name": "no_such_block"}}
            for refused in (many, dup, other):
                r = await c.post(f"/v2/bots/{bot}/talk", json=refused, headers=auth)
                assert r.status_code == 400 and r.json()["status"] == "FAIL"
            api.server_errors = 1
            r = await c.post(f"/v2/bots/{bot}/talk", json=body, headers=auth)
            assert r.status_code == 500 and r.json()["status"] == "ERROR"
            api.fail_users.add(friend.key)
            r = await c.post(f"/v2/bots/{bot}/talk", json=body, headers=auth)
            result = (await c.get(f"/v1/tasks/{r.json()['taskId']}", headers=auth)).json()
            assert result["successCount"] == 0 and result["status"] == "FAIL"
    finally:
        await server.stop()
        await ob.aclose()
