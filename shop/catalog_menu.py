"""The catalog as customers browse it: platform → category → service, and search.

Real panels list thousands of services in hundreds of categories; a customer on a phone
needs a few buttons at a time. Platforms are not in the panel's data: they are derived
from category names (else from the category's service names) by keywords, and whatever
matches none is "etc" (기타). Built once per catalog version (``CatalogService.menu``)
and kept in memory with it, so every menu page and search is a lookup, not a query.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from shop.models import Service

# (key, keywords) in the order customers see them. Keys are short ASCII (they travel in
# button data); labels live in the message catalogs (platform.<key>). Latin keywords
# match whole words; Korean ones anywhere.
PLATFORMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ig", ("instagram", "insta", "ig", "인스타", "인스타그램", "릴스", "reels")),
    ("yt", ("youtube", "yt", "유튜브", "유투브")),
    ("tt", ("tiktok", "tik tok", "틱톡")),
    ("fb", ("facebook", "fb", "페이스북", "페북")),
    ("th", ("threads", "스레드", "쓰레드")),
    ("x", ("twitter", "tweet", "tweets", "retweets", "x.com", "트위터", "𝕏")),
    ("tg", ("telegram", "텔레그램")),
    ("nv", ("naver", "네이버")),
    ("kk", ("kakao", "카카오")),
    ("sp", ("spotify", "스포티파이")),
    ("sc", ("soundcloud", "사운드클라우드")),
    ("tw", ("twitch", "트위치")),
    ("kc", ("kick.com", "kick")),
    ("dc", ("discord", "디스코드")),
    ("li", ("linkedin", "링크드인")),
    ("pi", ("pinterest", "핀터레스트")),
    ("sn", ("snapchat", "스냅챗")),
    ("rd", ("reddit", "레딧")),
    ("qr", ("quora",)),
    ("tb", ("tumblr", "텀블러")),
    ("vm", ("vimeo", "비메오")),
    ("dm", ("dailymotion",)),
    ("rb", ("rumble",)),
    ("vk", ("vkontakte", "vk")),
    ("wa", ("whatsapp", "왓츠앱")),
    ("am", ("apple music", "applemusic", "itunes", "애플뮤직", "애플 뮤직")),
    ("au", ("audiomack", "오디오맥")),
    ("lk", ("likee", "라이키")),
    ("ap", ("apple podcasts", "podcast", "podcasts", "팟캐스트")),
    ("gg", ("google", "구글")),
    ("web", ("website", "web traffic", "traffic", "웹사이트", "트래픽", "seo")),
)
ETC = "etc"
PLATFORM_KEYS = (*(k for k, _ in PLATFORMS), ETC)
WORD_CACHE = 512  # words (and queries) whose results are remembered
MAX_RESULTS = 1000

# Words customers type for the same thing in either language (search matches any of a
# group): "youtube views" finds "유튜브 조회수".
SYNONYMS: tuple[frozenset[str], ...] = tuple(
    frozenset(g)
    for g in (
        {"팔로워", "팔로우", "follower", "followers", "follow", "팔로워수"},
        {"좋아요", "like", "likes", "하트", "heart", "hearts"},
        {"조회수", "조회", "view", "views", "시청"},
        {"댓글", "comment", "comments", "코멘트"},
        {"구독자", "구독", "subscriber", "subscribers", "subs"},
        {"공유", "share", "shares", "리포스트", "repost", "reposts"},
        {"저장", "save", "saves"},
        {"리필", "refill", "a/s"},
        {"한국인", "한국", "korean", "korea"},
        {"외국인", "foreign", "global", "worldwide"},
        {"자동", "auto", "automatic"},
        {"라이브", "live", "stream", "streaming"},
        {"회원", "member", "members", "멤버"},
        {"투표", "vote", "votes", "poll"},
    )
)


_LATIN_WORD = re.compile(r"[a-z0-9]")


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _keyword_rx(words: Iterable[str]) -> re.Pattern[str]:
    parts = []
    for w in words:
        w = _norm(w)
        if w.isascii():
            parts.append(r"(?<![a-z0-9])" + re.escape(w) + r"(?![a-z0-9])")
        else:
            parts.append(re.escape(w))
    return re.compile("|".join(parts))


_PLATFORM_RX = tuple((key, _keyword_rx(words)) for key, words in PLATFORMS)
_ALIASES = {key: " ".join(_norm(w) for w in words) for key, words in PLATFORMS}


def platform_of(text: str) -> str | None:
    """The platform a name speaks of: the keyword that appears first wins (None: none)."""
    norm = _norm(text)
    best: tuple[int, str] | None = None
    for key, rx in _PLATFORM_RX:
        m = rx.search(norm)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), key)
    return best[1] if best else None


def category_key(name: str) -> str:
    """A short stable id for a category name (a position would shift with the catalog,
    and a Korean name would not fit in 64 bytes of button data)."""
    return hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:8]


@dataclass(frozen=True, slots=True)
class MenuCategory:
    key: str
    name: str
    platform: str
    services: tuple[Service, ...]


@dataclass(frozen=True, slots=True)
class MenuPlatform:
    key: str
    categories: tuple[MenuCategory, ...]

    @property
    def service_count(self) -> int:
        return sum(len(c.services) for c in self.categories)


_NUMBER = re.compile(r"^#?\s*(\d{1,9})$")


class CatalogMenu:
    """The sellable catalog grouped for browsing, with a search over names."""

    def __init__(self, sellable: Iterable[Service]) -> None:
        by_category: dict[str, list[Service]] = {}
        for s in sellable:
            by_category.setdefault(s.category, []).append(s)
        grouped: dict[str, list[MenuCategory]] = {}
        self._category_of: dict[int, MenuCategory] = {}
        tails: dict[str, str] = {}  # category key → its words and its platform's
        for name, services in by_category.items():
            platform = platform_of(name) or _majority(services) or ETC
            cat = MenuCategory(category_key(name), name, platform, tuple(services))
            grouped.setdefault(platform, []).append(cat)
            tails[cat.key] = f"{_norm(name)} {_ALIASES.get(platform, '')}"
            for s in services:
                self._category_of[s.id] = cat
        self.platforms = tuple(
            MenuPlatform(k, tuple(grouped[k])) for k in PLATFORM_KEYS if k in grouped
        )
        self._platforms = {p.key: p for p in self.platforms}
        self._categories = {c.key: c for p in self.platforms for c in p.categories}
        # In menu order (platform, category, the panel's order): search results too.
        self._services = [s for c in self._categories.values() for s in c.services]
        self._by_id = {s.id: s for s in self._services}
        # Two texts, one line per service (its name; its category and platform words): a
        # search is one str.find scan per word and text, in C, not a Python loop over
        # thousands of services.
        self._names = _Lines([_norm(s.name) for s in self._services])
        self._tails = _Lines([tails[self._category_of[s.id].key] for s in self._services])
        self._word_cache: dict[str, tuple[frozenset[int], frozenset[int]]] = {}
        self._query_cache: dict[str, list[int]] = {}

    def platform(self, key: str) -> MenuPlatform | None:
        return self._platforms.get(key)

    def category(self, key: str) -> MenuCategory | None:
        return self._categories.get(key)

    def category_of(self, service_id: int) -> MenuCategory | None:
        return self._category_of.get(service_id)

    def service(self, service_id: int) -> Service | None:
        return self._by_id.get(service_id)

    def by_number(self, text: str) -> Service | None:
        """A sellable service by the number a customer typed ("1234", "#1234")."""
        m = _NUMBER.match(text.strip())
        return self._by_id.get(int(m.group(1))) if m else None

    def search(self, query: str, limit: int = MAX_RESULTS) -> list[Service]:
        """Services whose name, category or platform holds every word of ``query`` (or a
        word meaning the same): those with the words in their own name first, then menu
        order; at most ``limit`` (≤ MAX_RESULTS)."""
        words = set(_norm(query).split())
        if not words:
            return []
        key = " ".join(sorted(words))
        ranked = self._query_cache.get(key)
        if ranked is None:
            ranked = self._query_cache[key] = self._rank(words)[:MAX_RESULTS]
            if len(self._query_cache) > WORD_CACHE:
                self._query_cache.clear()
        return [self._services[i] for i in ranked[:limit]]

    def _rank(self, words: set[str]) -> list[int]:
        found: frozenset[int] | None = None
        hits = [self._hits(w) for w in sorted(words, key=len, reverse=True)]
        for in_name, in_tail in hits:
            found = (in_name | in_tail) if found is None else found & (in_name | in_tail)
            if not found:
                return []

        def rank(i: int) -> tuple[int, int]:
            return (-sum(2 * (i in n) + (i in c) for n, c in hits), i)

        return sorted(found or (), key=rank)

    def _hits(self, word: str) -> tuple[frozenset[int], frozenset[int]]:
        """The services (by menu position) whose name, and whose category or platform
        words, contain ``word`` or a synonym. Customers type the same few words: the last
        few hundred are remembered (the whole index is rebuilt when the catalog changes)."""
        cached = self._word_cache.get(word)
        if cached is None:
            alts = _alternatives(word)
            cached = (self._names.containing(alts), self._tails.containing(alts))
            if len(self._word_cache) >= WORD_CACHE:
                self._word_cache.clear()
            self._word_cache[word] = cached
        return cached


class _Lines:
    """Lines of text joined into one string, searched by substring."""

    def __init__(self, lines: list[str]) -> None:
        self.text = "\n".join(line.replace("\n", " ") for line in lines)
        self.starts: list[int] = []
        at = 0
        for line in lines:
            self.starts.append(at)
            at += len(line) + 1

    def containing(self, needles: Iterable[str]) -> frozenset[int]:
        """Indexes of the lines that contain any of ``needles``. A Latin needle must
        start a word ("view" finds "views" but "views" not "reviews"); Korean is matched
        anywhere, as its words are compounded ("팔로워" in "한국인팔로워")."""
        text, starts, out = self.text, self.starts, set()
        for needle in needles:
            at_word_start = needle[:1].isascii() and needle[:1].isalnum()
            pos = text.find(needle)
            while pos >= 0:
                if at_word_start and pos > 0 and _LATIN_WORD.match(text, pos - 1):
                    pos = text.find(needle, pos + 1)  # inside a word: look further on
                    continue
                i = bisect_right(starts, pos) - 1  # one hit per line: jump to the next
                out.add(i)
                pos = text.find(needle, starts[i + 1]) if i + 1 < len(starts) else -1
        return frozenset(out)


def _alternatives(word: str) -> tuple[str, ...]:
    """``word`` and the words meaning the same, without any that contains another (a
    substring search for "korea" already finds "korean")."""
    group = next((g for g in SYNONYMS if word in g), (word,))
    return tuple(a for a in group if not any(b != a and b in a for b in group))


def _majority(services: Iterable[Service]) -> str | None:
    votes = Counter(p for p in (platform_of(s.name) for s in services) if p)
    return votes.most_common(1)[0][0] if votes else None
