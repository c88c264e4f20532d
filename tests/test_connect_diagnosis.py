"""Connection problems are named in seconds, with the setting that fixes them.

Each test points triage at a real socket on loopback (Dovecot's plain and TLS ports, or a
small fake listener) and asserts the exact message and exit code of `triage run` or
`triage doctor`. None of these failures is retried: the settings would fail again.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from conftest import PASSWORD_ENV, Account, _toml
from listeners import Banner, Listener, PlainIMAP, TLSPort, certificate
from servers import PASSWORD, free_port
from triage.cli import main

USUAL = 'IMAP is port 993 with security = "tls", 143 with "starttls"'


@pytest.fixture
def config_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write a one-account config (no server needed) and return its path."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)

    def write(**account: object) -> Path:
        values: dict[str, object] = {"name": "test", "host": "127.0.0.1", "security": "tls",
                                     "username": "alice", "password_env": PASSWORD_ENV,
                                     "connect_timeout": 2, **account}
        lines = ["[[accounts]]"] + [f"{k} = {_toml(v)}" for k, v in values.items()]
        lines += ["", "[me]", 'name = "Dana Smith"', 'email = "dana@example.com"',
                  "", "[state]", f"dir = {_toml(str(tmp_path / 'state'))}", ""]
        path = tmp_path / "config.toml"
        path.write_text("\n".join(lines))
        return path
    return write


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    made: list[Listener] = []
    yield made
    for listener in made:
        listener.close()


def run(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["run", "--config", str(config)])
    return code, capsys.readouterr().err


def error(message: str) -> str:
    return f"triage: error: test: {message}\n"


def test_a_refused_port_names_the_port_and_the_usual_ones(config_for, capsys) -> None:
    port = free_port()
    code, err = run(config_for(port=port, retries=0), capsys)
    assert (code, err) == (4, error(
        f"127.0.0.1:{port}: connection refused: nothing listens on port {port}; check port of "
        f"account 'test' ({USUAL}) and that the server runs"))


def test_tls_spoken_to_a_plain_port_says_so_and_is_not_retried(dovecot_account: Account,
                                                               capsys) -> None:
    port = dovecot_account.server.port
    code, err = run(dovecot_account.config(security="tls", retries=3, retry_backoff=30), capsys)
    assert (code, err) == (4, error(
        f"127.0.0.1:{port} speaks plain IMAP, not TLS: set security = \"starttls\" for this "
        "port, or use the server's TLS port (usually 993) for account 'test'"))


def test_starttls_spoken_to_the_tls_port_says_so_and_is_not_retried(dovecot_account: Account,
                                                                    capsys) -> None:
    port = dovecot_account.server.tls_port
    config = dovecot_account.config(security="starttls", port=port, connect_timeout=2,
                                    retries=3, retry_backoff=30)
    code, err = run(config, capsys)
    assert (code, err) == (4, error(
        f"127.0.0.1:{port} expects TLS from the first byte, not a plain IMAP greeting: set "
        "security = \"tls\" for this port (STARTTLS is usually on port 143) for account 'test'"))
    assert "LOGIN" not in dovecot_account.server.log_text().split("\n")[-1]


def test_a_self_signed_certificate_names_the_problem_and_the_ca_file_fix(
        dovecot_account: Account, capsys) -> None:
    port = dovecot_account.server.tls_port
    code, err = run(dovecot_account.config(host="localhost", port=port, security="tls"), capsys)
    assert (code, err) == (4, error(
        f"the certificate of localhost:{port} failed verification: self-signed certificate, not "
        "signed by an authority this machine trusts; if you trust this server, save its "
        "certificate (or its CA) as a PEM file and set ca_file to that file for account 'test'"))


def test_a_certificate_not_signed_by_ca_file_says_which_file(dovecot_account: Account,
                                                             tmp_path: Path, capsys) -> None:
    other, _ = certificate(tmp_path / "other", "DNS:localhost")
    port = dovecot_account.server.tls_port
    config = dovecot_account.config(host="localhost", port=port, security="tls",
                                    ca_file=str(other), connect_timeout=2)
    code, err = run(config, capsys)
    assert code == 4
    assert err.startswith(error(f"the certificate of localhost:{port} failed verification: ")[:-1])
    assert f"not signed by the CA in ca_file {str(other)!r}; if you trust this server" in err


def test_an_expired_certificate_is_named_and_ca_file_is_not_offered(
        config_for, listeners: list[Listener], tmp_path: Path, capsys) -> None:
    cert, key = certificate(tmp_path / "old", "DNS:localhost,IP:127.0.0.1",
                            "20200101000000Z", "20200102000000Z")
    server = TLSPort(cert, key)
    listeners.append(server)
    code, err = run(config_for(port=server.port, ca_file=str(cert)), capsys)
    assert (code, err) == (4, error(
        f"the certificate of 127.0.0.1:{server.port} failed verification: it has expired; its "
        "administrator must renew it (ca_file cannot fix an expired certificate; check this "
        "machine's clock too)"))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_certificate_for_another_host_names_the_hosts_it_is_for(
        host: str, config_for, listeners: list[Listener], tmp_path: Path, capsys) -> None:
    cert, key = certificate(tmp_path / "other-host", "DNS:imap.example.org,DNS:mail.example.org")
    server = TLSPort(cert, key)
    listeners.append(server)
    code, err = run(config_for(host=host, port=server.port, ca_file=str(cert)), capsys)
    assert (code, err) == (4, error(
        f"the certificate of {host}:{server.port} failed verification: it names "
        f"imap.example.org, mail.example.org, not {host!r}; set host of account 'test' to a "
        "name the certificate carries"))
    assert server.received == b""  # nothing, let alone a password, went over the failed TLS


def test_a_host_name_that_does_not_resolve_is_named(config_for, capsys) -> None:
    code, err = run(config_for(host="imap.no-such-host.invalid", port=993), capsys)
    assert code == 4
    assert err.startswith(error("imap.no-such-host.invalid:993: the host name "
                                "'imap.no-such-host.invalid' does not resolve (")[:-1])
    assert err.endswith("); check host of account 'test'\n")


def test_oauth_configured_but_not_offered_lists_what_is_offered(dovecot_account: Account,
                                                                capsys) -> None:
    code, err = run(dovecot_account.config(auth="xoauth2"), capsys)
    assert (code, err) == (3, error(
        "127.0.0.1 does not offer AUTH=XOAUTH2 (it offers: AUTH=LOGIN, AUTH=PLAIN); set auth of "
        "account 'test' to one it offers (\"password\" for LOGIN)"))
    assert f"user={dovecot_account.user}" not in dovecot_account.server.log_text()


def test_logindisabled_is_explained_before_any_credentials_are_sent(
        config_for, listeners: list[Listener], capsys) -> None:
    server = PlainIMAP("IMAP4rev1 STARTTLS LOGINDISABLED AUTH=PLAIN")
    listeners.append(server)
    code, err = run(config_for(port=server.port, security="plain"), capsys)
    assert (code, err) == (3, error(
        "127.0.0.1 refuses LOGIN on this connection (LOGINDISABLED): it wants TLS first; set "
        "security = \"tls\" or \"starttls\" for account 'test'"))
    assert b"LOGIN" not in server.received.upper() and PASSWORD.encode() not in server.received


@pytest.mark.parametrize("security, what", [("starttls", "IMAP greeting"),
                                            ("tls", "TLS handshake answer")])
def test_a_silent_port_is_told_from_a_refused_one(security: str, what: str, config_for,
                                                  listeners: list[Listener], capsys) -> None:
    server = Listener()
    listeners.append(server)
    code, err = run(config_for(port=server.port, security=security, connect_timeout=1,
                               retries=3, retry_backoff=30), capsys)
    assert (code, err) == (4, error(
        f"127.0.0.1:{server.port}: connected, but no {what} within 1 s (connect_timeout); is "
        f"port {server.port} an IMAP port? ({USUAL})"))


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_another_protocol_on_the_port_is_quoted(security: str, config_for,
                                                listeners: list[Listener], capsys) -> None:
    server = Banner(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    listeners.append(server)
    code, err = run(config_for(port=server.port, security=security, retries=3,
                               retry_backoff=30), capsys)
    assert (code, err) == (4, error(
        f"127.0.0.1:{server.port} is not an IMAP server: it said 'SSH-2.0-OpenSSH_9.2p1 "
        f"Debian-2'; check port of account 'test' ({USUAL})"))


def test_a_hostile_banner_is_bounded_and_loses_its_control_characters(
        config_for, listeners: list[Listener], capsys) -> None:
    server = Banner(b"220 \x1b]0;owned\x07" + b"A" * 5000 + b"\r\n")
    listeners.append(server)
    code, err = run(config_for(port=server.port, security="tls"), capsys)
    assert code == 4
    assert "\x1b" not in err and "\x07" not in err and "A" * 100 not in err
    assert f"is not an IMAP server: it said '220 ?]0;owned?{'A' * 46}…'; check port" in err


def test_doctor_prints_the_diagnosis_as_a_failed_check(dovecot_account: Account, capsys) -> None:
    port = dovecot_account.server.port
    code = main(["doctor", "--config", str(dovecot_account.config(security="tls"))])
    out = capsys.readouterr().out
    assert code == 4
    assert (f"FAIL test: 127.0.0.1:{port} speaks plain IMAP, not TLS: set security = "
            "\"starttls\" for this port") in out


def test_starttls_not_offered_refuses_before_credentials(config_for, listeners: list[Listener],
                                                         capsys) -> None:
    server = PlainIMAP("IMAP4rev1 AUTH=PLAIN")
    listeners.append(server)
    code, err = run(config_for(port=server.port, security="starttls", retries=3,
                               retry_backoff=30), capsys)
    assert (code, err) == (4, error(
        f"127.0.0.1:{server.port} does not offer STARTTLS; refusing to log in without encryption "
        "(use security = \"tls\" on port 993 if it has it)"))
    assert b"LOGIN" not in server.received.upper() and PASSWORD.encode() not in server.received


def test_a_tls_port_that_never_greets_is_told_from_one_that_never_handshakes(
        config_for, listeners: list[Listener], tmp_path: Path, capsys) -> None:
    cert, key = certificate(tmp_path / "quiet", "DNS:localhost,IP:127.0.0.1")

    class QuietTLS(TLSPort):  # like an HTTPS port: TLS works, then it waits for a request
        def serve(self, conn: socket.socket) -> None:
            tls = self.context.wrap_socket(conn, server_side=True)
            while tls.recv(4096):
                pass

    server = QuietTLS(cert, key)
    listeners.append(server)
    code, err = run(config_for(port=server.port, ca_file=str(cert), connect_timeout=1), capsys)
    assert (code, err) == (4, error(
        f"127.0.0.1:{server.port}: connected, but no IMAP greeting after the TLS handshake within "
        f"1 s (connect_timeout); is port {server.port} an IMAP port? ({USUAL})"))


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_the_greeting_is_awaited_for_connect_timeout_not_read_timeout(
        security: str, config_for, listeners: list[Listener]) -> None:
    server = Listener()
    listeners.append(server)
    config = config_for(port=server.port, security=security, connect_timeout=1, read_timeout=3600)
    env = {**os.environ, PASSWORD_ENV: PASSWORD}
    done = subprocess.run([sys.executable, "-m", "triage", "doctor", "--config", str(config)],
                          env=env, capture_output=True, text=True, timeout=120)  # not 3600 s
    assert done.returncode == 4
    assert "within 1 s (connect_timeout)" in done.stdout

