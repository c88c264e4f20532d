"""A hostile server cannot hurt the user: bounded memory, the deadline holds, one-line errors.

Each test runs `triage run` in this process against a small misbehaving IMAP server on
loopback (tests/hostileserver.py) and checks the exit code, the one line on stderr, the
memory the run allocated (tracemalloc, with the shipped model loaded beforehand) and, for
waits, that the run finished near its deadline (generously bounded: not a speed goal).
"""

from __future__ import annotations

import itertools
import random
import socket
import sqlite3
import ssl
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import pytest

import triage.cli
import triage.cli.filecmds
import triage.session
from conftest import PASSWORD_ENV, ROOT, _toml
from hostileserver import Chunks, HostileServer, Script, repeated, trickle
from servers import make_cert
from triage.classifier import Model, load_model
from triage.cli import EXIT_CONNECTION, EXIT_FAILED, EXIT_OK, main

MB = 1024 * 1024
NO_RETRY_EXPECTED = {"retries": 3, "retry_backoff": 30.0}  # a retry would wait 30 s first
SAMPLE = sorted((ROOT / "training_data" / "other").glob("*.eml"))[0]


@dataclass
class Outcome:
    code: int
    out: str
    err: list[str]
    peak_bytes: int
    seconds: float


@pytest.fixture(scope="module")
def model() -> Model:
    return load_model(ROOT / "models")


@pytest.fixture
def run(tmp_path: Path, model: Model, monkeypatch: pytest.MonkeyPatch, capsys):
    """Run `triage run` against `script`; the model is loaded before memory is measured."""
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    monkeypatch.setattr(triage.session, "load_predictor", lambda _directory: model)

    def go(script: Script, trace: bool = True, **account: object) -> Outcome:
        """`trace=False`: memory not measured (tracemalloc slows deep recursion 50-fold)."""
        with HostileServer(script) as server:
            path = write_config(tmp_path, server.port, **account)
            capsys.readouterr()
            if trace:
                tracemalloc.start()
            started = time.monotonic()
            try:
                code = main(["run", "--config", str(path)])
            finally:
                seconds = time.monotonic() - started
                peak = tracemalloc.get_traced_memory()[1] if trace else 0
                tracemalloc.stop()
        captured = capsys.readouterr()
        outcome = Outcome(code, captured.out, captured.err.splitlines(), peak, seconds)
        print(f"{type(script).__name__}: exit {code}, {peak / MB:.1f} MB allocated, "
              f"{seconds:.1f} s, server sent {script.sent:,} bytes")  # shown when a test fails
        return outcome

    return go


def write_config(tmp: Path, port: int, **account: object) -> Path:
    values: dict[str, object] = {
        "name": "test", "host": "127.0.0.1", "port": port, "security": "plain",
        "username": "dana", "password_env": PASSWORD_ENV, "folders": ["INBOX"], "retries": 0,
        "read_timeout": 10.0, "connect_timeout": 10.0, "corrections_folder": ""}
    values.update(account)
    lines = ["[[accounts]]"] + [f"{k} = {_toml(v)}" for k, v in values.items()]
    lines += ["", "[me]", 'name = "Dana Smith"', 'email = "dana@example.com"', "",
              "[state]", f"dir = {_toml(str(tmp / 'state'))}", ""]
    path = tmp / "config.toml"
    path.write_text("\n".join(lines))
    return path


def one_error(outcome: Outcome, *words: str) -> str:
    """The single stderr line, which must say all `words`."""
    assert len(outcome.err) == 1, outcome.err
    line = outcome.err[0]
    assert line.startswith("triage: error: test: "), line
    for word in words:
        assert word in line, (word, line)
    assert len(line) < 400, line
    return line


class Flood(Script):
    """Answers SELECT with two million untagged responses and never completes it."""

    def select(self, tag: bytes) -> Chunks:
        yield from repeated(b"* OK flood of nonsense\r\n", 2_000_000 * 24)


def test_a_flood_of_untagged_responses_ends_the_run_in_bounded_memory(run) -> None:
    outcome = run(Flood(), **NO_RETRY_EXPECTED)
    assert outcome.code == EXIT_CONNECTION
    one_error(outcome, "selecting INBOX: the server sent more than 100,000 response lines to "
              "one command")
    assert outcome.seconds < 60, "not retried: the server would flood again"
    assert outcome.peak_bytes < 40 * MB, f"the run allocated {outcome.peak_bytes / MB:.0f} MB"


class Trickle(Script):
    """Announces the body, then sends one byte every 0.4 s; closes after 40 s."""

    def body(self) -> tuple[int, Chunks]:
        return len(self.message), trickle(self.message, 0.4, give_up_after=40)


def test_a_trickled_literal_cannot_keep_the_run_past_its_deadline(run) -> None:
    outcome = run(Trickle(), run_deadline=3.0, read_timeout=2.0, **NO_RETRY_EXPECTED)
    assert outcome.code == EXIT_CONNECTION
    one_error(outcome, "fetching message bodies: the run deadline (run_deadline = 3 s) passed")
    assert outcome.seconds < 20, f"the run lasted {outcome.seconds:.0f} s with run_deadline = 3"


class SizeLie(Script):
    """RFC822.SIZE says 2 KB; the body is 60 MB (streamed, never held)."""

    def size(self) -> int:
        return 2048

    def body(self) -> tuple[int, Chunks]:
        padding = 60 * MB
        return (len(self.message) + padding,
                itertools.chain([self.message], repeated(b"padding padding padding\r\n", padding)))


def test_a_body_larger_than_announced_is_never_read_past_the_cap(run, tmp_path: Path) -> None:
    script = SizeLie()
    script.message = SAMPLE.read_bytes()
    outcome = run(script, max_message_bytes=100_000)
    assert outcome.code == EXIT_OK, outcome.err
    assert outcome.err == []
    assert ": 1 new (" in outcome.out and "0 failed" in outcome.out, outcome.out
    assert script.sent < 400_000, f"the server sent {script.sent:,} bytes"
    assert outcome.peak_bytes < 40 * MB, f"the run allocated {outcome.peak_bytes / MB:.0f} MB"
    with sqlite3.connect(tmp_path / "state" / "test.sqlite") as db:
        notes = [n for n, in db.execute("SELECT note FROM messages WHERE uid = 1")]
    assert len(notes) == 1 and "oversize" in notes[0], notes


class HugeLiteral(Script):
    """Announces a 99,999,999,999,999-byte literal."""

    def body_response(self, limit: int | None) -> Chunks:
        yield b"* 1 FETCH (UID 1 BODY[]<0> {99999999999999}\r\n"
        yield b"tiny"


def test_a_literal_announced_too_large_is_one_line_not_memory_error(run) -> None:
    outcome = run(HugeLiteral(), **NO_RETRY_EXPECTED)
    assert outcome.code == EXIT_CONNECTION
    one_error(outcome, "fetching message bodies: the server announced a literal of "
              "99,999,999,999,999 bytes")
    assert outcome.seconds < 20, "not retried: the server would announce it again"


class GarbageLine(Script):
    """Answers SELECT with a 3 MB line of garbage."""

    def select(self, tag: bytes) -> Chunks:
        yield from repeated(b"\x01garbage ", 3 * MB)
        yield b"\r\n"


def test_a_3_mb_garbage_line_is_a_protocol_error_not_a_config_error(run) -> None:
    outcome = run(GarbageLine(), **NO_RETRY_EXPECTED)
    assert outcome.code == EXIT_CONNECTION
    line = one_error(outcome, "selecting INBOX: the server sent a response line longer than "
                     "1,000,000 bytes")
    assert outcome.seconds < 20, "not retried: the server would send it again"
    assert "config" not in line
    assert outcome.peak_bytes < 40 * MB, f"the run allocated {outcome.peak_bytes / MB:.0f} MB"


class NoUidValidity(Script):
    def uidvalidity(self) -> bytes:
        return b""


class BadUidValidity(Script):
    def uidvalidity(self) -> bytes:
        return b"* OK [UIDVALIDITY seven] ok\r\n"


@pytest.mark.parametrize("script, words", [
    (NoUidValidity, ("no valid UIDVALIDITY for 'INBOX'",)),
    (BadUidValidity, ("selecting INBOX: the server's answer is not valid IMAP", "seven")),
])
def test_select_without_a_valid_uidvalidity_is_one_clear_line_and_not_retried(
        run, script, words) -> None:
    outcome = run(script(), **NO_RETRY_EXPECTED)
    assert outcome.code == EXIT_CONNECTION
    one_error(outcome, *words)
    assert outcome.seconds < 20, "not retried: the server would answer the same"


def test_a_well_behaved_script_server_runs_cleanly(run) -> None:
    """The control: the same server without a fault is processed normally."""
    script = Script()
    script.message = SAMPLE.read_bytes()
    outcome = run(script)
    assert (outcome.code, outcome.err) == (EXIT_OK, [])
    assert ": 1 new (" in outcome.out and "0 failed" in outcome.out, outcome.out
    fetches = [c for c in script.commands if b"BODY.PEEK[]" in c]
    assert fetches and all(b"BODY.PEEK[]<0." in c for c in fetches), fetches


def deep_mime(levels: int, attached: bool = False) -> bytes:
    """A message whose MIME tree (or chain of attached messages) is `levels` deep."""
    head = b"From: Deep <deep@example.org>\r\nTo: dana@example.com\r\nSubject: deep\r\n"
    if attached:
        level = b"MIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n"
        return head + level * levels + b"Subject: inner\r\n\r\ndeep text\r\n"
    nested = b"".join(b"Content-Type: multipart/mixed; boundary=n%d\r\n\r\n--n%d\r\n" % (i, i)
                      for i in range(levels))
    return head + b"MIME-Version: 1.0\r\n" + nested + b"Content-Type: text/plain\r\n\r\ndeep\r\n"


@pytest.mark.parametrize("attached", [False, True])
def test_a_3000_deep_mime_tree_fails_that_message_in_one_line(
        tmp_path: Path, capsys, model: Model, monkeypatch: pytest.MonkeyPatch, attached: bool) -> None:
    monkeypatch.setattr(triage.cli.filecmds, "load_model", lambda _directory: model)
    path = tmp_path / "deep.eml"
    path.write_bytes(deep_mime(3000, attached))
    assert main(["classify", "--models", str(ROOT / "models"), str(path)]) == EXIT_FAILED
    err = capsys.readouterr().err.splitlines()
    assert err == [f"triage: error: {path}: MIME parts or attached messages are nested too deeply "
                   "to parse (hundreds of levels)"]


def test_a_run_fails_the_deep_message_and_exits_1(run) -> None:
    script = Script()
    script.message = deep_mime(3000)
    outcome = run(script, trace=False)
    assert outcome.code == EXIT_FAILED
    assert ": 0 new (" in outcome.out and "1 failed" in outcome.out, outcome.out
    assert len(outcome.err) == 1 and "UID 1: unparsable: ParseError: MIME parts" in outcome.err[0]


def starttls_script(tmp_path: Path, injected: bytes) -> tuple[Script, Path]:
    cert, key = make_cert(tmp_path)
    script = Script()
    script.message = SAMPLE.read_bytes()
    script.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    script.tls.load_cert_chain(cert, key)
    script.after_starttls_ok = injected
    return script, cert


def test_data_injected_before_the_starttls_handshake_is_refused(run, tmp_path: Path) -> None:
    script, cert = starttls_script(tmp_path, b"* 1 FETCH (FLAGS (\\Seen))\r\n")
    outcome = run(script, security="starttls", ca_file=str(cert))
    assert outcome.code == EXIT_CONNECTION
    one_error(outcome, "the server sent data after accepting STARTTLS, before TLS was set up")
    assert not any(b"LOGIN" in c for c in script.commands), "no credentials sent"


def test_starttls_without_injection_works(run, tmp_path: Path) -> None:
    script, cert = starttls_script(tmp_path, b"")
    outcome = run(script, security="starttls", ca_file=str(cert))
    assert (outcome.code, outcome.err) == (EXIT_OK, [])
    assert ": 1 new (" in outcome.out, outcome.out


class Garbled(Script):
    """A well-behaved server except that one answer (chosen by `seed`) is mangled at random."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.rng = random.Random(seed)
        self.target = self.rng.choice([b"SELECT", b"SEARCH", b"FETCH", b"LIST", b"STORE",
                                       b"CAPABILITY", b"LOGIN"])
        self.message = SAMPLE.read_bytes()

    def answer(self, tag: bytes, name: bytes, args: bytes) -> Chunks:
        chunks = super().answer(tag, name, args)
        if name.upper() != self.target:
            return chunks
        return [mangle(b"".join(chunks), self.rng)]


def mangle(data: bytes, rng: random.Random) -> bytes:
    """`data` with a few random edits of the kinds that break parsers; the tag line stays."""
    *body, tagged = data.rstrip(b"\r\n").split(b"\r\n")
    text = bytearray(b"\r\n".join(body))
    for _ in range(rng.randint(1, 4)):
        where = rng.randint(0, len(text))
        edit = rng.choice([b"{12}", b"{0}", b"(", b")", b'"', b"\x00", b"\xff\xfe", b"NIL",
                           b"\r\n* ", b"99999999999", b"-1", b"[", b"]", b"\\"])
        if rng.random() < 0.3 and text:
            del text[where:where + rng.randint(1, 10)]
        text[where:where] = edit
    return bytes(text) + (b"\r\n" if text else b"") + tagged + b"\r\n"


@pytest.mark.parametrize("seed", [*range(30), 219])  # 219: CAPABILITY without its line
def test_a_garbled_answer_never_ends_in_a_traceback(run, seed: int) -> None:
    outcome = run(Garbled(seed), trace=False, read_timeout=1.0, run_deadline=15.0)
    assert outcome.code in (EXIT_OK, EXIT_FAILED, EXIT_CONNECTION), outcome
    assert not any("refused the login" in line for line in outcome.err), outcome.err
    for line in outcome.err:
        assert line.startswith(("triage: error: test: ", "WARNING ", "ERROR ")), outcome.err
    assert len(outcome.err) <= 3, outcome.err


class HangsUp(Script):
    """Greets, then closes every connection: a transient failure, retried with backoff."""

    def serve(self, conn: socket.socket) -> None:
        conn.sendall(b"* OK hostile ready\r\n")
        conn.close()


def test_retry_backoff_never_waits_past_the_deadline(run) -> None:
    outcome = run(HangsUp(), trace=False, run_deadline=3.0, retries=5, retry_backoff=20.0)
    assert outcome.code == EXIT_CONNECTION
    assert outcome.err[-1].startswith("triage: error: test: "), outcome.err
    assert "run deadline" in outcome.err[-1], outcome.err
    assert outcome.seconds < 15, f"{outcome.seconds:.0f} s with run_deadline = 3 (backoff 20 s)"


class Drip(Script):
    """Adds 60,000 unsolicited EXISTS to every answer after LOGIN: under the per-command cap,
    but imaplib keeps them until the next SELECT, so they pile up across commands."""

    def answer(self, tag: bytes, name: bytes, args: bytes) -> Chunks:
        if name.upper() in (b"SEARCH", b"FETCH", b"LIST", b"STORE"):
            yield from repeated(b"* 1 EXISTS\r\n", 60_000 * 12)
        yield from super().answer(tag, name, args)


def test_unsolicited_responses_cannot_pile_up_across_commands(run) -> None:
    script = Drip()
    script.message = SAMPLE.read_bytes()
    outcome = run(script, trace=False, **NO_RETRY_EXPECTED)
    assert outcome.code == EXIT_CONNECTION
    one_error(outcome, "the server sent more than 100,000 unsolicited responses")
