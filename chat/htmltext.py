"""Text helpers for the small HTML subset screens use (<b>, <i>, <u>, <s>, <code>, <a>).

Screens carry Telegram-flavoured HTML whose parameters were escaped; this module measures
it as a customer sees it, cuts it without breaking a tag or an entity, turns it into plain
text (fronts without markup), and turns a panel's description — any HTML at all, unclosed
tags, ``&nbsp;`` — into readable, escaped text.
"""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^<>]*)>")
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def _units(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts."""
    return len(text.encode("utf-16-le")) // 2


def plain(source: str) -> str:
    """The visible text of ``source`` (tags dropped, entities decoded)."""
    return html.unescape(_TAG.sub("", source))


def visible_len(source: str) -> int:
    return _units(plain(source))


def cut(source: str, limit: int, ellipsis: str = "…") -> str:
    """``source`` cut to at most ``limit`` visible UTF-16 units (the ellipsis included),
    never inside a tag or an entity, with every tag still open closed again."""
    if visible_len(source) <= limit:
        return source
    budget = limit - _units(ellipsis)
    out: list[str] = []
    open_tags: list[str] = []
    used = 0
    i = 0
    while i < len(source):
        if source[i] == "<":
            m = _TAG.match(source, i)
            if m:
                closing, name = m.group(1), m.group(2).lower()
                if closing and open_tags and open_tags[-1] == name:
                    open_tags.pop()
                elif not closing:
                    open_tags.append(name)
                out.append(m.group(0))
                i = m.end()
                continue
        m = _ENTITY.match(source, i) if source[i] == "&" else None
        piece = m.group(0) if m else source[i]
        size = _units(html.unescape(piece))
        if used + size > budget:
            break
        out.append(piece)
        used += size
        i += len(piece)
    text = "".join(out).rstrip()
    # An <a> or <b> left empty by the cut would look odd, but is still valid HTML.
    return text + ellipsis + "".join(f"</{name}>" for name in reversed(open_tags))


_BREAK_TAGS = re.compile(r"<\s*(br|/p|p|/div|div|/li|li|/h\d|h\d|tr|/tr)\b[^>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"</?[a-zA-Z!][^<>]*>")  # "a < b" is text, as in HTML
_SPACES = re.compile(r"[ \t\u00a0\u200b]+")


def from_panel(raw: str | None) -> str:
    """A panel's description as plain, readable text (not yet escaped): line-break tags
    become newlines, every other tag is dropped, entities (``&nbsp;``) decoded, runs of
    blank lines and spaces collapsed. A stray ``<`` of an unclosed tag just stays text."""
    if not raw:
        return ""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _BREAK_TAGS.sub("\n", text)
    text = _ANY_TAG.sub("", text)
    text = html.unescape(text)
    # Other whitespace (&nbsp; tabs) is a space; control characters go.
    text = "".join(c if c == "\n" or c.isprintable() else " " if c.isspace() else "" for c in text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _prefix(text: str, units: int) -> int:
    """How many characters of ``text`` fit in ``units`` UTF-16 units."""
    used = 0
    for i, c in enumerate(text):
        used += 2 if ord(c) > 0xFFFF else 1
        if used > units:
            return i
    return len(text)


def chunks(text: str, size: int) -> list[str]:
    """Plain ``text`` in pieces of at most ``size`` UTF-16 units, split at line ends or
    spaces where possible (for paging a long description)."""
    parts: list[str] = []
    rest = text.strip()
    while _units(rest) > size:
        end = _prefix(rest, size)
        at = rest.rfind("\n", end // 2, end)
        if at < 0:
            at = rest.rfind(" ", end // 2, end)
        if at <= 0:
            at = end
        parts.append(rest[:at].rstrip())
        rest = rest[at:].lstrip()
    if rest or not parts:
        parts.append(rest)
    return parts


def clip(text: str, size: int) -> str:
    """Plain ``text`` cut to ``size`` UTF-16 units with an ellipsis."""
    if _units(text) <= size:
        return text
    return text[: _prefix(text, size - 1)].rstrip() + "…"
