"""Bounded reading of what an IMAP server sends: nothing it says can outgrow memory or the deadline.

imaplib reads lines and literals from a buffered file with no limit but its own 1 MB line
check, and a socket timeout that restarts with every byte received. `BoundedReads`
replaces its `readline` and `read` (the two methods all of imaplib's and imapclient's
parsing goes through) with versions that read the socket directly and enforce `Limits`:

- a response line is at most `max_line` bytes, a literal at most `max_literal` bytes
  (checked on the announced size, before anything is read);
- the answer to one command is at most `command_bytes` bytes and `command_lines` lines,
  and unsolicited responses kept between commands at most `command_lines`;
- every socket wait ends by the run's deadline (`deadline`, a `time.monotonic()` value).

Breaking a limit raises `LimitExceeded`, passing the deadline `DeadlinePassed`; both are
`imaplib.IMAP4.abort`s, so imaplib and imapclient let them through, and mailbox.py turns
them into one-line errors. Only stdlib imports here; mailbox.py mixes this into imapclient's
IMAP4 classes.
"""

from __future__ import annotations

import imaplib
import socket
import time
from dataclasses import dataclass
from typing import NoReturn

MAX_LINE_BYTES = 1_000_000  # imaplib's own limit; a SEARCH answer of ~120,000 UIDs fits
MAX_COMMAND_BYTES = 16 * 1024 * 1024  # answer to one command, unless the mailbox allows more
MAX_COMMAND_LINES = 100_000  # response lines to one command (LIST of many folders fits)
RECV_BYTES = 65_536


class LimitExceeded(imaplib.IMAP4.abort):
    """Raised when the server sends more than a limit allows (line, literal, answer size)."""


class DeadlinePassed(imaplib.IMAP4.abort):
    """Raised when the run's deadline passes while waiting for the server."""


@dataclass
class Limits:
    """What one connection may receive; `command_bytes` is raised per command by the mailbox."""

    read_timeout: float
    max_literal: int
    deadline: float | None = None
    run_deadline: float = 0.0  # the configured seconds, for the message only
    max_line: int = MAX_LINE_BYTES
    command_bytes: int = MAX_COMMAND_BYTES
    command_lines: int = MAX_COMMAND_LINES

    def seconds_left(self) -> float | None:
        """Time until the deadline (None: no deadline); raises DeadlinePassed when none is left."""
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise DeadlinePassed(f"the run deadline (run_deadline = {self.run_deadline:g} s) passed "
                                 "while waiting for the server; the next run resumes")
        return left

    def socket_timeout(self) -> float:
        """The read timeout, shortened to the time left before the deadline."""
        left = self.seconds_left()
        return self.read_timeout if left is None else min(self.read_timeout, left)


class BoundedReads(imaplib.IMAP4):
    """Mixin for imaplib.IMAP4 subclasses: bounded `readline`/`read` straight from the socket.

    Call `_bound(limits)` before `IMAP4.__init__`, which already reads the greeting.
    """

    limits: Limits
    _rbuf: bytearray
    _rsock: object
    _received: int
    _lines: int
    _broken: imaplib.IMAP4.abort | None

    def _bound(self, limits: Limits) -> None:
        self.limits, self._rbuf, self._rsock, self._broken = limits, bytearray(), None, None
        self._received = self._lines = 0

    def _new_tag(self) -> bytes:
        """Every command (imaplib's and imapclient's) starts here: reset the per-command counts."""
        self._usable()
        kept = sum(len(v) for v in self.untagged_responses.values())
        if kept > self.limits.command_lines:
            self._fail(LimitExceeded(f"the server sent more than {self.limits.command_lines:,} "
                                     "unsolicited responses; a flooding server is not used"))
        self._received = self._lines = 0
        return super()._new_tag()  # type: ignore[misc]  # imaplib internal, not in typeshed

    def readline(self) -> bytes:
        self._usable()
        self._same_socket()
        while True:
            end = self._rbuf.find(b"\n")
            if end >= 0:
                line = bytes(self._rbuf[:end + 1])
                del self._rbuf[:end + 1]
                self._count_line()
                return line
            if len(self._rbuf) > self.limits.max_line:
                self._fail(LimitExceeded(f"the server sent a response line longer than "
                                         f"{self.limits.max_line:,} bytes: not an IMAP answer"))
            if not self._fill():
                line = bytes(self._rbuf)  # connection closed: imaplib reports the end
                self._rbuf.clear()
                return line

    def read(self, size: int) -> bytes:
        self._usable()
        if size > self.limits.max_literal:
            self._fail(LimitExceeded(f"the server announced a literal of {size:,} bytes, over the "
                                     f"{self.limits.max_literal:,} allowed (max_message_bytes)"))
        self._same_socket()
        while len(self._rbuf) < size and self._fill():
            pass
        data = bytes(self._rbuf[:size])
        del self._rbuf[:size]
        return data

    def _count_line(self) -> None:
        self._lines += 1
        if self._lines > self.limits.command_lines:
            self._fail(LimitExceeded(f"the server sent more than {self.limits.command_lines:,} "
                                     "response lines to one command; a flooding server is not used"))

    def _same_socket(self) -> None:
        """After STARTTLS swapped the socket, nothing received in plaintext may be read as TLS."""
        if self.sock is not self._rsock:
            if self._rbuf:
                self._fail(LimitExceeded("the server sent data after accepting STARTTLS, before "
                                         "TLS was set up (an injection attempt); refusing to go on"))
            self._rsock = self.sock

    def _fill(self) -> bool:
        """Receive once into the buffer, within the read timeout and the deadline; False at EOF."""
        sock = self.sock
        try:
            if sock.gettimeout() != 0.0:  # non-blocking during IDLE polling: leave as it is
                sock.settimeout(self.limits.socket_timeout())
            try:
                data = sock.recv(RECV_BYTES)
            except socket.timeout:
                self.limits.seconds_left()  # raises DeadlinePassed if that is why we waited
                raise
        except DeadlinePassed as exc:
            self._fail(exc)
        self._received += len(data)
        if self._received > self.limits.command_bytes:
            self._fail(LimitExceeded(f"the server sent more than {self.limits.command_bytes:,} "
                                     "bytes in answer to one command; a flooding server is not used"))
        self._rbuf += data
        return bool(data)

    def _fail(self, exc: imaplib.IMAP4.abort) -> NoReturn:
        """Raise `exc` and keep raising it: what is left of this answer must never be parsed."""
        self._broken = exc
        raise exc

    def _usable(self) -> None:
        if self._broken is not None:
            raise type(self._broken)(*self._broken.args)
