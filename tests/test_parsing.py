"""Table tests for what customers type: quantities, amounts, links, usernames, comments."""

from __future__ import annotations

import pytest

from shop.parsing import (
    InputError,
    parse_amount,
    parse_comments,
    parse_depositor,
    parse_int,
    parse_link,
    parse_range,
    parse_username,
)


def error_of(fn, *args, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        fn(*args, **kwargs)
    return info.value


@pytest.mark.parametrize(
    "text", ["1000", "1,000", "1 000", "1000개", "１，０００", " 1000 ", "１０００"]
)
def test_quantity_accepts_the_ways_people_write_a_thousand(text: str):
    assert parse_int(text, lo=10, hi=100_000) == 1000


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("0", "input.not_positive"),
        ("-5", "input.not_positive"),
        ("1.5", "input.not_whole"),
        ("abc", "input.not_a_number"),
        ("", "input.empty"),
        ("   ", "input.empty"),
        ("12abc", "input.not_a_number"),
    ],
)
def test_quantity_rejections_have_a_reason(text: str, code: str):
    assert error_of(parse_int, text, lo=10, hi=100_000).code == code


@pytest.mark.parametrize("text", ["5", "100001", "1" * 20])
def test_quantity_out_of_range_names_the_bounds(text: str):
    err = error_of(parse_int, text, lo=10, hi=100_000)
    assert err.code == "input.out_of_range"
    assert err.params == {"min": 10, "max": 100_000}


@pytest.mark.parametrize(
    ("text", "value"),
    [("2만", 20_000), ("2만개", 20_000), ("1.5만", 15_000), ("2만 5천", 25_000),
     ("5천", 5_000), ("3천명", 3_000), ("2만 500", 20_500), ("２만", 20_000)],
)  # fmt: skip
def test_quantity_in_korean_units(text: str, value: int):
    assert parse_int(text, lo=10, hi=100_000) == value


@pytest.mark.parametrize(
    ("text", "code"),
    [("0만", "input.not_positive"), ("1.23456만", "input.not_whole"),
     ("20만", "input.out_of_range"), ("만", "input.not_a_number"), ("2만만", "input.not_a_number")],
)  # fmt: skip
def test_korean_unit_rejections(text: str, code: str):
    assert error_of(parse_int, text, lo=10, hi=100_000).code == code


@pytest.mark.parametrize(
    "text",
    ["100-200", "100~200", "100 ~ 200", "100 200", "100개~200개", "100부터 200까지",
     "１００～２００", "100 - 200개"],
)  # fmt: skip
def test_a_range_typed_at_once(text: str):
    assert parse_range(text, lo=50, hi=5000) == (100, 200)


@pytest.mark.parametrize("text", ["100", "1 000", "1 500", "-5", "1e3-2e3", "100-200-300", "abc"])
def test_not_a_range(text: str):
    assert parse_range(text, lo=50, hi=5000) is None


def test_range_rejections_name_the_reason():
    assert error_of(parse_range, "200~100", lo=50, hi=5000).code == "sub.max_below_min"
    err = error_of(parse_range, "10~100", lo=50, hi=5000)
    assert (err.code, err.params) == ("input.out_of_range", {"min": 50, "max": 5000})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("20000", 20000),
        ("2만원", 20000),
        ("2만 5000원", 25000),
        ("20,000원", 20000),
        ("1.5만", 15000),
        ("３만원", 30000),
    ],
)
def test_amounts_in_won(text: str, value: int):
    assert parse_amount(text, lo=5000, hi=2_000_000) == value


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1.23456만", "input.not_whole"),
        ("abc", "input.not_a_number"),
        ("1000원", "input.out_of_range"),
        ("300만원", "input.out_of_range"),
    ],
)
def test_amount_rejections(text: str, code: str):
    assert error_of(parse_amount, text, lo=5000, hi=2_000_000).code == code


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        (
            "https://WWW.Instagram.com/p/abc/?utm_source=x&igshid=1&a=2",
            "https://instagram.com/p/abc?a=2",
        ),
        ("instagram.com/x", "https://instagram.com/x"),
        ("https://instagram.com/x/", "https://instagram.com/x"),
        ("http://x.com:8080/a/", "http://x.com:8080/a"),
        ("https://youtu.be/abc?si=tracking", "https://youtu.be/abc"),
    ],
)
def test_links_are_normalized_so_equal_jobs_compare_equal(text: str, normalized: str):
    assert parse_link(text) == normalized


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("javascript:alert(1)", "link.scheme"),
        ("data:text/html,hi", "link.scheme"),
        ("ftp://x.com/a", "link.scheme"),
        ("https:///a", "link.invalid"),
        ("https://a.com/a b", "link.invalid"),
        ("https://user:pw@a.com/", "link.invalid"),
        ("https://a.com/" + "a" * 2100, "link.too_long"),
        ("", "link.empty"),
    ],
)
def test_bad_links_are_refused(text: str, code: str):
    assert error_of(parse_link, text).code == code


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("@Name_1", "name_1"),
        ("some.user", "some.user"),
        ("https://www.instagram.com/some.user/", "some.user"),
        ("instagram.com/abc?igshid=x", "abc"),
    ],
)
def test_usernames(text: str, name: str):
    assert parse_username(text) == name


@pytest.mark.parametrize(
    "text", ["bad name!", "@", "https://example.com/x", "한글이름", "a" * 31, "..."]
)
def test_invalid_usernames(text: str):
    assert error_of(parse_username, text).code == "username.invalid"


def test_comments_one_per_nonempty_line_within_bounds():
    assert parse_comments("좋아요\n\n  멋져요  \n최고", lo=2, hi=3) == ("좋아요", "멋져요", "최고")
    err = error_of(parse_comments, "하나", lo=2, hi=3)
    assert err.code == "comments.count" and err.params == {"min": 2, "max": 3, "count": 1}
    assert error_of(parse_comments, "a\nb\nc\nd", lo=2, hi=3).params["count"] == 4
    assert error_of(parse_comments, "x" * 600 + "\ny", lo=1, hi=3).code == "comments.too_long"
    assert error_of(parse_comments, " \n ", lo=1, hi=3).code == "comments.empty"


@pytest.mark.parametrize(("text", "name"), [("  홍  길동 ", "홍 길동"), ("KIM MINSU", "KIM MINSU")])
def test_depositor_names(text: str, name: str):
    assert parse_depositor(text) == name


@pytest.mark.parametrize("text", ["a\x00b", "!!!", "x" * 31, "", "홍길동\u200b"])
def test_bad_depositor_names(text: str):
    assert error_of(parse_depositor, text).code in {"depositor.invalid", "depositor.empty"}
