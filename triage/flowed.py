"""Plain text → `format=flowed` lines (RFC 3676), with quote depth kept per line. Pure.

A flowed line that ends in a space is joined to the next one by clients that understand
flowed text; others show the lines as written, each at most `WIDTH` characters (longer only
where one word is longer). Quoted lines carry their depth as `>` marks and re-flow within it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WIDTH = 72
MIN_TEXT_WIDTH = 30
SIGNATURE_SEPARATOR = "-- "
_QUOTE_MARKS = re.compile(r"^((?:> ?)+)")
_TOKEN = re.compile(r"[^ ]+ *")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


@dataclass(frozen=True)
class Line:
    """One logical (unwrapped) line of text at a quote depth (0 = the writer's own text)."""

    depth: int
    text: str


HARD_WRAP_MIN = 60  # a quoted line this long was most likely wrapped by the sender's client
_LIST_ITEM = re.compile(r"^\s*([-*•·]|\d{1,2}[.)])\s")


def own_lines(text: str) -> list[Line]:
    """The writer's own text, one logical line per input line."""
    return [Line(0, line) for line in text.split("\n")]


def quoted_lines(text: str, max_lines: int) -> list[Line]:
    """Someone else's text quoted one level deeper; its own `>` quotes become deeper levels."""
    out: list[Line] = []
    for raw in text.split("\n")[:max_lines]:
        marks = _QUOTE_MARKS.match(raw)
        depth = marks.group(1).count(">") + 1 if marks else 1
        line = Line(depth, raw[marks.end():] if marks else raw)
        if out and _continues(out[-1], line):
            out[-1] = Line(depth, f"{out[-1].text.rstrip()} {line.text.lstrip()}")
        else:
            out.append(line)
    return out


def _continues(previous: Line, line: Line) -> bool:
    """True when `line` is the rest of a hard-wrapped sentence begun on `previous`: same
    level, the previous line long (a wrap near 60-80 columns), neither blank nor a list item.
    Short lines (signatures, addresses, lists) stay as they were written."""
    return (previous.depth == line.depth and len(previous.text.rstrip()) >= HARD_WRAP_MIN
            and bool(line.text.strip()) and not _LIST_ITEM.match(line.text)
            and previous.text.rstrip() != SIGNATURE_SEPARATOR.rstrip())


def encode(lines: list[Line], width: int = WIDTH) -> str:
    """The flowed body text, lines joined with `\\n` and ending in one."""
    out: list[str] = []
    for line in lines:
        out.extend(_encode_line(line, width))
    return "\n".join(out) + "\n"


def _encode_line(line: Line, width: int) -> list[str]:
    prefix = ">" * line.depth
    text = _CONTROL.sub("", line.text.replace("\t", " "))
    if line.depth == 0 and text == SIGNATURE_SEPARATOR:
        return [text]  # RFC 3676 4.3: the signature separator keeps its space, never flowed
    text = text.rstrip(" ")
    room = max(width - len(prefix) - 2, MIN_TEXT_WIDTH)  # room for stuffing and the soft space
    return [prefix + _stuff(piece, line.depth) for piece in _wrap(text, room)]


def _wrap(text: str, room: int) -> list[str]:
    """Pieces of at most `room` characters (a longer word stays whole); all but the last end
    in the space they were broken at, which marks them as soft (flowed) breaks."""
    indent = text[: len(text) - len(text.lstrip(" "))]
    pieces: list[str] = []
    current = indent
    for token in _TOKEN.findall(text):
        if current.strip() and len(current) + len(token.rstrip()) > room:
            pieces.append(current)
            current = ""
        current += token
    pieces.append(current.rstrip(" "))
    return pieces


def _stuff(piece: str, depth: int) -> str:
    """Space-stuffing (RFC 3676 4.4): quoted lines always get one space after the marks;
    unquoted lines that start with a space, `>` or `From ` get one in front."""
    if depth:
        return " " + piece if piece else piece
    if piece.startswith((" ", ">", "From ")):
        return " " + piece
    return piece
