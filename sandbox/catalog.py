"""Catalogs for the panel simulator: the small demo one and a large one shaped like real panels'.

A real reseller panel lists thousands of services in a few hundred categories across
twenty-odd platforms, with names full of emoji, flags, brackets and HTML-looking text, and
descriptions of several thousand characters of loose HTML. ``large_catalog`` builds such a
catalog from a seed, so every run (tests, benchmarks, ``python -m bot simulator --catalog
large``) sees the same services:

- ≥ 3,000 services in ≥ 150 categories across ≥ 20 platforms, every API v2 service type
  (provider-api.md §5), ids with gaps like a panel that deleted services over the years;
- category names a platform can be read from ("Instagram Followers [Korea]",
  "YouTube Views | Non Drop", "인스타그램 한국인 팔로워"), plus a few that name none
  ("🔥 Best Sellers");
- names up to 200 characters (emoji, ZWJ sequences, flags, brackets, "<b>Views</b> & more",
  Cyrillic, Arabic), descriptions up to 6,000 characters with ``<br>``, ``<b>``,
  ``&nbsp;``, unclosed tags and CR/LF line breaks (or none at all, as on Perfect Panel);
- edge values: min = max, max = 10,000,000, rates with 8 decimals, rate 0.0001.

The generated list is cached per (seed, size); every call returns fresh ``SimService``
objects, so a test may change one without touching another test's catalog.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from sandbox.panel import SimService, default_services

CATALOGS = ("small", "large")
DEFAULT_SEED = 20240611
LARGE_SIZE = 3600
MAX_NAME = 200
MAX_DESC = 6000


def catalog_services(name: str, *, seed: int = DEFAULT_SEED) -> list[SimService]:
    """The services of a named catalog ("small": the demo's dozen, "large": see above)."""
    if name == "small":
        return default_services()
    if name == "large":
        return large_catalog(seed=seed).services
    raise ValueError(f"unknown catalog {name!r}; known: {', '.join(CATALOGS)}")


@dataclass(frozen=True)
class GeneratedCatalog:
    services: list[SimService]
    platform_of: dict[str, str | None]  # category → platform key it was made for (or None)

    def stats(self) -> dict[str, int]:
        cats = {s.category for s in self.services}
        return {
            "services": len(self.services),
            "categories": len(cats),
            "platforms": len({self.platform_of[c] for c in cats} - {None}),
            "types": len({s.type for s in self.services}),
            "longest_name": max(len(s.name) for s in self.services),
            "longest_desc": max(len(s.desc or "") for s in self.services),
        }


def large_catalog(*, seed: int = DEFAULT_SEED, size: int = LARGE_SIZE) -> GeneratedCatalog:
    services, platform_of = _generate(seed, size)
    return GeneratedCatalog([dataclasses.replace(s) for s in services], dict(platform_of))


# --- what a panel sells -------------------------------------------------------------------

# Every API v2 type name as Perfect Panel spells it (provider-api.md §5).
ALL_TYPES = (
    "Default",
    "Package",
    "Custom Comments",
    "Custom Comments Package",
    "Mentions",
    "Mentions with Hashtags",
    "Mentions Custom List",
    "Mentions Hashtag",
    "Mentions User Followers",
    "Mentions Media Likers",
    "Comment Likes",
    "Poll",
    "Invites from Groups",
    "Subscriptions",
    "Web Traffic",
    "Comment Replies",
    "SEO",
)


@dataclass(frozen=True)
class Kind:
    en: str
    ko: str
    types: tuple[tuple[str, int], ...]  # (type, weight)
    rate: tuple[float, float]  # USD per 1000 (flat per order for packages)
    mins: tuple[int, ...] = (10, 20, 50, 100, 100, 500, 1000)
    maxes: tuple[int, ...] = (5000, 10000, 50000, 100000, 500000, 1000000, 10000000)
    share: float = 1.0  # how many services a category of this kind tends to hold


D = (("Default", 1),)
KINDS: dict[str, Kind] = {
    "followers": Kind("Followers", "팔로워", (("Default", 12), ("Package", 1)), (0.4, 18), share=3),
    "likes": Kind("Likes", "좋아요", (("Default", 12), ("Package", 1)), (0.02, 6), share=3),
    "views": Kind(
        "Views", "조회수", D, (0.0005, 2.5), (100, 500, 1000), (1000000, 10000000), share=3
    ),
    "comments": Kind(
        "Comments",
        "댓글",
        (("Custom Comments", 6), ("Custom Comments Package", 2), ("Comment Replies", 1)),
        (4, 70),
        (1, 5, 10),
        (100, 500, 1000),
    ),
    "comment_likes": Kind(
        "Comment Likes", "댓글 좋아요", (("Comment Likes", 1),), (1, 12), share=0.4
    ),
    "mentions": Kind(
        "Mentions",
        "멘션",
        (
            ("Mentions", 3),
            ("Mentions with Hashtags", 1),
            ("Mentions Custom List", 1),
            ("Mentions Hashtag", 1),
            ("Mentions User Followers", 1),
            ("Mentions Media Likers", 1),
        ),
        (2, 25),
        (100, 500),
        (10000, 100000),
        0.6,
    ),
    "story_views": Kind("Story Views", "스토리 조회수", D, (0.05, 3)),
    "saves": Kind("Saves", "저장", D, (0.05, 4)),
    "shares": Kind("Shares", "공유", D, (0.1, 6)),
    "live": Kind("Live Stream Views", "라이브 시청자", D, (2, 80), (10, 50, 100), (1000, 10000)),
    "auto_likes": Kind(
        "Auto Likes",
        "자동 좋아요",
        (("Subscriptions", 1),),
        (0.3, 9),
        (10, 50, 100),
        (500, 5000),
        0.6,
    ),
    "auto_views": Kind(
        "Auto Views",
        "자동 조회수",
        (("Subscriptions", 1),),
        (0.01, 2),
        (100, 500),
        (5000, 100000),
        0.4,
    ),
    "poll": Kind(
        "Poll Votes", "투표", (("Poll", 1),), (0.5, 15), (50, 100), (10000, 100000), share=0.4
    ),
    "subscribers": Kind("Subscribers", "구독자", D, (4, 60), (50, 100), (10000, 100000)),
    "watch_time": Kind("Watch Time", "시청 시간", D, (3, 40), (100, 500, 1000), (4000, 100000)),
    "members": Kind("Members", "멤버", (("Default", 6), ("Invites from Groups", 2)), (0.5, 20)),
    "reactions": Kind("Reactions", "반응", D, (0.05, 4)),
    "plays": Kind("Plays", "재생수", D, (0.02, 3), (500, 1000), (1000000, 10000000)),
    "listeners": Kind("Monthly Listeners", "월간 청취자", D, (0.8, 12)),
    "retweets": Kind("Retweets", "리트윗", D, (0.5, 10)),
    "impressions": Kind("Impressions", "노출", D, (0.01, 1)),
    "packages": Kind(
        "Packages", "패키지", (("Package", 4), ("Custom Comments Package", 1)), (1, 120), (1,), (1,)
    ),
    "traffic": Kind(
        "Website Traffic",
        "웹사이트 트래픽",
        (("Web Traffic", 5), ("SEO", 2)),
        (0.05, 4),
        (100, 500, 1000),
        (100000, 1000000, 10000000),
    ),
    "reviews": Kind("Reviews", "리뷰", (("Custom Comments", 1),), (20, 150), (1, 5), (50, 200)),
    "upvotes": Kind("Upvotes", "추천", D, (0.5, 15)),
    "visitors": Kind("Visitors", "방문자", D, (0.05, 3), (100, 500), (100000, 1000000)),
}


@dataclass(frozen=True)
class Platform:
    key: str
    en: str
    ko: str
    emoji: str
    kinds: tuple[str, ...]
    weight: int  # how much of the catalog it takes (Instagram dominates real panels)


PLATFORMS = (
    Platform(
        "instagram",
        "Instagram",
        "인스타그램",
        "📸",
        (
            "followers",
            "likes",
            "views",
            "comments",
            "comment_likes",
            "mentions",
            "story_views",
            "saves",
            "live",
            "auto_likes",
            "auto_views",
            "poll",
            "packages",
            "reactions",
        ),
        30,
    ),
    Platform(
        "youtube",
        "YouTube",
        "유튜브",
        "▶️",
        (
            "views",
            "subscribers",
            "likes",
            "comments",
            "watch_time",
            "live",
            "shares",
            "comment_likes",
            "packages",
        ),
        16,
    ),
    Platform(
        "tiktok",
        "TikTok",
        "틱톡",
        "🎵",
        ("followers", "likes", "views", "comments", "shares", "saves", "live", "auto_views"),
        14,
    ),
    Platform(
        "facebook",
        "Facebook",
        "페이스북",
        "📘",
        ("followers", "likes", "views", "comments", "reactions", "members", "poll", "live"),
        8,
    ),
    Platform(
        "twitter",
        "Twitter",
        "트위터",
        "🐦",
        ("followers", "likes", "retweets", "views", "impressions", "poll", "comments"),
        6,
    ),
    Platform(
        "telegram",
        "Telegram",
        "텔레그램",
        "✈️",
        ("members", "views", "reactions", "poll", "auto_views", "comments"),
        6,
    ),
    Platform("threads", "Threads", "스레드", "🧵", ("followers", "likes", "shares"), 3),
    Platform(
        "spotify", "Spotify", "스포티파이", "🎧", ("plays", "followers", "listeners", "saves"), 3
    ),
    Platform(
        "soundcloud",
        "SoundCloud",
        "사운드클라우드",
        "☁️",
        ("plays", "followers", "likes", "comments"),
        2,
    ),
    Platform("twitch", "Twitch", "트위치", "🎮", ("followers", "live", "views"), 2),
    Platform("discord", "Discord", "디스코드", "💬", ("members", "reactions"), 2),
    Platform("linkedin", "LinkedIn", "링크드인", "💼", ("followers", "likes", "comments"), 2),
    Platform("pinterest", "Pinterest", "핀터레스트", "📌", ("followers", "saves", "likes"), 1),
    Platform("reddit", "Reddit", "레딧", "👽", ("upvotes", "comments", "members"), 1),
    Platform("snapchat", "Snapchat", "스냅챗", "👻", ("followers", "views"), 1),
    Platform("kick", "Kick", "킥", "🟩", ("followers", "live"), 1),
    Platform("naver", "Naver", "네이버", "🟢", ("visitors", "likes", "comments", "reviews"), 3),
    Platform("kakao", "Kakao", "카카오", "💛", ("followers", "likes", "members"), 2),
    Platform("google", "Google", "구글", "🔎", ("reviews", "traffic"), 2),
    Platform("website", "Website", "웹사이트", "🌐", ("traffic",), 2),
    Platform("applemusic", "Apple Music", "애플뮤직", "🍎", ("plays",), 1),
    Platform("audiomack", "Audiomack", "오디오맥", "🎶", ("plays", "followers"), 1),
    Platform("vk", "VK", "브이케이", "🅥", ("followers", "likes", "members"), 1),
    Platform("quora", "Quora", "쿼라", "❓", ("upvotes", "followers"), 1),
    Platform("likee", "Likee", "라이키", "❤️", ("followers", "likes", "views"), 1),
    Platform("dailymotion", "Dailymotion", "데일리모션", "📺", ("views",), 1),
)

# Category suffixes seen on real panels; several categories of one kind differ only here.
EN_SUFFIXES = (
    "",
    "",
    "",
    " [Korea]",
    " | Non Drop",
    " [Real]",
    " [Refill]",
    " | HQ",
    " [Cheapest]",
    " [Instant]",
    " - Targeted",
    " [USA 🇺🇸]",
    " ♻️ Refill",
    " 🔥",
    " [Brazil 🇧🇷]",
    " [Real & Active]",
    " | Lifetime Guarantee",
    " [Arab 🇸🇦]",
    " [No Refill]",
    " - Emergency ⚡",
)
KO_QUALIFIERS = ("", "", "한국인 ", "외국인 ", "실제 ", "고품질 ", "저가 ")
KO_SUFFIXES = ("", "", " | 논드랍", " [리필]", " | 빠른 시작", " (30일 보장)", " ⚡")
# Categories that name no platform; a shop must still show them somewhere.
PLATFORMLESS = ("🔥 Best Sellers", "🆕 New Services", "🎁 Free Trial & Test", "Other <Misc>")

FLAGS = ("🇰🇷", "🇺🇸", "🇧🇷", "🇮🇳", "🇹🇷", "🇷🇺", "🇯🇵", "🇸🇦", "🇩🇪", "🌍")
BADGES = ("🔥", "⚡", "💎", "✅", "♻️", "🆕", "⭐", "🚀", "👑", "💯", "🟢", "🔴")
TAGS = (
    "[Refill 30D]",
    "[리필 30일]",
    "[Max 5K]",
    "[최대 5K]",
    "[Start: 0-1H]",
    "[Speed: 10K/Day]",
    "[Non Drop]",
    "[HQ]",
    "[Real Accounts]",
    "[No Refill]",
    "[Instant]",
    "[Cheapest]",
    "| 한국인 실제 계정",
    "⚡ 빠름",
    "(Lifetime Guarantee ♻️)",
    "{R30}",
    "~ 50K/D",
    "[Emergency]",
    "[Drip-feed ✓]",
    "[Cancel Enable]",
    "[시작 0~6시간]",
    "[일 1만]",
    "[Low Drop 5%]",
    "[Mixed]",
    "[Female 👩]",
    "[Male 👨]",
    "[Old Accounts 2015+]",
    "[Bot Accounts ⚠️]",
    "[Max 1M]",
    "[Refill 365D]",
    "[Ultra Fast 🚀]",
    "[Real & Active]",
    "[Mobile 📱]",
    "<Fast>",
)
ODD_NAMES = (
    "<b>Views</b> & more",
    "Followers &amp; Likes",
    "Likes <3 fast",
    "R&D Test <service>",
    "Подписчики [Россия 🇷🇺]",
    "متابعين عرب حقيقيين",
    "Türk Takipçi [Gerçek]",
    "日本人フォロワー",
    "👨‍👩‍👧‍👦 Family Pack",
    "🏳️‍🌈 Pride Likes",
    "Views (a > b) & <i>italic</i>",
    "\"Quoted\" 'Name'",
)


# --- descriptions -------------------------------------------------------------------------

DESC_LINES = (
    "<b>Start:</b> 0-1 hour<br>",
    "<b>Speed:</b> 5K-10K/day<br>",
    "Refill: 30 days ♻️<br>",
    "Quality: Real &amp; Active<br>",
    "&nbsp;&nbsp;• Link format: https://instagram.com/username",
    "⚠️ <b>Notes:</b><br>",
    "- Do not place a second order on the same link before the first one is completed.<br>",
    "<ul><li>No password required</li><li>Public accounts only</li></ul>",
    '<span style="color:red">Important</span>: private accounts are not refunded.',
    "<b>Fast start",
    "<i>drop 5-10% possible",
    "<p>Works with Reels & IGTV",
    "</div>",
    "Speed < 1K/day & drops > 20% are refilled",
    "a -> b <3",
    "시작: 0~1시간<br>속도: 일 5천~1만<br>리필: 30일 보장",
    "주의: 비공개 계정은 진행되지 않아요.\r\n같은 링크로 중복 주문 금지!",
    "🔥 BEST SELLER 🔥",
    "<br/><br />",
    "&#x1F525; Hot &#128293;",
    "<a href='https://example.com/faq'>FAQ</a>",
    "<font color=green>Stable</font>",
    "Example: @username<br>Max: 50K",
    "&copy; Panel 2024",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
)
TERMS = (
    "<b>Terms:</b><br>1. We are not responsible for any drop after the refill period.<br>"
    "2. If the link is changed, deleted or made private while the order is in progress, the "
    "order is marked Completed and no refund is given.<br>3. Do not use more than one service "
    "for the same link at the same time.<br>4. Refill is only possible within the guarantee "
    "period and only for the original link.<br>5. Speed is an estimate, not a promise; "
    "updates may take up to 72 hours during high load.\r\n"
)


def _description(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.35:
        return None  # Perfect Panel sends no description at all
    lines = rng.sample(DESC_LINES, rng.randint(2, 8))
    text = "\n".join(lines)
    if roll > 0.93:  # the long ones: a wall of terms, some exactly at the 6,000 limit
        target = MAX_DESC if roll > 0.985 else rng.randint(3000, MAX_DESC)
        while len(text) < target:
            text += "\n" + TERMS + rng.choice(DESC_LINES)
        text = text[:target]
    elif roll > 0.8:
        text += "\n" + TERMS * rng.randint(1, 3)
    return text


# --- names --------------------------------------------------------------------------------


def _name(rng: random.Random, platform: Platform, kind: Kind, category: str) -> str:
    korean = any("가" <= ch <= "힣" for ch in category)
    core = (
        f"{platform.ko} {rng.choice(KO_QUALIFIERS)}{kind.ko}"
        if korean or rng.random() < 0.25
        else f"{platform.en} {kind.en}"
    )
    parts = []
    if rng.random() < 0.45:
        parts.append(rng.choice(FLAGS))
    if rng.random() < 0.35:
        parts.append(rng.choice(BADGES))
    parts.append(core)
    if rng.random() < 0.05:
        parts.append(rng.choice(ODD_NAMES))
    parts += rng.sample(TAGS, rng.choice((0, 1, 2, 2, 3, 3, 4)))
    name = " ".join(parts)
    roll = rng.random()
    if roll < 0.08:  # the long ones a real panel has: tag after tag, up to 200 characters
        target = MAX_NAME if roll < 0.02 else rng.randint(120, MAX_NAME)
        while len(name) < target:
            name += " " + rng.choice(TAGS + BADGES)
        name = name[:target].rstrip()
    return name


# --- numbers ------------------------------------------------------------------------------


def _rate(rng: random.Random, kind: Kind) -> Decimal:
    roll = rng.random()
    if roll < 0.01:
        return Decimal("0.0001")
    low, high = kind.rate
    value = low * (high / low) ** rng.random()  # log-uniform, like real price lists
    if roll < 0.06:
        return Decimal(f"{value:.8f}")
    return Decimal(f"{value:.{rng.choice((1, 2, 2, 3, 4, 5))}f}").normalize() or Decimal("0.0001")


def _limits(rng: random.Random, kind: Kind, service_type: str) -> tuple[int, int]:
    if service_type in ("Package", "Custom Comments Package"):
        return 1, 1
    low, high = rng.choice(kind.mins), rng.choice(kind.maxes)
    roll = rng.random()
    if roll < 0.03:
        return low, low  # min = max: exactly this many
    if roll < 0.05:
        return max(low, 1), 10_000_000
    return low, max(low, high)


# --- the generator ------------------------------------------------------------------------


def _categories(rng: random.Random) -> list[tuple[str, Platform | None, Kind | None]]:
    cats: list[tuple[str, Platform | None, Kind | None]] = []
    seen: set[str] = set()

    def add(name: str, platform: Platform | None, kind: Kind | None) -> None:
        if name not in seen:
            seen.add(name)
            cats.append((name, platform, kind))

    for p in PLATFORMS:
        for kind_key in p.kinds:
            kind = KINDS[kind_key]
            variants = 1 + min(p.weight // 6, 3)  # big platforms: several of each kind
            for _ in range(variants):
                style = rng.random()
                if style < 0.55:
                    add(f"{p.en} {kind.en}{rng.choice(EN_SUFFIXES)}", p, kind)
                elif style < 0.7:
                    add(f"{p.emoji} {p.en} - {kind.en}{rng.choice(EN_SUFFIXES)}", p, kind)
                else:
                    add(f"{p.ko} {rng.choice(KO_QUALIFIERS)}{kind.ko}{rng.choice(KO_SUFFIXES)}",
                        p, kind)  # fmt: skip
    for name in PLATFORMLESS:
        add(name, None, None)
    return cats


def _pick_type(rng: random.Random, kind: Kind) -> str:
    types, weights = zip(*kind.types, strict=True)
    return rng.choices(types, weights)[0]


@functools.lru_cache(maxsize=4)
def _generate(
    seed: int, size: int
) -> tuple[tuple[SimService, ...], tuple[tuple[str, str | None], ...]]:
    rng = random.Random(seed)
    cats = _categories(rng)
    weights = [  # skewed: some categories carry 100+ services, some one
        (p.weight if p else 2) * (k.share if k else 1) * rng.uniform(0.2, 1.8) for _, p, k in cats
    ]
    counts = Counter(rng.choices(range(len(cats)), weights, k=size - len(cats)))
    services: list[SimService] = []
    next_id = 1
    anywhere = [(p, KINDS[k]) for p in PLATFORMS for k in p.kinds]
    for index, (category, platform, kind) in enumerate(cats):
        for _ in range(1 + counts[index]):
            p, k = (platform, kind) if platform and kind else rng.choice(anywhere)
            service_type = _pick_type(rng, k)
            low, high = _limits(rng, k, service_type)
            dripfeed = None
            if service_type == "Default":
                dripfeed = rng.choice((None, None, True, False))
            name = _name(rng, p, k, category)
            services.append(
                SimService(
                    next_id,
                    name,
                    service_type,
                    category,
                    _rate(rng, k),
                    low,
                    high,
                    refill="Refill" in name or "리필" in name or rng.random() < 0.2,
                    cancel=rng.random() < 0.3,
                    dripfeed=dripfeed,
                    package_quantity=rng.choice((100, 250, 500, 1000)),
                    desc=_description(rng),
                )
            )
            next_id += rng.choice((1, 1, 1, 2, 3, 7))  # deleted services leave gaps
    _cover_every_type(rng, services)
    platform_of = tuple((c, p.key if p else None) for c, p, _ in cats)
    return tuple(services), platform_of


def _cover_every_type(rng: random.Random, services: list[SimService]) -> None:
    """Real panels carry rare types too; make sure each one appears at least once."""
    present = {s.type for s in services}
    for missing in (t for t in ALL_TYPES if t not in present):
        victim = rng.choice([s for s in services if s.type == "Default"])
        victim.type, victim.dripfeed = missing, None
