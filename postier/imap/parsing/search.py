"""Grammar of SEARCH (RFC 9051 §6.4.4), SORT and THREAD (RFC 5256) and their search keys.

How this works
--------------
Search keys are read recursively into the tree of ``commands.SearchKey`` values; several keys
side by side mean AND. Strings are decoded with the command's CHARSET (UTF-8 when absent or
US-ASCII, a superset that IMAP4rev1 clients rely on without naming it); an unknown
charset is answered ``NO [BADCHARSET]`` as RFC 9051 §6.4.4 asks, not BAD. Besides the RFC 9051
keys this accepts IMAP4rev1's NEW, OLD, RECENT and UNRECENT (RFC 3501 §6.4.4), MODSEQ
(RFC 7162 §3.1.5), OLDER/YOUNGER (RFC 5032) and EMAILID/THREADID (RFC 8474). Nesting is
bounded (``reader.MAX_DEPTH``) so ``NOT NOT NOT ...`` cannot exhaust the stack.
"""

from __future__ import annotations

from collections.abc import Callable

from postier.imap.commands import (
    Age,
    All,
    And,
    Contains,
    DateCompare,
    DateField,
    HasFlag,
    HeaderContains,
    InSet,
    ModSeqAtLeast,
    Not,
    ObjectId,
    Or,
    Search,
    SearchKey,
    SearchReturn,
    SizeCompare,
    Sort,
    SortCriterion,
    SortKey,
    TextField,
    Thread,
    ThreadAlgorithm,
)
from postier.imap.parsing.reader import (
    ASTRING_CHARS,
    LITERAL,
    MAX_DEPTH,
    ParseError,
    Reader,
    charset_codec,
)
from postier.types import ANSWERED, DELETED, DRAFT, FLAGGED, SEEN

__all__ = ["parse_search", "parse_sort", "parse_thread"]

RECENT = "\\Recent"
_FLAG_KEYS = {"ANSWERED": ANSWERED, "DELETED": DELETED, "DRAFT": DRAFT, "FLAGGED": FLAGGED,
              "SEEN": SEEN, "RECENT": RECENT}  # fmt: skip
_DATE_KEYS = {"BEFORE": (DateField.INTERNAL, "BEFORE"), "ON": (DateField.INTERNAL, "ON"),
              "SINCE": (DateField.INTERNAL, "SINCE"), "SENTBEFORE": (DateField.SENT, "BEFORE"),
              "SENTON": (DateField.SENT, "ON"), "SENTSINCE": (DateField.SENT, "SINCE")}  # fmt: skip
_OBJECTID_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_SEQUENCE_START = frozenset(b"0123456789*$")


def parse_search(r: Reader, uid: bool) -> Search:
    r.sp()
    returns = _return_options(r)
    charset = _keyword_argument(r, "CHARSET")
    codec = charset_codec(charset or "UTF-8")
    return Search(_search_program(r, codec), charset, returns, uid)


def parse_sort(r: Reader, uid: bool) -> Sort:
    r.sp()
    returns = _return_options(r)
    r.open()
    criteria = [_sort_criterion(r)]
    while not r.close():
        criteria.append(_sort_criterion(r))
    r.sp()
    charset = r.charset()
    r.sp()
    search = _search_program(r, charset_codec(charset))
    return Sort(tuple(criteria), charset, search, uid, returns)


def parse_thread(r: Reader, uid: bool) -> Thread:
    r.sp()
    name = r.keyword("threading algorithm")
    try:
        algorithm = ThreadAlgorithm(name)
    except ValueError:
        raise ParseError(f"unsupported threading algorithm {name}") from None
    r.sp()
    charset = r.charset()
    r.sp()
    return Thread(algorithm, charset, _search_program(r, charset_codec(charset)), uid)


def _keyword_argument(r: Reader, word: str) -> str | None:
    """``WORD SP value SP`` at the cursor (e.g. ``CHARSET UTF-8``), or None."""
    if not r.accept_keyword(word):
        return None
    value = r.charset()
    r.sp()
    return value


def _return_options(r: Reader) -> frozenset[SearchReturn] | None:
    """``RETURN (...) SP`` (RFC 4731 §3); ``RETURN ()`` means ``RETURN (ALL)``."""
    if not r.accept_keyword("RETURN"):
        return None
    r.open()
    options: set[SearchReturn] = set()
    if not r.accept(")"):
        while True:
            name = r.keyword("return option")
            try:
                options.add(SearchReturn(name))
            except ValueError:
                raise ParseError(f"unknown return option {name}") from None
            if r.close():
                break
    r.sp()
    return frozenset(options or {SearchReturn.ALL})


def _sort_criterion(r: Reader) -> SortCriterion:
    name = r.keyword("sort key")
    reverse = name == "REVERSE"
    if reverse:
        r.sp()
        name = r.keyword("sort key")
    try:
        return SortCriterion(SortKey(name), reverse)
    except ValueError:
        raise ParseError(f"unknown sort key {name}") from None


def _search_program(r: Reader, codec: str) -> SearchKey:
    keys = [search_key(r, codec)]
    while r.accept(" "):
        keys.append(search_key(r, codec))
    return keys[0] if len(keys) == 1 else And(tuple(keys))


def search_key(r: Reader, codec: str) -> SearchKey:
    if r.peek() in _SEQUENCE_START:
        return InSet(r.sequence_set(), uid=False)
    r.depth += 1
    try:
        if r.depth > MAX_DEPTH:
            raise ParseError("search keys nested too deeply")
        if r.accept("("):
            keys = [search_key(r, codec)]
            while not r.close():
                keys.append(search_key(r, codec))
            return And(tuple(keys))
        name = r.keyword("search key")
        parse = _KEYS.get(name)
        if parse is None:
            raise ParseError(f"unknown search key {name}")
        return parse(r, name, codec)
    finally:
        r.depth -= 1


def _string(r: Reader, codec: str) -> str:
    """An astring decoded with the search charset."""
    if r.peek() in ASTRING_CHARS:
        return r.take(ASTRING_CHARS).decode("ascii")
    if r.peek() != LITERAL and not r.peek_is('"'):
        raise ParseError("expected string")
    try:
        return r.string().decode(codec)
    except UnicodeDecodeError:
        raise ParseError(f"string is not valid {codec}") from None


def _flag(r: Reader, name: str, codec: str) -> SearchKey:
    del codec
    if name == "NEW":
        return And((HasFlag(RECENT), HasFlag(SEEN, present=False)))
    if name == "OLD":
        return HasFlag(RECENT, present=False)
    if name in ("KEYWORD", "UNKEYWORD"):
        r.sp()
        return HasFlag(r.atom("keyword"), present=name == "KEYWORD")
    if name in _FLAG_KEYS:
        return HasFlag(_FLAG_KEYS[name])
    return HasFlag(_FLAG_KEYS[name[2:]], present=False)  # UNSEEN, UNRECENT, ...


def _text(r: Reader, name: str, codec: str) -> SearchKey:
    r.sp()
    if name == "HEADER":
        field = r.astring("header field name")
        r.sp()
        return HeaderContains(field, _string(r, codec))
    return Contains(TextField(name), _string(r, codec))


def _date(r: Reader, name: str, codec: str) -> SearchKey:
    del codec
    r.sp()
    field, relation = _DATE_KEYS[name]
    return DateCompare(field, relation, r.date())


def _number(r: Reader, name: str, codec: str) -> SearchKey:
    del codec
    r.sp()
    if name in ("LARGER", "SMALLER"):
        return SizeCompare(name == "LARGER", r.number64())
    return Age(name == "OLDER", r.number(nonzero=True))


def _uid(r: Reader, name: str, codec: str) -> SearchKey:
    del name, codec
    r.sp()
    return InSet(r.sequence_set(), uid=True)


def _logic(r: Reader, name: str, codec: str) -> SearchKey:
    r.sp()
    first = search_key(r, codec)
    if name == "NOT":
        return Not(first)
    r.sp()
    return Or(first, search_key(r, codec))


def _modseq(r: Reader, name: str, codec: str) -> SearchKey:
    """``MODSEQ ["/flags/\\\\Seen" all] 620162338`` (RFC 7162 §3.1.5)."""
    del name, codec
    r.sp()
    entry = entry_type = None
    if r.peek_is('"'):
        entry = r.quoted().decode("ascii", "replace")
        if not entry.lower().startswith("/flags/") or len(entry) == len("/flags/"):
            raise ParseError("invalid MODSEQ entry name")
        r.sp()
        entry_type = r.keyword("entry type").lower()
        if entry_type not in ("priv", "shared", "all"):
            raise ParseError("invalid MODSEQ entry type")
        r.sp()
    return ModSeqAtLeast(r.number64(), entry, entry_type)


def _object_id(r: Reader, name: str, codec: str) -> SearchKey:
    del codec
    r.sp()
    value = r.take(_OBJECTID_CHARS)
    if not 1 <= len(value) <= 255:
        raise ParseError("invalid object id")
    return ObjectId(name, value.decode("ascii"))


_KEYS: dict[str, Callable[[Reader, str, str], SearchKey]] = {
    "ALL": lambda r, name, codec: All(),
    **{name: _flag for name in ("ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN", "RECENT",
                                "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN",
                                "UNRECENT", "NEW", "OLD", "KEYWORD", "UNKEYWORD")},
    **{name: _text for name in (*TextField, "HEADER")},
    **{name: _date for name in _DATE_KEYS},
    **{name: _number for name in ("LARGER", "SMALLER", "OLDER", "YOUNGER")},
    "UID": _uid,
    "NOT": _logic,
    "OR": _logic,
    "MODSEQ": _modseq,
    "EMAILID": _object_id,
    "THREADID": _object_id,
}  # fmt: skip
