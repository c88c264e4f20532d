"""Commands that need no server: classify, explain, draft, train, init."""

from __future__ import annotations

import argparse
import hashlib
from importlib import resources
import json
import logging
import sys
import time
from pathlib import Path
from typing import Callable

from ..classifier import Prediction, explain, load_model, load_predictor
from ..config import Me, default_config_path, load_config
from ..locations import (choose_model, shipped_model_dir,
                        user_model_dir)
from ..ledger import corrections_dir
from ..message import Message, ParseError, parse_message
from ..progress import Items, Stages, on_terminal
from ..training import TrainingError, rollback, train
from .common import (EXIT_FAILED, EXIT_OK, EXIT_USAGE, _eml_files, _model_dir_from_default_config,
                     fail, PLACEHOLDER_ME)

log = logging.getLogger("triage")

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
    print("pulled away: " + ", ".join(f"{_feature(n)} {w}" for n, w in why["against"]))
    return EXIT_OK


def cmd_draft(args: argparse.Namespace) -> int:
    from ..replies import preview, template_environment  # templates and patterns: 80 ms, drafts only
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


def cmd_init(args: argparse.Namespace) -> int:
    path = args.config or default_config_path()
    if path.exists():
        return fail(EXIT_USAGE, f"{path} already exists; edit it, or pass --config NEW_PATH")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(resources.files("triage").joinpath("config.sample.toml").read_text())
    print(f"triage: wrote {path}; edit it, then run `triage doctor`")
    return EXIT_OK
