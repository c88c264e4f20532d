"""Command line: argument parsing, logging set-up, and errors turned into exit codes.

Nothing imports this module; it only calls the core.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import os
from importlib import resources
import json
import logging
import re
import signal
import sqlite3
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

from . import __version__, jsonout
from .classifier import ModelError, Prediction, explain, load_model, load_predictor
from .config import Account, Config, ConfigError, Me, default_config_path, load_config
from .learn import CorrectionStore, Harvester, correction_key, create_correction_folders, shown_id
from .locations import (choose_model, shipped_corpus_dir, shipped_eval_dir, shipped_model_dir,
                        user_model_dir)
from .doctor import FAIL, OK, Check, check_account, check_model
from .ledger import LockBusy, Ledger, corrections_dir, ledger_path
from .mailstore import AuthError, FolderError, MailboxError, ProtocolError
from .message import Message, ParseError, parse_message
from .replies import preview, template_environment
from .report import to_json, to_text
from .report_html import to_html
from .report_data import account_report, write_private
from .secrets import SecretError
from .runner import Tally
from .session import AccountResult, ModelOnce, open_session, run_account, run_options
from .statefiles import StateError
from .watch import Watch, WatchOptions
from .progress import FolderBars, Items, Stages, on_terminal
from .training import TrainingError, rollback, train

log = logging.getLogger("triage")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_CONNECTION, EXIT_STATE, EXIT_MODEL, \
    EXIT_REFUSED = range(8)
EXIT_CODES = f"""exit codes:
  {EXIT_OK}  success (also: another run holds the lock, so this one did nothing)
  {EXIT_FAILED}  some input could not be processed, or an unexpected error
  {EXIT_USAGE}  bad usage or configuration (the message names the key and the file); also
     drafts waiting for a Drafts folder, or a folder that cannot be used (others processed)
  {EXIT_AUTH}  the server refused the login, or the password source failed (not retried)
  {EXIT_CONNECTION}  connection, TLS or timeout error after retries; the next run resumes
  {EXIT_STATE}  the ledger or state folder is corrupt, unsafe or unwritable (never silently reset)
  {EXIT_MODEL}  no usable model: run `triage train`
  {EXIT_REFUSED}  training kept the current model because it scores better (use --force)
"""


class Redactor(logging.Filter):
    """Replaces registered secrets in log records by '***': as whole tokens, inside base64
    (an OAuth2 SASL payload), and the arguments of IMAP LOGIN and AUTHENTICATE commands.

    A secret is replaced where it stands alone (between spaces, quotes or punctuation), never
    inside a longer word: password "x" leaves "syntax" alone.
    """

    secrets: set[str] = set()
    _AUTH = re.compile(r"\b(LOGIN|AUTHENTICATE) \S.*")  # IMAP commands, upper case
    _BASE64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        redacted = self._AUTH.sub(lambda m: f"{m.group(1)} ***", text)
        redacted = self._BASE64.sub(self._payload, redacted)
        for secret in self.secrets:
            redacted = re.sub(rf"(?<![^\s\"'=:,;(\[{{<]){re.escape(secret)}(?![^\s\"',;)\]}}>.])",
                              "***", redacted)
        if redacted != text:
            record.msg, record.args = redacted, None
        return True

    def _payload(self, match: re.Match[str]) -> str:
        """A base64 word that decodes to text holding a secret (a SASL string) becomes '***'."""
        try:
            decoded = base64.b64decode(match.group(0) + "=" * (-len(match.group(0)) % 4))
        except ValueError:
            return match.group(0)
        text = decoded.decode("latin-1")
        return "***" if any(s in text for s in self.secrets) else match.group(0)


def setup_logging(verbosity: int) -> None:
    """Warnings always; -v: one line per acted-on message; -vv: debug (secrets redacted)."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(Redactor())
    handler.set_name("triage-cli")
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "triage-cli"] + [handler]
    root.setLevel(level)
    logging.getLogger("imapclient").setLevel(logging.DEBUG if verbosity >= 3 else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `triage` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # here, so a reader that left is noticed while it can be handled
        return code
    except BrokenPipeError:
        return _reader_gone()
    except ConfigError as exc:
        return fail(EXIT_USAGE, str(exc))
    except ModelError as exc:
        return fail(EXIT_MODEL, str(exc))
    except StateError as exc:  # LedgerError too
        return fail(EXIT_STATE, str(exc))
    except sqlite3.Error as exc:
        return fail(EXIT_STATE, f"the ledger failed ({exc}); free disk space or fix the state "
                    "folder's permissions, then run again")
    except SecretError as exc:
        return fail(EXIT_AUTH, str(exc))
    except TrainingError as exc:
        code = EXIT_REFUSED if "--force" in str(exc) else EXIT_USAGE
        return fail(code, str(exc))
    except KeyboardInterrupt:
        return fail(EXIT_FAILED, "interrupted")


def _reader_gone() -> int:
    """stdout's reader left (`triage log | head`): stop quietly, with no traceback at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_OK


PLACEHOLDER_ME = Me(name="Your Name", email="you@example.invalid")


def fail(code: int, message: str) -> int:
    print(f"triage: error: {message}", file=sys.stderr)
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triage", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Sort recruiter mail in an IMAP inbox (targeted, referral, mass, other) and "
                    "draft polite replies to targeted outreach. Never sends, deletes or marks read.",
        epilog=EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"triage {__version__}")
    def usage(_: argparse.Namespace) -> int:
        parser.print_help()
        return EXIT_USAGE

    parser.set_defaults(func=usage, verbose=0)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(name: str, func: Callable[[argparse.Namespace], int], help_text: str,
                account: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=EXIT_CODES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=func)
        p.add_argument("-v", "--verbose", action="count", default=0,
                       help="-v: a line per message; -vv: debug (secrets are redacted)")
        if account:
            p.add_argument("--config", type=Path, default=None,
                           help=f"config file (default: {default_config_path()})")
            p.add_argument("--account", help="only this account (default: all)")
        return p

    p = command("run", cmd_run, "Fetch new mail once, classify, label, draft, record; one summary "
                "line per account.", account=True)
    p.add_argument("--dry-run", action="store_true",
                   help="print the plan a real run would carry out; change nothing")
    p.add_argument("--since", type=_date, default=None, metavar="YYYY-MM-DD",
                   help="also process older mail below the watermark that arrived since DATE "
                        "(a deliberate backfill; mail already handled is recognised)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print the summary only when something was processed or failed")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per account (with the plan of a dry run) on stdout")
    p = command("watch", cmd_watch, "Stay connected to every account and folder (a connection "
                "each): process new mail as it arrives (IMAP IDLE, or NOOP polling), reconnect "
                "after drops, stop cleanly on SIGTERM/SIGINT.", account=True)
    p.add_argument("--interval", type=float, default=600,
                   help="re-scan at least this often even without news (s, default 600)")
    p.add_argument("--max-backoff", type=float, default=60,
                   help="longest wait between reconnection attempts (s, default 60)")
    p.add_argument("-q", "--quiet", action="store_true", help="summaries only when work was done")
    p = command("classify", cmd_classify, "Classify .eml files or folders of them (recursive), "
                "no server needed.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--json", action="store_true", help="JSON Lines with scores")
    p.add_argument("--models", type=Path, default=None,
                   help="model folder; it must be trusted, a model file is code (default: yours if "
                        "`triage train` made one, else the shipped one)")
    p = command("explain", cmd_explain, "Show why a message gets its label: probabilities and the "
                "words and signals that pushed it.")
    p.add_argument("path", type=Path, metavar="FILE.eml")
    p.add_argument("--models", type=Path, default=None,
                   help="model folder; it must be trusted, a model file is code (default: yours if "
                        "`triage train` made one, else the shipped one)")
    p = command("draft", cmd_draft, "Show the reply triage would draft for a message, no server "
                "needed: language, recruiter's first name, company and role with confidences.")
    p.add_argument("path", type=Path, metavar="FILE.eml")
    p.add_argument("--json", action="store_true", help="one JSON object with the extracted fields")
    p.add_argument("--config", type=Path, default=None,
                   help=f"identity and templates from this config (default: {default_config_path()})")
    p.add_argument("--account", help="draft as this account's identity (default: the first)")
    p.add_argument("--label", choices=("targeted", "referral"), default="targeted",
                   help="draft as for this label (default: targeted)")
    p = command("train", cmd_train, "Train your model from the shipped corpus plus your "
                "corrections, gate it against your current one, and write it to your data folder "
                f"({user_model_dir()}), where every command prefers it to the shipped model.")
    p.add_argument("--data", type=Path, default=shipped_corpus_dir(),
                   help="corpus of <label>/*.eml (default: the shipped one)")
    p.add_argument("--extra", type=Path, action="append", default=[],
                   help="another folder of <label>/*.eml, e.g. your corrections (repeatable)")
    p.add_argument("--eval", type=Path, default=shipped_eval_dir(),
                   help="independent evaluation set, reported but never trained on")
    p.add_argument("--models", type=Path, default=None,
                   help=f"model folder to write (default: {user_model_dir()}); it must be trusted: "
                        "a model file is code")
    p.add_argument("--force", action="store_true", help="replace a model that scores better")
    p.add_argument("--rollback", action="store_true", help="restore the previous model and stop")
    p.add_argument("--config", type=Path, default=None,
                   help="config whose accounts' harvested corrections are trained on too "
                        f"(default: {default_config_path()}, when it exists)")
    p.add_argument("--no-corrections", action="store_true",
                   help="train on the shipped corpus only, without your corrections")
    p = command("learn", cmd_learn, "Harvest your corrections now: mail you moved into a "
                "correction folder (Triage/<label>) or whose triage keyword you changed. "
                "`triage run` does this too; `triage train` learns from them.", account=True)
    p.add_argument("--create-folders", action="store_true",
                   help="create the missing correction folders first")
    p.add_argument("--list", action="store_true", help="list the stored corrections and stop")
    p.add_argument("--forget", metavar="MESSAGE-ID", default=None,
                   help="undo the correction of this message (its Message-ID as --list shows "
                        "it): removed from the store, not learned by the next training")
    p = command("log", cmd_log, "Show recent decisions from the ledger.", account=True)
    p.add_argument("-n", type=int, default=20, help="how many (default 20)")
    p.add_argument("--json", action="store_true", help="JSON Lines, one decision per line")
    p = command("report", cmd_report, "What triage decided in the last N days and what you made "
                "of it: corrections per label, drafts sent, deleted or waiting, and whether the "
                "evidence supports turning on moves.", account=True)
    p.add_argument("--days", type=_days, default=30, help="how far back (default 30)")
    p.add_argument("--json", action="store_true", help="JSON instead of text")
    p.add_argument("--html", type=Path, default=None, metavar="FILE",
                   help="also write a self-contained HTML page with figures to FILE")
    p.add_argument("--no-server", action="store_true",
                   help="do not connect: draft outcomes are reported as unknown")
    p = command("drafts", cmd_drafts, "List recent drafted replies.", account=True)
    p.add_argument("-n", type=int, default=20, help="how many (default 20)")
    p.add_argument("--json", action="store_true", help="JSON Lines, one draft per line")
    p = command("doctor", cmd_doctor, "Check config, password source, connection, login, "
                "capabilities and folders, and say what is wrong.", account=True)
    p.add_argument("--json", action="store_true", help="JSON Lines, one check per line")
    p = command("init", cmd_init, "Write a commented config file to start from.")
    p.add_argument("--config", type=Path, default=None,
                   help=f"where to write it (default: {default_config_path()})")
    return parser


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


def account_failure(name: str, exc: SecretError | MailboxError) -> int:
    """Report a failed account and give its exit code: login, configuration or connection."""
    if isinstance(exc, (SecretError, AuthError)):
        return fail(EXIT_AUTH, f"{name}: {exc}")
    if isinstance(exc, FolderError):
        return fail(EXIT_USAGE, f"{name}: {exc}")
    if isinstance(exc, ProtocolError):
        return fail(EXIT_FAILED, f"{name}: {exc}")
    return fail(EXIT_CONNECTION, f"{name}: {exc}")


def cmd_watch(args: argparse.Namespace) -> int:
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


def _print_flush(line: str) -> None:
    print(line, flush=True)


def cmd_classify(args: argparse.Namespace) -> int:
    model = load_predictor(args.models or _model_dir_from_default_config())
    code = EXIT_OK
    batch: list[tuple[Path, Message]] = []
    files = Items(_eml_files(args.paths), "classify", on_terminal())
    for path in files:
        try:
            batch.append((path, parse_message(path.read_bytes())))
        except (OSError, ParseError) as exc:
            code = fail(EXIT_FAILED, f"{path}: {exc}")
            continue
        if len(batch) >= CLASSIFY_BATCH:
            _print_predictions(batch, model.predict([m for _, m in batch]), args.json, files.write)
            batch = []
    _print_predictions(batch, model.predict([m for _, m in batch]), args.json, files.write)
    return code


CLASSIFY_BATCH = 500  # messages per predict call: the model's fixed cost is paid per batch


def _print_predictions(batch: list[tuple[Path, Message]], predictions: list[Prediction],
                       as_json: bool, write: Callable[[str], None]) -> None:
    for (path, message), p in zip(batch, predictions):
        if as_json:
            write(json.dumps({"path": str(path), "label": p.label, "best": p.best,
                              "confidence": p.confidence, "scores": p.scores}, ensure_ascii=False))
        else:
            write(f"{p.label:<9} {p.confidence:.2f}  {path}  {message.subject[:70]}")


def cmd_explain(args: argparse.Namespace) -> int:
    model = load_model(args.models or _model_dir_from_default_config())
    try:
        message = parse_message(args.path.read_bytes())
    except (OSError, ParseError) as exc:
        return fail(EXIT_FAILED, f"{args.path}: {exc}")
    why = explain(model, message)
    print(f"{args.path}: {why['label']} (best {why['best']} {why['confidence']:.2f}, "
          f"threshold {why['threshold']:.2f})")
    print("probabilities: " + ", ".join(f"{k} {v:.3f}" for k, v in why["scores"].items()))
    print(f"evidence: {why['known_terms']} terms the model knows, {why['recruiting_evidence']} "
          "recruiting words" + ("" if why["known_terms"] >= 3 or why["recruiting_evidence"]
                                else " (too little: no recruiter label)"))
    print(f"pushed towards {why['best']}: " + ", ".join(f"{_feature(n)} +{w}" for n, w in why["for"]))
    print(f"pulled away: " + ", ".join(f"{_feature(n)} {w}" for n, w in why["against"]))
    return EXIT_OK


def cmd_draft(args: argparse.Namespace) -> int:
    me, templates = _draft_identity(args.config, args.account)
    try:
        raw = args.path.read_bytes()
        message = parse_message(raw)
    except (OSError, ParseError) as exc:
        return fail(EXIT_FAILED, f"{args.path}: {exc}")
    if message.reply_to is None and message.sender is None:
        return fail(EXIT_FAILED, f"{args.path}: no From or Reply-To address to reply to")
    shown = preview(message, "file:" + hashlib.sha256(raw).hexdigest(), me,
                    template_environment(templates), args.label)
    if args.json:
        print(json.dumps(shown, ensure_ascii=False))
    else:
        print(f"From: {shown['from']}\nTo: {shown['to']}\nSubject: {shown['subject']}\n\n{shown['body']}")
    return EXIT_OK


def _draft_identity(path: Path | None, account: str | None) -> tuple[Me, Path | None]:
    """The identity and template folder from the config; a placeholder when there is none."""
    if path is None and not default_config_path().exists():
        print(f"triage: no config at {default_config_path()}; drafting as {PLACEHOLDER_ME.name} "
              f"<{PLACEHOLDER_ME.email}> (pass --config)", file=sys.stderr)
        return PLACEHOLDER_ME, None
    config = load_config(path)
    return config.me_for(account), config.template_dir


def _feature(name: str) -> str:
    kind, _, value = name.partition("__")
    return {"words": f"'{value}'", "chars": f"chars'{value}'"}.get(kind, f"[{value}]")


def cmd_train(args: argparse.Namespace) -> int:
    models = args.models or user_model_dir()
    if args.rollback:
        rollback(models)
        print(f"triage: restored the previous model in {models}")
        return EXIT_OK
    started = time.monotonic()
    corrections = () if args.no_corrections else _correction_stores(args.config)
    _refuse_corrections_in_shipped_model(models, corrections)
    stages = Stages("triage train", on_terminal())
    try:
        model = train(args.data, models, extra=tuple(args.extra) + corrections, force=args.force,
                      independent=args.eval, progress=stages)
    finally:
        stages.close()
    held = model.card["held_out"]
    line = (f"triage: trained on {sum(c['train'] for c in model.card['counts'].values())} messages "
            f"({model.card.get('extra_examples', 0)} of them yours); "
            f"held-out macro-F1 {held['macro_f1']:.4f} on {held['count']}")
    if "independent" in model.card:
        line += f"; independent macro-F1 {model.card['independent']['macro_f1']:.4f}"
    fixes = model.card.get("corrections")
    if fixes:
        line += (f"; {fixes['labelled_as_corrected']} of your {fixes['count']} corrections "
                 f"labelled as you did ({fixes['cross_validated_accuracy']:.0%} when held out)")
        if fixes["missed"]:
            print(f"triage: warning: still labelled otherwise: {'; '.join(fixes['missed'])}",
                  file=sys.stderr)
    print(f"{line}; thresholds {model.thresholds}; {time.monotonic() - started:.0f} s; "
          f"report: {models / 'report.md'}")
    in_use = choose_model(_configured_model_dir(args.config))
    print(f"triage: wrote the model to {models}; the model in use is {in_use.directory}: "
          f"{in_use.reason}")
    return EXIT_OK


def _refuse_corrections_in_shipped_model(models: Path, corrections: tuple[Path, ...]) -> None:
    """The shipped model (package data, tracked in git) never holds anyone's corrections."""
    if not models.resolve() == shipped_model_dir().resolve():
        return
    if any(any(store.rglob("*.eml")) for store in corrections if store.is_dir()):
        raise TrainingError(f"{models} holds the shipped model, which never includes personal "
                            "corrections: pass --no-corrections (`make shipped-model`), or leave "
                            "out --models to train your own model")


def _configured_model_dir(config_path: Path | None) -> Path | None:
    """`[paths] models` of the config, if there is a config and it sets one."""
    if config_path is None and not default_config_path().exists():
        return None
    config = load_config(config_path)
    return config.model_dir if config.model_reason.startswith("set by") else None


def _correction_stores(config_path: Path | None) -> tuple[Path, ...]:
    """The corrections stores of every configured account (none when there is no config)."""
    if config_path is None and not default_config_path().exists():
        return ()
    config = load_config(config_path)
    return tuple(corrections_dir(config.state_dir, a.name) for a in config.accounts)


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


def cmd_log(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    for name in _account_names(config, args.account):
        with Ledger(ledger_path(config.state_dir, name)) as ledger:
            decisions = ledger.decisions(args.n)
            corrected = ledger.corrected_labels([d.fingerprint for d in decisions])
            for d in decisions:
                if args.json:
                    print(jsonout.line(jsonout.decision(name, d, corrected.get(d.fingerprint))))
                    continue
                confidence = f"{d.confidence:.2f}" if d.confidence is not None else "  - "
                label = d.label or d.status
                fixed = corrected.get(d.fingerprint)
                mark = f"  corrected by you: {label} → {fixed}" if fixed and fixed != label else ""
                print(f"{name}  {d.folder} UID {d.uid:<6} {label:<9} {confidence}  "
                      f"{d.subject[:50]!r}  {d.sender}" + (f"  [{d.note}]" if d.note else "")
                      + mark)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    reports, worst = [], EXIT_OK
    for account in _accounts(config, args.account):
        report, error = account_report(config, account, args.days, not args.no_server,
                                       Redactor.secrets.add)
        reports.append(report)
        if error is not None:
            worst = max(worst, account_failure(account.name, error))
    if args.json:
        print(to_json(reports))
    else:
        for report in reports:
            print("\n".join(to_text(report)))
    if args.html:
        try:
            write_private(args.html, to_html(reports).encode())
        except OSError as exc:
            return fail(EXIT_USAGE, f"cannot write {args.html}: {exc.strerror}; choose another "
                                    "--html FILE")
        print(f"triage: report written to {args.html}", file=sys.stderr)
    return worst


def cmd_drafts(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    for name in _account_names(config, args.account):
        with Ledger(ledger_path(config.state_dir, name)) as ledger:
            for d in ledger.drafts(args.n):
                if args.json:
                    print(jsonout.line(jsonout.draft(name, d)))
                    continue
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(d.created_at))
                print(f"{when}  {d.label:<8} to {d.recruiter} ({d.company or 'company unknown'})  "
                      f"re {d.source_subject[:60]!r}  in {d.folder}")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
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


def cmd_init(args: argparse.Namespace) -> int:
    path = args.config or default_config_path()
    if path.exists():
        return fail(EXIT_USAGE, f"{path} already exists; edit it, or pass --config NEW_PATH")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(resources.files("triage").joinpath("config.sample.toml").read_text())
    print(f"triage: wrote {path}; edit it, then run `triage doctor`")
    return EXIT_OK


# -- helpers ----------------------------------------------------------------------------
def _account_names(config: Config, only: str | None) -> list[str]:
    return [a.name for a in _accounts(config, only)]


def _accounts(config: Config, only: str | None) -> list[Account]:
    return [config.account(only)] if only else list(config.accounts)


def _days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 3660:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days from 1 to 3660")
    return int(text)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-01-31") from None


def _model_dir_from_default_config() -> Path:
    """The model of the default config if it exists, else yours or the shipped one."""
    if default_config_path().exists():
        return load_config().model_dir
    return choose_model().directory


def _eml_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.eml") if p.is_file())
        else:
            yield path


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
