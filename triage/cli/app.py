"""The `triage` command: the argument parser, and errors turned into exit codes."""

from __future__ import annotations

import argparse
import importlib
import logging
import sqlite3
import sys
from pathlib import Path
from typing import Callable, Sequence

from .. import __version__
from ..config import ConfigError, default_config_path
from ..errors import ModelError, TrainingError
from ..locations import (shipped_corpus_dir, shipped_eval_dir, user_model_dir)
from ..secrets import SecretError
from ..statefiles import StateError
from .common import (EXIT_AUTH, EXIT_CODES, EXIT_FAILED, EXIT_MODEL, EXIT_REFUSED, EXIT_STATE,
                     EXIT_USAGE, _date, _days, _reader_gone, fail, setup_logging)

log = logging.getLogger("triage")
MODELS_HELP = ("model folder; it must be trusted, a model file is code (default: yours if "
               "`triage train` made one, else the shipped one)")


def _command(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """The command function `name` of `triage.cli.<module>`, imported only when it runs: a poll
    never pays for the imports of `train`, `report` or `draft`."""
    def run(args: argparse.Namespace) -> int:
        func: Callable[[argparse.Namespace], int] = getattr(
            importlib.import_module(f"{__package__}.{module}"), name)
        return func(args)
    run.__name__ = name
    return run


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

    p = command("run", _command("mailcmds", "cmd_run"),
                "Fetch new mail once, classify, label, draft, record; one summary "
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
    p = command("watch", _command("mailcmds", "cmd_watch"),
                "Stay connected to every account and folder (a connection "
                "each): process new mail as it arrives (IMAP IDLE, or NOOP polling), reconnect "
                "after drops, stop cleanly on SIGTERM/SIGINT.", account=True)
    p.add_argument("--interval", type=float, default=600,
                   help="re-scan at least this often even without news (s, default 600)")
    p.add_argument("--max-backoff", type=float, default=60,
                   help="longest wait between reconnection attempts (s, default 60)")
    p.add_argument("-q", "--quiet", action="store_true", help="summaries only when work was done")
    p = command("classify", _command("filecmds", "cmd_classify"),
                "Classify .eml files or folders of them (recursive), no server needed.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--json", action="store_true", help="JSON Lines with scores")
    p.add_argument("--models", type=Path, default=None, help=MODELS_HELP)
    p = command("explain", _command("filecmds", "cmd_explain"),
                "Show why a message gets its label: probabilities and the words and signals that "
                "pushed it.")
    p.add_argument("path", type=Path, metavar="FILE.eml")
    p.add_argument("--models", type=Path, default=None, help=MODELS_HELP)
    p = command("draft", _command("filecmds", "cmd_draft"),
                "Show the reply triage would draft for a message, no server needed: language, "
                "recruiter's first name, company and role with confidences.")
    p.add_argument("path", type=Path, metavar="FILE.eml")
    p.add_argument("--json", action="store_true", help="one JSON object with the extracted fields")
    p.add_argument("--config", type=Path, default=None,
                   help=f"identity and templates from this config (default: {default_config_path()})")
    p.add_argument("--account", help="draft as this account's identity (default: the first)")
    p.add_argument("--label", choices=("targeted", "referral"), default="targeted",
                   help="draft as for this label (default: targeted)")
    p = command("train", _command("filecmds", "cmd_train"),
                "Train your model from the shipped corpus plus your "
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
    p = command("learn", _command("mailcmds", "cmd_learn"),
                "Harvest your corrections now: mail you moved into a "
                "correction folder (Triage/<label>) or whose triage keyword you changed. "
                "`triage run` does this too; `triage train` learns from them.", account=True)
    p.add_argument("--create-folders", action="store_true",
                   help="create the missing correction folders first")
    p.add_argument("--list", action="store_true", help="list the stored corrections and stop")
    p.add_argument("--forget", metavar="MESSAGE-ID", default=None,
                   help="undo the correction of this message (its Message-ID as --list shows "
                        "it): removed from the store, not learned by the next training")
    p = command("log", _command("ledgercmds", "cmd_log"),
                "Show recent decisions from the ledger.", account=True)
    p.add_argument("-n", type=int, default=20, help="how many (default 20)")
    p.add_argument("--json", action="store_true", help="JSON Lines, one decision per line")
    p = command("report", _command("ledgercmds", "cmd_report"),
                "What triage decided in the last N days and what you made "
                "of it: corrections per label, drafts sent, deleted or waiting, and whether the "
                "evidence supports turning on moves.", account=True)
    p.add_argument("--days", type=_days, default=30, help="how far back (default 30)")
    p.add_argument("--json", action="store_true", help="JSON instead of text")
    p.add_argument("--html", type=Path, default=None, metavar="FILE",
                   help="also write a self-contained HTML page with figures to FILE")
    p.add_argument("--no-server", action="store_true",
                   help="do not connect: draft outcomes are reported as unknown")
    p = command("drafts", _command("ledgercmds", "cmd_drafts"),
                "List recent drafted replies.", account=True)
    p.add_argument("-n", type=int, default=20, help="how many (default 20)")
    p.add_argument("--json", action="store_true", help="JSON Lines, one draft per line")
    p = command("doctor", _command("mailcmds", "cmd_doctor"),
                "Check config, password source, connection, login, "
                "capabilities and folders, and say what is wrong.", account=True)
    p.add_argument("--json", action="store_true", help="JSON Lines, one check per line")
    p = command("init", _command("filecmds", "cmd_init"),
                "Write a commented config file to start from.")
    p.add_argument("--config", type=Path, default=None,
                   help=f"where to write it (default: {default_config_path()})")
    return parser
