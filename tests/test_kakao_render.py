"""chat/ screens → SkillResponses that the fake Open Builder's validator accepts."""

from __future__ import annotations

from chat.menu import main_menu
from chat.screens import Choice, Screen
from kakao.render import KAKAO, render, render_rest
from sandbox.kakao import controls_of, texts_of
from sandbox.kakao_limits import validate_response

ROUTER = "router-block"
MENU = [c for row in main_menu("ko", KAKAO) for c in row]


def valid(response: dict) -> dict:
    report = validate_response(response)
    assert report.ok, report.errors
    return response


def test_confirmation_card_is_a_text_card_with_lasting_buttons() -> None:
    card = Screen(
        "<b>주문 확인</b>\n인스타 팔로워 &amp; 좋아요\n수량 1,000 · 12,500원",
        ((Choice("✅ 확인", "o:ok:tok123"), Choice("취소", "o:x")), (Choice("⬅ 뒤로", "o:back"),)),
        kind="order.card",
    )
    page = render([card], "ko", ROUTER, MENU)
    out = valid(page.response)["template"]["outputs"]
    assert out == [{"textCard": {
        "description": "인스타 팔로워 & 좋아요\n수량 1,000 · 12,500원", "title": "주문 확인",
        "buttons": [
            {"label": "✅ 확인", "action": "block", "blockId": ROUTER, "messageText": "✅ 확인",
             "extra": {"d": "o:ok:tok123"}},
            {"label": "취소", "action": "block", "blockId": ROUTER, "messageText": "취소",
             "extra": {"d": "o:x"}},
            {"label": "⬅ 뒤로", "action": "block", "blockId": ROUTER, "messageText": "⬅ 뒤로",
             "extra": {"d": "o:back"}}]}}]  # fmt: skip
    quick = page.response["template"]["quickReplies"]
    assert [q["label"] for q in quick] == [c.label for c in MENU]


def test_long_labels_become_list_items_and_short_ones_quick_replies() -> None:
    services = [(Choice(f"{n}. 인스타 한국인 팔로워 | 실제 {n}", f"c:s:{n}"),) for n in range(5)]
    paging = (Choice("◀ 이전", "c:p:0"), Choice("다음 ▶", "c:p:2"))
    screen = Screen("<b>팔로워</b> (1/3)\n" + "서비스 설명 줄\n" * 5, (*services, paging))
    page = render([screen], "ko", ROUTER, MENU)
    out = valid(page.response)["template"]["outputs"]
    assert [next(iter(o)) for o in out] == ["simpleText", "listCard"]
    cards, quick = controls_of(page.response)
    assert [c.extra for c in cards] == [{"d": f"c:s:{n}"} for n in range(5)]
    assert [q.label for q in quick] == ["◀ 이전", "다음 ▶", "🏠 처음으로"]


def test_many_items_go_to_a_carousel_of_list_cards() -> None:
    rows = tuple((Choice(f"카테고리 이름이 꽤 긴 항목 {n}", f"c:c:{n}"),) for n in range(12))
    page = render([Screen("카테고리를 고르세요", rows)], "ko", ROUTER, MENU)
    out = valid(page.response)["template"]["outputs"]
    assert len(out) == 1 and out[0]["carousel"]["type"] == "listCard"
    assert len(controls_of(page.response)[0]) == 12


def test_long_text_is_split_and_the_rest_kept_for_more() -> None:
    paragraphs = [Screen("가" * 900), Screen("나" * 900), Screen("다" * 900), Screen("라" * 10)]
    page = render(paragraphs, "ko", ROUTER, MENU)
    valid(page.response)
    assert [q["label"] for q in page.response["template"]["quickReplies"]] == [
        "더 보기", "🏠 처음으로"]  # fmt: skip
    assert page.rest is not None
    rest = render_rest(page.rest, "ko", ROUTER)
    assert texts_of(valid(rest.response)) == ["라" * 10]
    assert rest.rest is None
    one = render([Screen("x" * 2500)], "ko", ROUTER, MENU)
    assert [len(t) for t in texts_of(valid(one.response))] == [1000, 1000, 500]


def test_message_mode_without_a_router_block_maps_labels_back() -> None:
    screen = Screen("링크를 보내 주세요", ((Choice("뒤로", "o:back"), Choice("취소", "o:x")),))
    page = render([screen], "ko", None, MENU)
    valid(page.response)
    cards, quick = controls_of(page.response)
    assert {c.action for c in cards + quick} == {"message"}
    assert page.labels["취소"] == {"d": "o:x"}
    assert page.labels["🛒 주문하기"] == {"d": "m:order"}


def test_html_becomes_plain_text_and_links_become_web_buttons() -> None:
    screen = Screen('결제: <a href="https://pay.example/x">여기</a> &lt;b&gt;',
                    ((Choice("💳 카드 결제", url="https://pay.example/x"),),))  # fmt: skip
    page = render([screen], "ko", ROUTER, MENU)
    (card,) = valid(page.response)["template"]["outputs"]
    assert card["textCard"]["description"] == "결제: 여기 <b>"
    assert card["textCard"]["buttons"][0]["webLinkUrl"] == "https://pay.example/x"


def test_paging_after_a_list_stays_a_chip_and_a_clashing_menu_collapses() -> None:
    rows = (*((Choice(f"{n}. 인스타그램 카테고리 이름 {n}", f"c:C:{n}"),) for n in range(5)),
            (Choice("다음 ▶", "c:P:1"),), (Choice("✖ 취소", "o:x"),))  # fmt: skip
    page = render([Screen("카테고리를 선택해 주세요.", rows)], "ko", ROUTER, MENU)
    cards, quick = controls_of(valid(page.response))
    assert len(cards) == 5 and [q.label for q in quick][:2] == ["다음 ▶", "✖ 취소"]
    card = Screen("<b>#1 인스타 팔로워</b>\n1000개당 20,580원",
                  ((Choice("🛒 주문하기", "o:buy:1"),),), menu=True)  # fmt: skip
    page = render([card], "ko", ROUTER, MENU)
    labels = [c.label for c in controls_of(valid(page.response))[0] + controls_of(page.response)[1]]
    assert labels == ["🛒 주문하기", "🏠 처음으로"]  # not a second, different 🛒 주문하기
