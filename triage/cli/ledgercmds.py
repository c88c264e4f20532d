"""Commands that read the ledger: log, report, drafts."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from .. import jsonout
from ..config import load_config
from ..ledger import Ledger, ledger_path
from ..report import to_json, to_text
from ..report_html import to_html
from ..report_data import account_report, write_private
from .common import (EXIT_OK, EXIT_USAGE, _account_names, _accounts,
                     account_failure, fail, Redactor)

log = logging.getLogger("triage")

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
