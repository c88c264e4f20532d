"""Checks for config values: types, bounds, text without control characters, known keys.

Every error names the key and the file, and says how to fix the value.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
from dataclasses import fields
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """Raised when the config file is missing, unreadable or holds an invalid value."""


class Where:
    """Names a key and the file it came from in error messages."""

    def __init__(self, path: Path, prefix: str = "") -> None:
        self.path, self.prefix = path, prefix

    def at(self, key: str) -> Where:
        return Where(self.path, f"{self.prefix}{key}.")

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.prefix}{key} {problem} in {self.path}")

    def unknown(self, key: str, allowed: tuple[str, ...] | list[str]) -> ConfigError:
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else f"known keys: {', '.join(sorted(allowed))}"
        return ConfigError(f"{self.prefix}{key} is not a known key in {self.path}; {hint}")


def known_keys(data: dict[str, Any], allowed: tuple[str, ...] | list[str], where: Where) -> None:
    """A key triage does not know is a typo until proven otherwise: name the closest one."""
    for key in data:
        if key not in allowed:
            raise where.unknown(key, allowed)


def keys_of(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def table(data: dict[str, Any], key: str, where: Where) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise where.error(key, "must be a table")
    return value


def get(data: dict[str, Any], key: str, kind: type, where: Where, default: Any = None) -> Any:
    value = data.get(key, default)
    if value is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise where.error(key, f"must be {KINDS.get(kind, kind.__name__)}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise where.error(key, f"must be a finite number of seconds, got {value!r}")
    return value


KINDS = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
          list: "a list", dict: "a table"}


def text(data: dict[str, Any], key: str, where: Where, default: str | None = None,
          multiline: bool = False, limit: int = 1000) -> Any:
    """A string without control characters (newlines only if `multiline`), at most `limit` long."""
    value = get(data, key, str, where, default)
    if value is None:
        return None
    allowed = "\n\t" if multiline else "\t"
    bad = next((c for c in value if (not c.isprintable() and c not in allowed)
                or c in "\u2028\u2029"), None)
    if bad is not None:
        line = "" if multiline else " on one line"
        raise where.error(key, f"must be text{line} without control characters, got {value[:60]!r}")
    if len(value) > limit:
        raise where.error(key, f"must be at most {limit} characters, got {len(value)}")
    return value


def required(data: dict[str, Any], key: str, where: Where) -> str:
    value = text(data, key, where)
    if not value:
        raise where.error(key, "is missing")
    return value


def positive(data: dict[str, Any], key: str, default: float, where: Where) -> float:
    value = get(data, key, float if isinstance(default, float) else int, where, default)
    if value <= 0:
        raise where.error(key, f"must be positive, got {value}")
    return value


def is_atom(word: str) -> bool:
    return bool(word) and not any(c in word for c in ' (){%*"\\]') and word.isprintable()


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
