"""Commands that talk to the mail server: run, watch, learn, doctor."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from dataclasses import replace

from .. import jsonout
from ..config import Config, load_config
from ..learn import CorrectionStore, Harvester, correction_key, create_correction_folders, shown_id
from ..ledger import LockBusy, Ledger, corrections_dir, ledger_path
from ..mailstore import MailboxError
from ..secrets import SecretError
from ..runner import Tally
from ..session import AccountResult, ModelOnce, open_session, run_account, run_options
from ..progress import FolderBars, on_terminal
from .common import (EXIT_AUTH, EXIT_CONNECTION, EXIT_FAILED, EXIT_MODEL, EXIT_OK, EXIT_USAGE,
                     _account_names, _accounts, _print_flush, account_failure, fail, Redactor)

log = logging.getLogger("triage")


# -- commands -------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    model = ModelOnce(config.model_dir)
    codes = []
    for account in _accounts(config, args.account):
        bars = FolderBars(account.name, on_terminal() and not args.json)
        planned: list[str] = []
        options = replace(run_options(account, args.dry_run, args.since), progress=bars)
        try:
            result = run_account(config, account, model, options, Redactor.secrets.add,
                                 planned.append if args.json else bars.write)
        finally:
            bars.close()
        codes.append(_finish_json(result, planned) if args.json else _finish(result, args.quiet))
    return max(codes, default=EXIT_OK)


def _finish_json(result: AccountResult, planned: list[str]) -> int:
    """`run --json`: the account's summary (or why there is none) as one JSON line."""
    if result.busy:
        record = jsonout.run_problem(result.account, "busy", result.busy, EXIT_OK)
    elif result.error is not None:
        code = account_failure(result.account, result.error)
        record = jsonout.run_problem(result.account, "error", str(result.error), code)
    else:
        assert result.tally is not None
        for problem in result.tally.folder_errors:
            fail(EXIT_USAGE, f"{result.account}: {problem}")
        record = jsonout.run_summary(result.tally, planned, _tally_code(result.tally))
    print(jsonout.line(record))
    return int(record["exit_code"])


def _finish(result: AccountResult, quiet: bool) -> int:
    """Print an account's summary (or its error) and give its exit code."""
    if result.busy:
        log.warning("%s", result.busy)
        if not quiet:
            print(f"triage: {result.account}: another run is in progress; nothing done")
        return EXIT_OK
    if result.error is not None:
        return account_failure(result.account, result.error)
    tally = result.tally
    assert tally is not None
    if not quiet or tally.processed or tally.failed or tally.skipped_folders or tally.pending_drafts:
        print(tally.line())
    for problem in tally.folder_errors:
        fail(EXIT_USAGE, f"{result.account}: {problem}")
    return _tally_code(tally)


def _tally_code(tally: Tally) -> int:
    """A finished run's exit code: drafts waiting or folders unusable, failures, or success."""
    if tally.pending_drafts or tally.folder_errors:
        return EXIT_USAGE  # labelled, nothing lost; the fix is a Drafts folder or drafts_folder
    return EXIT_FAILED if tally.failed or tally.skipped_folders else EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    from ..watch import Watch, WatchOptions
    config = load_config(args.config)
    options = WatchOptions(interval=args.interval, backoff_max=args.max_backoff, quiet=args.quiet)
    watch = Watch(config, _accounts(config, args.account), ModelOnce(config.model_dir), options,
                  Redactor.secrets.add, _print_flush)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: watch.stop.set())
    try:
        error = watch.run()
    except LockBusy as exc:
        print(f"triage: {exc}; this watch does nothing", file=sys.stderr)
        return EXIT_OK
    except SecretError as exc:
        return account_failure("watch", exc)
    return account_failure("watch", error) if error is not None else EXIT_OK


def cmd_learn(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    worst = EXIT_OK
    for name in _account_names(config, args.account):
        account = config.account(name)
        store = CorrectionStore(corrections_dir(config.state_dir, name))
        if args.list:
            with Ledger(ledger_path(config.state_dir, name)) as ledger:
                for c in ledger.corrections():
                    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(c.corrected_at))
                    print(f"{name}  {when}  {c.label:<8} (triage said {c.predicted or '-'})  "
                          f"{c.subject[:60]!r}  [{c.source}]  {shown_id(c.fingerprint)}")
            continue
        if args.forget is not None:
            worst = max(worst, _forget(config, name, store, args.forget))
            continue
        if not account.corrections_folder:
            print(f"triage: {name}: corrections_folder is \"\" in {config.path}: harvesting is off")
            continue
        worst = max(worst, _learn_account(config, name, store, args.create_folders))
    return worst


def _forget(config: Config, name: str, store: CorrectionStore, message_id: str) -> int:
    """Undo one correction: out of the ledger and the store (the server keyword stays)."""
    key = correction_key(message_id)
    if key is None:
        return fail(EXIT_USAGE, f"{message_id!r} is not a Message-ID such as <abc@example.com> "
                                "(copy it from `triage learn --list`)")
    with Ledger(ledger_path(config.state_dir, name)) as ledger:
        found = ledger.forget_correction(key)
    if found is None:
        print(f"triage: {name}: no correction of {message_id}")
        return EXIT_OK
    store.remove(key)
    print(f"triage: {name}: forgot the correction of {found.subject[:60]!r} to {found.label}; "
          "the next training does not learn it")
    return EXIT_OK


def _learn_account(config: Config, name: str, store: CorrectionStore, create: bool) -> int:
    account = config.account(name)
    try:
        with open_session(config, account, Redactor.secrets.add) as session:
            mbox = session.connect()
            try:
                if create:
                    for folder in create_correction_folders(mbox, account):
                        print(f"triage: {name}: created {folder}")
                found = Harvester(config, account, mbox, session.ledger, store).harvest(
                    keyword_days=None)
            finally:
                mbox.close()
    except LockBusy as exc:
        print(f"triage: {name}: {exc}")
        return EXIT_OK
    except (SecretError, MailboxError) as exc:
        return account_failure(name, exc)
    print(found.line(store.counts()))
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from ..doctor import FAIL, OK, Check, check_account, check_model
    config = load_config(args.config)
    if args.json:
        print(jsonout.line(jsonout.check(Check(OK, "config", str(config.path)))))
    else:
        print(f"ok   config {config.path}")
    checks: list[Check] = []
    for account in [None, *_accounts(config, args.account)]:
        found = [check_model(config)] if account is None else check_account(
            config, account, Redactor.secrets.add)
        for check in found:
            print(jsonout.line(jsonout.check(check)) if args.json else check.line(), flush=True)
            checks.append(check)
    failed = [c.kind for c in checks if c.status == FAIL]
    codes = {"auth": EXIT_AUTH, "connection": EXIT_CONNECTION, "model": EXIT_MODEL}
    return max((codes.get(kind, EXIT_USAGE) for kind in failed), default=EXIT_OK)
