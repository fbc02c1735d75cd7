"""The KakaoTalk front end to end: the fake Open Builder posts real SkillPayloads to the
shop's skill route over HTTP; every answer must pass Kakao's limits (the fake refuses
anything else and the test fails)."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from kakao.event_api import EventApiClient
from kakao.news import IN_FLIGHT_SECONDS, KakaoNews
from sandbox.kakao import skill_payload
from shop import notices
from tests.kakaoenv import EVENT, REST_KEY, KakaoEnv, running_kakao


@pytest.fixture
async def kenv(tmp_path):
    async with running_kakao(tmp_path) as env:
        yield env


async def test_welcome_home_words_and_garbage(kenv: KakaoEnv) -> None:
    u = kenv.user()
    home = await u.enter()
    assert "환영합니다" in home.text and "0원" in home.text
    assert [q.label for q in home.quick_replies][:2] == ["🛒 주문하기", "💳 잔액충전"]
    account = await u.tap("👤 내 정보")
    assert "잔액" in account.text
    garbage = await u.say("ㅎㅇ asdf")
    assert "무엇을 도와드릴까요" in garbage.text
    assert garbage.quick_replies  # re-prompted with the menu to tap
    for word in ("메뉴", "처음으로", "시작"):
        assert "환영합니다" in (await u.say(word)).text
    kenv.ob.typed_extra = "null"  # some payloads carry clientExtra: null
    assert "환영합니다" in (await u.say("처음으로")).text
    assert not kenv.ob.violations and not kenv.ob.warnings


async def test_long_pages_are_cut_with_a_more_chip(kenv: KakaoEnv) -> None:
    u = kenv.user()
    await u.enter()
    faq = await u.tap("❓ 자주 묻는 질문")
    seen = faq.text
    while kenv.ob.users[u.key].has("더 보기"):
        seen += (await u.tap("더 보기")).text
    assert "48시간" in seen and "자동좋아요" in seen


async def test_refusals_are_clean(kenv: KakaoEnv) -> None:
    ob = kenv.ob
    u = kenv.user()
    good = skill_payload(ob.console, u, block=ob.console.fallback, utterance="메뉴",
                         client_extra=None, trigger="TEXT_INPUT")  # fmt: skip
    other = json.loads(json.dumps(good))
    other["bot"]["id"] = "someone-elses-bot"
    r = await ob.post_raw(other)
    assert r.status_code == 403 and r.json() == {"error": "this skill serves another bot"}
    for bad in (b"not json", b"[]", b'{"userRequest": {}}', json.dumps(
            {**good, "action": {"clientExtra": "o:ok:x"}}).encode()):  # fmt: skip
        r = await ob.post_raw(None, content=bad)
        assert r.status_code == 400 and "error" in r.json()
    r = await ob.post_raw(None, content=b"{" + b" " * 70_000 + b"}")
    assert r.status_code == 413
    assert (await ob.post_raw(good)).status_code == 200
    # A refused payload created no customer.
    rows = await kenv.shop.ctx.db.fetch_all("SELECT COUNT(*) FROM users WHERE front = 'kakao'")
    assert rows[0][0] == 1


async def test_news_waits_for_the_next_message_without_event_api(kenv: KakaoEnv) -> None:
    u = kenv.user()
    await u.enter()
    user = await kenv.customer(u)
    topup = await kenv.shop.topups.request_bank(user.id, 20_000, "홍길동")
    await kenv.shop.topups.approve(topup.id, 9001)  # a Telegram admin approves it
    assert await kenv.front.drain() == 0  # no Event API: nothing is pushed
    turn = await u.say("메뉴")
    assert turn.texts[0].startswith("📬")
    assert "20,000원 충전이 완료됐어요" in turn.texts[0] and "환영합니다" in turn.text
    assert "📬" not in (await u.say("메뉴")).text  # shown once


async def test_a_slow_turn_answers_in_time_and_shows_its_result_next(kenv: KakaoEnv) -> None:
    kenv.front.settings = dataclasses.replace(kenv.front.settings, budget=0.3)
    u = kenv.user()
    await u.enter()
    async with kenv.front._lock(u.key):  # something holds this customer's turns up
        slow = await u.tap("👤 내 정보")
        assert "접수했어요" in slow.text and slow.elapsed < 1.0
        # A flood from one customer is not queued without end: the third waiting is refused.
        flood = await asyncio.gather(u.say("ㅋ"), u.say("ㅋㅋ"))
        assert sorted("처리하고 있어요" in t.text for t in flood) == [False, True]
    await kenv.front.idle()
    later = await u.say("메뉴")
    seen = later.text
    while u.has("더 보기"):
        seen += (await u.tap("더 보기")).text
    assert "앞선 요청의 결과" in seen and "잔액" in seen and "환영합니다" in seen


async def test_news_by_event_api(tmp_path) -> None:
    async with running_kakao(tmp_path, event_api=True) as kenv:
        friend, stranger = kenv.user("친구"), kenv.user("비친구", is_friend=False)
        for u in (friend, stranger):
            await u.enter()
        now = kenv.shop.ctx.now_iso()
        async with kenv.shop.ctx.db.transaction() as conn:
            for u in (friend, stranger):
                user = await kenv.customer(u)
                row = (await conn.execute_fetchall("SELECT * FROM users WHERE id = ?",
                                                   (user.id,)))[0]  # fmt: skip
                await notices.to_user(conn, user_row=row, key=f"bc:{u.name}", event="broadcast",
                                      payload={"text": "오늘 &lt;특가&gt;"}, now=now)  # fmt: skip
        assert await kenv.front.drain() == 2  # one call: the same text for both
        assert len(kenv.api.calls) == 1 and kenv.api.calls[0].status == 200
        assert friend.events() == ["📣 공지\n\n오늘 <특가>"] and stranger.events() == []
        await kenv.front.drain()  # reads the task: the friend's row is delivered
        assert "공지" not in (await friend.say("메뉴")).text
        # The stranger's push failed: it waits, and is shown at their next message.
        assert "오늘 <특가>" in (await stranger.say("메뉴")).text
        assert kenv.api.cost == 15


async def test_a_restart_checks_the_pushed_task_instead_of_pushing_again(tmp_path) -> None:
    """A push is paid (15 원) and shown: a shop restarted while Kakao's task is still being
    checked reads that task's result instead of pushing the same news a second time."""
    async with running_kakao(tmp_path, event_api=True) as kenv:
        friend = kenv.user("친구")
        await friend.enter()
        user = await kenv.customer(friend)
        now = kenv.shop.ctx.now_iso()
        async with kenv.shop.ctx.db.transaction() as conn:
            row = (await conn.execute_fetchall("SELECT * FROM users WHERE id = ?", (user.id,)))[0]
            await notices.to_user(conn, user_row=row, key="bc:restart", event="broadcast",
                                  payload={"text": "재시작 공지"}, now=now)  # fmt: skip
        # The outbox job and a kick after a poll can drain at the same moment: one push.
        pushed = await asyncio.gather(kenv.front.drain(), kenv.front.drain())
        assert sorted(pushed) == [0, 1] and len(kenv.api.calls) == 1
        # The process dies here: a new deliverer knows only the database.
        cfg = kenv.env.config.kakao
        assert cfg.event_api_url is not None
        restarted = KakaoNews(kenv.shop, EventApiClient(
            cfg.event_api_url, REST_KEY, kenv.ob.console.bot_id, EVENT))  # fmt: skip
        try:
            kenv.env.clock.advance(seconds=IN_FLIGHT_SECONDS + 1)  # the rows are due again
            assert await restarted.drain() == 0
            assert len(kenv.api.calls) == 1  # no second push: the task's result was read
            assert [t.polls for t in kenv.api.tasks.values()] == [1]
            assert friend.events() == ["📣 공지\n\n재시작 공지"] and kenv.api.cost == 15
            sent = await kenv.shop.ctx.db.fetch_one(
                "SELECT status, push_task FROM outbox WHERE dedupe_key = 'bc:restart'"
            )
            assert sent["status"] == "sent" and sent["push_task"] is None
            # The day's count survives the restart too: with a cap of one message a day,
            # the next customer's news waits for their next message.
            restarted.daily_cap = 1
            other = kenv.user("친구2")
            await other.enter()
            user2 = await kenv.customer(other)
            async with kenv.shop.ctx.db.transaction() as conn:
                row = (await conn.execute_fetchall("SELECT * FROM users WHERE id = ?",
                                                   (user2.id,)))[0]  # fmt: skip
                await notices.to_user(conn, user_row=row, key="bc:capped", event="broadcast",
                                      payload={"text": "둘째 공지"}, now=now)  # fmt: skip
            assert await restarted.drain() == 0 and len(kenv.api.calls) == 1
            assert "둘째 공지" in (await other.say("메뉴")).text
        finally:
            await restarted.aclose()


async def test_without_a_router_block_buttons_are_typed_labels(tmp_path) -> None:
    async with running_kakao(tmp_path, router=False) as kenv:
        u = kenv.user()
        home = await u.enter()
        assert {c.action for c in home.quick_replies} == {"message"}
        account = await u.tap("👤 내 정보")  # sent as the text "👤 내 정보" to the fallback
        assert "잔액" in account.text
        assert "환영합니다" in (await u.tap("🏠 처음으로")).text
