"""Turn raw answers into the parts that must agree.

What legitimately differs is removed: the human-readable text after OK/NO/BAD/BYE (response
codes are kept), the greeting, the order of capabilities, UIDVALIDITY values, POP3 UIDL
strings (replaced by their order of first appearance), the ID answer, and the text of the
POP3 +OK/-ERR lines except where it carries data (STAT, LIST n, UIDL n).
"""

from __future__ import annotations

import re

__all__ = ["normalize_imap", "normalize_imap_lines", "normalize_pop3"]

_STATUS = re.compile(
    rb"^(?P<tag>\S+) (?P<status>OK|NO|BAD|BYE|PREAUTH)(?P<code> \[[^\]]*\])?(?P<text>.*)$",
    re.IGNORECASE | re.DOTALL)
_UIDVALIDITY = re.compile(rb"(UIDVALIDITY|APPENDUID|COPYUID) \d+", re.IGNORECASE)
_STATUS_UIDVALIDITY = re.compile(rb"(UIDVALIDITY )\d+")


def _capabilities(words: list[bytes]) -> bytes:
    return b" ".join(sorted(word.upper() for word in words))


_FLAG_LIST = re.compile(rb"((?:FLAGS|PERMANENTFLAGS) \()([^)]*)(\))")
_MODSEQ = re.compile(rb"(HIGHESTMODSEQ |MODSEQ \(|MODSEQ )\d+")
_LIST = re.compile(rb"^(\* (?:LIST|LSUB) \()([^)]*)(\).*)$", re.DOTALL)


def _sort_words(match: re.Match[bytes]) -> bytes:
    words = sorted(match.group(2).split(), key=bytes.lower)
    return match.group(1) + b" ".join(words) + match.group(3)


def normalize_imap(line: bytes) -> str:
    text = line.rstrip(b"\r\n")
    if text.startswith(b"* OK [HIGHESTMODSEQ "):
        return ""  # Postier sends it on each SELECT (RFC 7162 3.1.2.1), Dovecot with CONDSTORE
    text = _FLAG_LIST.sub(_sort_words, text)
    text = _MODSEQ.sub(rb"\1<M>", text)
    text = _LIST.sub(_sort_words, text)
    if re.match(rb"^\* \d+ FETCH \(.*BODY(STRUCTURE)? \(", text):
        text = text.lower()
    text = _UIDVALIDITY.sub(lambda m: m.group(1) + b" <V>", text)
    text = _STATUS_UIDVALIDITY.sub(rb"\1<V>", text)
    match = _STATUS.match(text)
    if match and not text.startswith(b"+"):
        code = match.group("code") or b""
        if code.upper().startswith(b" [CAPABILITY "):
            code = b" [CAPABILITY " + _capabilities(code[13:-1].split()) + b"]"
        text = match.group("tag") + b" " + match.group("status").upper() + code
    elif text.upper().startswith(b"* CAPABILITY "):
        text = b"* CAPABILITY " + _capabilities(text[13:].split())
    elif text.upper().startswith(b"* ID "):
        text = b"* ID <...>"
    elif text.startswith(b"+"):
        text = b"+"
    return text.decode("utf-8", "backslashreplace")


def normalize_imap_lines(lines: list[bytes]) -> list[str]:
    """Normalised lines; LIST/LSUB answers (each with its STATUS) in sorted order."""
    out = [line for line in (normalize_imap(raw) for raw in lines) if line]
    groups: list[list[str]] = []
    rest: list[str] = []
    for line in out:
        if line.startswith(("* LIST ", "* LSUB ")):
            groups.append([line])
        elif line.startswith("* STATUS ") and groups:
            groups[-1].append(line)
        else:
            rest.append(line)
    if not groups:
        return out
    return [line for group in sorted(groups) for line in group] + rest


class Pop3Normalizer:
    def __init__(self) -> None:
        self.uids: dict[bytes, str] = {}

    def uid(self, value: bytes) -> str:
        return self.uids.setdefault(value, f"<uid{len(self.uids) + 1}>")

    def lines(self, command: str, lines: list[bytes]) -> list[str]:
        verb = command.split(" ")[0].upper()
        args = command.split()[1:]
        out: list[str] = []
        first = lines[0].rstrip(b"\r\n") if lines else b""
        status = first.split(b" ")[0]
        code = re.match(rb"^\S+ (\[[^\]]*\])", first)
        if status == b"+OK" and (verb == "STAT" or (verb in {"LIST", "UIDL"} and args)):
            if verb == "UIDL":
                parts = first.split()
                out.append(f"+OK {parts[1].decode()} {self.uid(parts[2])}")
            else:
                out.append(first.decode("utf-8", "backslashreplace"))
        else:
            out.append(status.decode("utf-8", "backslashreplace")
                       + (" " + code.group(1).decode() if code else ""))
        for line in lines[1:]:
            body = line.rstrip(b"\r\n")
            if verb == "UIDL" and body != b".":
                parts = body.split()
                if len(parts) == 2:
                    out.append(f"{parts[0].decode()} {self.uid(parts[1])}")
                    continue
            if verb == "CAPA":
                body = body.upper()
                if body.startswith(b"IMPLEMENTATION"):
                    continue
            out.append(body.decode("utf-8", "backslashreplace"))
        if verb == "CAPA":
            out = [out[0], *sorted(out[1:-1]), out[-1]] if len(out) > 2 else out
        return out


def normalize_pop3(command: str, lines: list[bytes], state: Pop3Normalizer) -> list[str]:
    return state.lines(command, lines)
