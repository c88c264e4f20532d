"""A small scriptable IMAP server on loopback that misbehaves on purpose, for the tests.

`Script` answers just enough IMAP4rev1 for a triage run (LOGIN, CAPABILITY, LIST, SELECT,
EXAMINE, UID SEARCH, UID FETCH, UID STORE, APPEND, LOGOUT) over one INBOX; subclasses in
the tests override one method to misbehave there. Answers are generators of byte chunks, so
a flood or a 200 MB body is streamed, never held, and a trickle can sleep between bytes.
The server counts what it sent and records the commands it received.
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
from typing import Iterable, Iterator

from listeners import Listener

Chunks = Iterable[bytes]
_COMMAND = re.compile(rb"^(?P<tag>\S+) (?:UID )?(?P<name>[A-Za-z]+)(?: (?P<args>.*))?$", re.S)
_LITERAL = re.compile(rb"\{(\d+)\+?\}$")
_PARTIAL = re.compile(rb"BODY\.PEEK\[\]<0\.(\d+)>")


class Script:
    """A well-behaved minimal server holding `message` as UID 1 of INBOX."""

    capabilities = b"IMAP4rev1 AUTH=PLAIN UIDPLUS MOVE"
    message = b"From: Jo <jo@example.org>\r\nSubject: hello\r\nMessage-ID: <m1@example.org>\r\n\r\nhi\r\n"

    tls: ssl.SSLContext | None = None  # set: STARTTLS is offered, with this server context
    after_starttls_ok = b""  # sent with the OK to STARTTLS, before the handshake

    def __init__(self) -> None:
        self.sent = 0
        self.commands: list[bytes] = []
        self.lock = threading.Lock()

    # -- answers; override one to misbehave -----------------------------------------
    def select(self, tag: bytes) -> Chunks:
        yield (b"* 1 EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen \\Answered \\Flagged \\Deleted "
               b"\\Draft)\r\n* OK [PERMANENTFLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft "
               b"\\*)] ok\r\n" + self.uidvalidity() + b"* OK [UIDNEXT 2] ok\r\n" + tag +
               b" OK [READ-WRITE] selected\r\n")

    def uidvalidity(self) -> bytes:
        return b"* OK [UIDVALIDITY 7] ok\r\n"

    def size(self) -> int:
        """What RFC822.SIZE says."""
        return len(self.message)

    def body(self) -> tuple[int, Chunks]:
        """The whole message: its length and its bytes in chunks."""
        return len(self.message), [self.message]

    def fetch(self, tag: bytes, args: bytes) -> Chunks:
        if b"RFC822.SIZE" in args:
            yield b"* 1 FETCH (UID 1 RFC822.SIZE %d FLAGS ())\r\n" % self.size()
        elif b"BODY.PEEK[]" in args:
            partial = _PARTIAL.search(args)
            yield from self.body_response(int(partial.group(1)) if partial else None)
        yield tag + b" OK fetched\r\n"

    def body_response(self, limit: int | None) -> Chunks:
        """BODY[] whole, or BODY[]<0> with at most `limit` bytes, as RFC 3501 says."""
        length, chunks = self.body()
        count = length if limit is None else min(limit, length)
        name = b"BODY[]" if limit is None else b"BODY[]<0>"
        yield b"* 1 FETCH (UID 1 %s {%d}\r\n" % (name, count)
        left = count
        for chunk in chunks:
            if left <= 0:
                break
            yield chunk[:left]
            left -= len(chunk[:left])
        yield b")\r\n"

    def search(self, tag: bytes, args: bytes) -> Chunks:
        found = b" 1" if args.upper().startswith(b"UID") else b""
        yield b"* SEARCH" + found + b"\r\n" + tag + b" OK searched\r\n"

    def list(self, tag: bytes, args: bytes) -> Chunks:
        if args.endswith(b'""'):
            yield b'* LIST (\\Noselect) "/" ""\r\n'
        elif args.endswith((b'"*"', b"*")):
            yield (b'* LIST (\\HasNoChildren) "/" INBOX\r\n'
                   b'* LIST (\\HasNoChildren \\Drafts) "/" Drafts\r\n')
        elif b"Drafts" in args or b"INBOX" in args:
            name = b"Drafts" if b"Drafts" in args else b"INBOX"
            yield b'* LIST (\\HasNoChildren) "/" ' + name + b"\r\n"
        yield tag + b" OK listed\r\n"

    # -- protocol machinery ------------------------------------------------------------
    def answer(self, tag: bytes, name: bytes, args: bytes) -> Chunks:
        upper = name.upper()
        if upper == b"CAPABILITY":
            offered = self.capabilities + (b" STARTTLS" if self.tls else b"")
            return [b"* CAPABILITY " + offered + b"\r\n" + tag + b" OK done\r\n"]
        if upper in (b"SELECT", b"EXAMINE"):
            return self.select(tag)
        if upper == b"FETCH":
            return self.fetch(tag, args)
        if upper == b"SEARCH":
            return self.search(tag, args)
        if upper in (b"LIST", b"LSUB"):
            return self.list(tag, args)
        if upper == b"APPEND":
            return [tag + b" OK [APPENDUID 9 1] appended\r\n"]
        if upper == b"LOGOUT":
            return [b"* BYE bye\r\n" + tag + b" OK bye\r\n"]
        return [tag + b" OK done\r\n"]

    def serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            self._send(conn, [b"* OK [CAPABILITY " + self.capabilities + b"] hostile ready\r\n"])
            while line := reader.readline(100_000):
                if self.tls and line.upper().endswith(b" STARTTLS\r\n"):
                    self._send(conn, [line.split(b" ")[0] + b" OK begin TLS\r\n" +
                                      self.after_starttls_ok])
                    reader.close()
                    conn = self.tls.wrap_socket(conn, server_side=True)
                    reader = conn.makefile("rb")
                    continue
                line = self._with_literals(conn, reader, line.rstrip(b"\r\n"))
                with self.lock:
                    self.commands.append(line[:200])
                match = _COMMAND.match(line)
                if not match:
                    self._send(conn, [b"* BAD what?\r\n"])
                    continue
                self._send(conn, self.answer(match["tag"], match["name"], match["args"] or b""))
                if match["name"].upper() == b"LOGOUT":
                    return
        except OSError:
            return
        finally:
            reader.close()
            conn.close()

    def _with_literals(self, conn: socket.socket, reader: object, line: bytes) -> bytes:
        while literal := _LITERAL.search(line):
            if not literal.group(0).endswith(b"+}"):
                conn.sendall(b"+ go ahead\r\n")
            data = reader.read(int(literal.group(1)))  # type: ignore[attr-defined]
            line = line[:literal.start()] + b"<literal %d>" % len(data) + \
                reader.readline(100_000).rstrip(b"\r\n")  # type: ignore[attr-defined]
        return line

    def _send(self, conn: socket.socket, chunks: Chunks) -> None:
        for chunk in chunks:
            conn.sendall(chunk)
            with self.lock:
                self.sent += len(chunk)


class HostileServer(Listener):
    """Listens on 127.0.0.1:port and serves every connection with `script` in a thread."""

    def __init__(self, script: Script) -> None:
        self.script = script
        super().__init__()

    def serve(self, conn: socket.socket) -> None:
        self.script.serve(conn)

    def close(self) -> None:
        for conn in self.open:  # the client sees the line end at once, not at its timeout
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        super().close()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def repeated(piece: bytes, total: int) -> Iterator[bytes]:
    """`total` bytes made of `piece`, in chunks of about 64 KB, never held at once."""
    block = piece * max(1, 65_536 // len(piece))
    left = total
    while left > 0:
        yield block[:left]
        left -= len(block[:left])


def trickle(data: bytes, seconds_per_byte: float, give_up_after: float) -> Iterator[bytes]:
    """`data` one byte at a time; after `give_up_after` s the server closes the connection."""
    started = time.monotonic()
    for i in range(len(data)):
        if time.monotonic() - started > give_up_after:
            raise ConnectionAbortedError("the trickle gave up")
        time.sleep(seconds_per_byte)
        yield data[i:i + 1]
