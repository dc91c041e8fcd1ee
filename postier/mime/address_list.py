"""A tolerant RFC 5322 §3.4 address-list reader that keeps what IMAP ENVELOPE needs.

How this works: a regex tokenizer turns the (unfolded) field value into words, quoted strings,
comments, domain literals and the specials ``< > , : ; @ .``, remembering whether whitespace
preceded each token. A single pass over the tokens then recognises, in order of appearance:

    GroupStart(name)   "name:"          the group's display name
    RawMailbox(...)    an address       display name as written (quotes removed, RFC 2047
                                        encoded-words left alone), obsolete source route,
                                        local part (quoted form kept) and domain
    GroupEnd()         ";"              also synthesised when the value ends inside a group

Written by hand because the standard library offers nothing that keeps raw display names,
source routes and group boundaries: ``email.utils.getaddresses`` flattens groups, drops routes
and changed behaviour in security releases (CVE-2023-27043); the policy-based parser
decodes names and is private. Nothing here raises: stray specials are skipped, an unclosed
quote, comment or angle bracket runs to the end (or to the next comma), and a bare word without
"@" is a mailbox without a domain. Without a phrase, the last comment names the mailbox
("joe@example.com (Joe)"), as old mailers wrote it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

__all__ = ["AddressItem", "GroupEnd", "GroupStart", "RawMailbox", "parse_address_list"]

MAX_VALUE = 256 * 1024  # characters considered; a header longer than this is hostile


@dataclass(frozen=True, slots=True)
class RawMailbox:
    name: str | None  # display name as written, None when there is none
    route: str | None  # obsolete source route "@a,@b" (RFC 5322 §4.4), None when absent
    local: str
    domain: str | None  # None when the address has no "@"


@dataclass(frozen=True, slots=True)
class GroupStart:
    name: str


@dataclass(frozen=True, slots=True)
class GroupEnd:
    pass


AddressItem: TypeAlias = RawMailbox | GroupStart | GroupEnd

_ATOM, _QUOTED, _COMMENT, _LITERAL, _SPECIAL = range(5)

_TOKEN = re.compile(
    r"""
      (?P<space>[ \t\r\n]+)
    | "(?P<quoted>(?:[^"\\]|\\.)*)"?
    | \[(?P<literal>[^\]]*)\]?
    | (?P<special>[<>,:;@.])
    | (?P<open>\()
    | (?P<atom>[^ \t\r\n"()\[\]<>,:;@.]+)
    | (?P<stray>[)\]])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_NEEDS_QUOTES = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff.-]")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: int
    text: str  # unescaped content for quoted strings and comments
    space_before: bool


def _read_comment(value: str, pos: int) -> tuple[str, int]:
    """Read a (possibly nested) comment whose "(" is at ``pos - 1``; return text and new pos."""
    depth, out, n = 1, [], len(value)
    while pos < n:
        char = value[pos]
        if char == "\\" and pos + 1 < n:
            out.append(value[pos + 1])
            pos += 2
            continue
        pos += 1
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                break
        out.append(char)
    return "".join(out), pos


def _tokenize(value: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos, space, n = 0, False, len(value)
    while pos < n:
        match = _TOKEN.match(value, pos)
        if match is None:  # unreachable: the alternatives cover every character
            break
        pos = match.end()
        kind = match.lastgroup
        if kind == "space" or kind == "stray":
            space = True
            continue
        if kind == "open":
            text, pos = _read_comment(value, pos)
            tokens.append(_Token(_COMMENT, text.strip(), space))
            space = True  # a comment separates words like whitespace does
            continue
        if kind == "quoted":
            tokens.append(_Token(_QUOTED, _ESCAPE.sub(r"\1", match.group("quoted")), space))
        elif kind == "literal":
            tokens.append(_Token(_LITERAL, match.group("literal"), space))
        elif kind == "special":
            tokens.append(_Token(_SPECIAL, match.group("special"), space))
        else:
            tokens.append(_Token(_ATOM, match.group("atom"), space))
        space = False
    return tokens


def _spec_text(tokens: list[_Token]) -> str:
    """Local part or domain: tokens glued together, quoted strings re-quoted when needed."""
    out: list[str] = []
    for token in tokens:
        if token.kind == _QUOTED:
            if _NEEDS_QUOTES.search(token.text) or not token.text:
                escaped = token.text.replace("\\", "\\\\").replace('"', '\\"')
                out.append(f'"{escaped}"')
            else:
                out.append(token.text)
        elif token.kind == _LITERAL:
            out.append(f"[{token.text}]")
        elif token.kind != _COMMENT:
            out.append(token.text)
    return "".join(out)


def _phrase_text(tokens: list[_Token]) -> str | None:
    words: list[str] = []
    for token in tokens:
        if token.kind == _COMMENT:
            continue
        if words and token.space_before:
            words.append(" ")
        words.append(f"[{token.text}]" if token.kind == _LITERAL else token.text)
    return "".join(words).strip() or None


def _comment_name(tokens: list[_Token]) -> str | None:
    comments = [t.text for t in tokens if t.kind == _COMMENT and t.text]
    return comments[-1] if comments else None


def _is_at(token: _Token) -> bool:
    return token.kind == _SPECIAL and token.text == "@"


def _is_dot(token: _Token) -> bool:
    return token.kind == _SPECIAL and token.text == "."


def _bare_mailbox(tokens: list[_Token]) -> RawMailbox | None:
    """An address without angle brackets: addr-spec, perhaps after stray words."""
    words = [t for t in tokens if t.kind != _COMMENT]
    if not words:
        return None
    at = max((i for i, t in enumerate(words) if _is_at(t)), default=-1)
    if at < 0:
        return RawMailbox(_comment_name(tokens), None, _spec_text(words), None)
    first = at - 1  # the local part runs back to the first whitespace gap not bridged by a dot
    while first > 0 and (not words[first].space_before or _is_dot(words[first])
                         or _is_dot(words[first - 1])):
        first -= 1
    first = max(first, 0)
    last = min(at + 2, len(words))  # the first token after "@" is always the domain
    while last < len(words) and (not words[last].space_before or _is_dot(words[last])
                                 or _is_dot(words[last - 1])):
        last += 1
    name = _phrase_text(words[:first]) or _comment_name(tokens)
    return RawMailbox(name, None, _spec_text(words[first:at]), _spec_text(words[at + 1:last]))


def _angle_mailbox(name: str | None, inner: list[_Token]) -> RawMailbox:
    words = [t for t in inner if t.kind != _COMMENT]
    route = None
    if words and _is_at(words[0]):
        colon = next((i for i, t in enumerate(words) if t.kind == _SPECIAL and t.text == ":"), -1)
        if colon > 0:
            route = _spec_text(words[:colon])
            words = words[colon + 1:]
    at = max((i for i, t in enumerate(words) if _is_at(t)), default=-1)
    if at < 0:
        return RawMailbox(name, route, _spec_text(words), None)
    return RawMailbox(name, route, _spec_text(words[:at]), _spec_text(words[at + 1:]))


def parse_address_list(value: str) -> list[AddressItem]:
    """Read an address-list (From, To, Cc, ...) into mailboxes and group markers."""
    tokens = _tokenize(value[:MAX_VALUE])
    items: list[AddressItem] = []
    pending: list[_Token] = []  # tokens of the address being read, outside angle brackets
    in_group = False
    i, n = 0, len(tokens)

    def flush() -> None:
        mailbox = _bare_mailbox(pending)
        if mailbox is not None:
            items.append(mailbox)
        pending.clear()

    while i < n:
        token = tokens[i]
        i += 1
        if token.kind != _SPECIAL or token.text in "@.":
            pending.append(token)
        elif token.text == ",":
            flush()
        elif token.text == ";":
            flush()
            if in_group:
                items.append(GroupEnd())
                in_group = False
        elif token.text == ":" and not in_group:
            items.append(GroupStart(_phrase_text(pending) or ""))
            pending.clear()
            in_group = True
        elif token.text == "<":
            inner: list[_Token] = []
            in_route = i < n and _is_at(tokens[i])
            while i < n:
                inside = tokens[i]
                if inside.kind == _SPECIAL:
                    if inside.text == ">":
                        i += 1
                        break
                    if inside.text == ":" and in_route:
                        in_route = False
                    elif inside.text in ",;" and not in_route:
                        break  # unclosed bracket: let the separator end the address
                inner.append(inside)
                i += 1
            items.append(_angle_mailbox(_phrase_text(pending), inner))
            pending.clear()
            while i < n and not (tokens[i].kind == _SPECIAL and tokens[i].text in ",;"):
                i += 1  # anything between ">" and the next separator is noise
        # a stray ">" or a ":" inside a group is noise as well
    flush()
    if in_group:
        items.append(GroupEnd())
    return items
