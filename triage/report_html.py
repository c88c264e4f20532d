"""`triage report --html`: one self-contained page, readable offline.

Figures are drawn with matplotlib and embedded as base64 PNG; each figure's numbers are
also in a table beside it (for screen readers and for checking). Nothing taken from a
message appears on the page: only labels, counts and dates, all HTML-escaped anyway.
"""

from __future__ import annotations

import base64
import html
import io
from types import ModuleType
from typing import TYPE_CHECKING, Sequence

from .report import DECIDED, FINAL, OUTCOMES, Report

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def to_html(reports: Sequence[Report]) -> str:
    """The whole page for one or more accounts."""
    body = "\n".join(_section(r) for r in reports)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>triage report</title><style>body{font-family:sans-serif;max-width:60em;"
            "margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}"
            "td,th{border:1px solid #bbb;padding:.3em .6em;text-align:right}"
            "th{background:#eee}.verdict{font-size:1.1em;background:#f4f8ff;padding:.8em}"
            "</style></head><body>\n<h1>triage report</h1>\n" + body + "\n</body></html>\n")


def _section(report: Report) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><th>{e(r.label)}</th><td>{r.decisions}</td><td>{r.corrected}</td>"
        f"<td>{e(', '.join(f'{n} to {k}' for k, n in sorted(r.corrected_to.items())) or '-')}</td>"
        f"<td>{e(', '.join(f'{n} {o}' for o, n in r.drafts.items()) or '-')}</td></tr>"
        for r in report.rows)
    resolved = ", ".join(f"{n} as {k}" for k, n in sorted(report.unsure_resolved.items()))
    drafts = "".join(f"<td>{report.drafts.get(o, 0)}</td>" for o in OUTCOMES)
    note = f"<p>Note: {e(report.note)}</p>" if report.note else ""
    return (
        f"<section data-account=\"{e(report.account)}\"><h2>{e(report.account)}: "
        f"{e(report.since)} to {e(report.until)} ({report.days} days)</h2>\n"
        f"<p class=\"verdict\" id=\"verdict\">{e(report.verdict)}</p>{note}\n"
        "<table id=\"labels\"><tr><th>triage said</th><th>decisions</th><th>corrected by you</th>"
        f"<th>corrected to</th><th>drafts</th></tr>{rows}</table>\n"
        f"<p>Unsure messages you resolved: {sum(report.unsure_resolved.values())} of "
        f"{report.unsure}{e(' (' + resolved + ')') if resolved else ''}.</p>\n"
        "<table id=\"drafts\"><tr>" + "".join(f"<th>{e(o)}</th>" for o in OUTCOMES) +
        f"</tr><tr>{drafts}</tr></table>\n"
        "<h3>What triage said, and what it is now</h3>\n"
        f"<img id=\"confusion\" alt=\"confusion matrix of decisions against your corrections\" "
        f"src=\"data:image/png;base64,{_png(_confusion_figure(report))}\">\n"
        f"{_matrix_table(report)}\n<h3>Week by week</h3>\n"
        f"<img id=\"trend\" alt=\"decisions and corrections per week\" "
        f"src=\"data:image/png;base64,{_png(_trend_figure(report))}\">\n"
        f"{_weeks_table(report)}\n<p>A decision you did not correct counts as right: "
        "the verdict needs enough decisions and a high lower bound for that reason.</p></section>")


def _matrix_table(report: Report) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in FINAL)
    body = "".join(f"<tr><th>{html.escape(label)}</th>" + "".join(f"<td>{n}</td>" for n in row)
                   + "</tr>" for label, row in zip(DECIDED, report.matrix))
    return (f"<table id=\"matrix\"><tr><th>said \\ now</th>{head}</tr>{body}</table>")


def _weeks_table(report: Report) -> str:
    body = "".join(f"<tr><th>{html.escape(w.start)}</th><td>{w.decisions}</td>"
                   f"<td>{w.corrected}</td></tr>" for w in report.weeks)
    return ("<table id=\"weeks\"><tr><th>week of</th><th>decisions</th><th>corrected</th></tr>"
            f"{body}</table>")


def _pyplot() -> ModuleType:
    import matplotlib
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt
    return plt


def _confusion_figure(report: Report) -> Figure:
    import numpy as np
    plt = _pyplot()
    matrix = np.array(report.matrix)
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(FINAL)), [f"now {c}" for c in FINAL], rotation=30)
    ax.set_yticks(range(len(DECIDED)), [f"said {c}" for c in DECIDED])
    ax.set_title("triage's decisions and your corrections")
    top = matrix.max() if matrix.size else 0
    for (i, j), n in np.ndenumerate(matrix):
        ax.text(j, i, str(n), ha="center", va="center",
                color="white" if top and n > top / 2 else "black")
    fig.tight_layout()
    return fig


def _trend_figure(report: Report) -> Figure:
    plt = _pyplot()
    weeks = [w.start for w in report.weeks]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.bar(weeks, [w.decisions for w in report.weeks], color="#9ecae1", label="decisions")
    ax.bar(weeks, [w.corrected for w in report.weeks], color="#de2d26", label="corrected by you")
    ax.set_ylabel("messages")
    ax.set_title("week by week" if weeks else "no decisions in this period")
    ax.tick_params(axis="x", rotation=30)
    ax.legend()
    fig.tight_layout()
    return fig


def _png(fig: Figure) -> str:
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")
