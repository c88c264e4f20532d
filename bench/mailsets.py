"""The mail the benchmark classifies, written as .eml files so triage and bogofilter read the same.

- `corpus`: the shipped training and independent mail (hand-written, all four labels).
- `text`: real ordinary plain text on this machine: Debian changelog entries, one per message.
- `html`: real HTML documents on this machine (package documentation), each one an HTML-only
  message, the shape of HTML-heavy newsletters and spam.
"""

from __future__ import annotations

import glob
import gzip
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_SET = 1900
HTML_MIN_BYTES = 4_000
HTML_MAX_BYTES = 400_000


def corpus_files() -> list[Path]:
    """training_data and eval_data, sorted."""
    return sorted([*(ROOT / "training_data").rglob("*.eml"), *(ROOT / "eval_data").rglob("*.eml")])


def write_text_set(directory: Path) -> list[Path]:
    """Up to MAX_SET Debian changelog entries, each as a plain-text message to one person."""
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for source in sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz")):
        text = gzip.open(source).read().decode("utf-8", "replace")
        package = source.split("/")[4]
        for i, entry in enumerate(text.split("\n\n -- ")[:3]):
            if len(paths) >= MAX_SET:
                return paths
            raw = (f"From: Maintainer <m@debian.example>\nTo: Dana <dana@example.com>\n"
                   f"Subject: {package} changes {i}\nMessage-ID: <{package}.{i}@debian.example>\n"
                   f"Content-Type: text/plain; charset=utf-8\n\n{entry[-3000:]}\n")
            path = directory / f"{len(paths):05d}.eml"
            path.write_bytes(raw.encode())
            paths.append(path)
    return paths


def html_documents() -> list[Path]:
    """Real HTML files installed on this machine, of a size mail can have."""
    roots = [r for r in ("/usr/share/doc", "/usr/lib/node_modules", str(Path.home() / ".rustup"))
             if Path(r).is_dir()]
    found = subprocess.run(["find", *roots, "-name", "*.html", "-type", "f", "-size",
                            f"+{HTML_MIN_BYTES // 1024}k"], capture_output=True, text=True).stdout
    sized = sorted(Path(line) for line in found.splitlines())
    step = max(1, len(sized) // MAX_SET)  # an even sample across packages
    return sized[::step][:MAX_SET]


def write_html_set(directory: Path) -> list[Path]:
    """Each HTML document as an HTML-only message (first 400 KB), quoted-printable-free UTF-8."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for n, source in enumerate(html_documents()):
        body = source.read_bytes()[:HTML_MAX_BYTES].decode("utf-8", "replace")
        raw = (f"From: News <news@lists.example>\nTo: Dana <dana@example.com>\n"
               f"Subject: {source.stem[:60]}\nMessage-ID: <html.{n}@lists.example>\n"
               f"MIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n{body}\n")
        path = directory / f"{n:05d}.eml"
        path.write_bytes(raw.encode("utf-8", "replace"))
        paths.append(path)
    return paths
