"""TLS verified by default, STARTTLS never downgraded, secrets never leaked."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import PASSWORD_ENV, Account
from faultproxy import FaultProxy
from servers import PASSWORD
from triage.cli import main


def test_a_self_signed_server_is_refused_unless_its_certificate_is_trusted(
        dovecot_account: Account, samples, capsys) -> None:
    dovecot_account.append(samples["other"][:2])
    tls = {"host": "localhost", "port": dovecot_account.server.tls_port, "security": "tls"}
    assert main(["run", "--config", str(dovecot_account.config(**tls))]) == 4
    err = capsys.readouterr().err
    assert "failed verification: self-signed certificate" in err and "set ca_file" in err

    trusted = dovecot_account.config(**tls, ca_file=str(dovecot_account.server.cert))
    assert main(["run", "--config", str(trusted)]) == 0
    assert "2 new" in capsys.readouterr().out


def test_starttls_with_a_trusted_certificate_works(dovecot_account: Account, samples,
                                                   capsys) -> None:
    dovecot_account.append(samples["other"][:1])
    config = dovecot_account.config(host="localhost", security="starttls",
                                    ca_file=str(dovecot_account.server.cert))
    assert main(["run", "--config", str(config)]) == 0
    assert "1 new" in capsys.readouterr().out


def starttls_through_proxy(account: Account) -> FaultProxy:
    """Run triage with security = "starttls" through a recording proxy; expect exit code 4."""
    proxy = FaultProxy(account.server.port)
    try:
        config = account.config(host="localhost", port=proxy.port, security="starttls")
        assert main(["run", "--config", str(config)]) == 4
    finally:
        proxy.close()
    return proxy


def test_a_failed_starttls_handshake_aborts_before_credentials(dovecot_account: Account,
                                                               capsys) -> None:
    proxy = starttls_through_proxy(dovecot_account)
    assert "failed verification: self-signed certificate" in capsys.readouterr().err
    assert b"STARTTLS" in proxy.client_log
    assert b"LOGIN" not in proxy.client_log and b"AUTHENTICATE" not in proxy.client_log
    assert PASSWORD.encode() not in proxy.client_log


def test_a_server_without_starttls_gets_no_credentials(pymap_account: Account, capsys) -> None:
    proxy = starttls_through_proxy(pymap_account)
    assert "does not offer STARTTLS; refusing to log in" in capsys.readouterr().err
    assert b"LOGIN" not in proxy.client_log and PASSWORD.encode() not in proxy.client_log


def test_the_password_never_appears_in_debug_output(dovecot_account: Account, samples) -> None:
    dovecot_account.append(samples["targeted"][:2] + samples["other"][:2])
    config = dovecot_account.config()
    env = {**os.environ, PASSWORD_ENV: PASSWORD}
    done = subprocess.run([sys.executable, "-m", "triage", "run", "--config", str(config), "-vvv"],
                          env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    output = done.stdout + done.stderr
    assert b"4 new" in output and b"LOGIN" in output, "debug logging really was on"
    assert PASSWORD.encode() not in output
    state = dovecot_account.tmp / "state"
    for path in state.iterdir():
        assert PASSWORD.encode() not in path.read_bytes(), path
