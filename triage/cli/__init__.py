"""Command line: argument parsing, logging set-up, and errors turned into exit codes.

Only this package reads argv; nothing in the core imports it. `app` builds the parser and
turns errors into exit codes; the commands live in `mailcmds` (server), `filecmds` (no
server), `ledgercmds` (the ledger); `common` holds what they share.
"""

from .app import build_parser, main
from .common import (EXIT_AUTH, EXIT_CODES, EXIT_CONNECTION, EXIT_FAILED, EXIT_MODEL, EXIT_OK,
                     EXIT_REFUSED, EXIT_STATE, EXIT_USAGE, Redactor, setup_logging)

__all__ = ["EXIT_AUTH", "EXIT_CODES", "EXIT_CONNECTION", "EXIT_FAILED", "EXIT_MODEL", "EXIT_OK",
           "EXIT_REFUSED", "EXIT_STATE", "EXIT_USAGE", "Redactor", "build_parser", "main",
           "setup_logging"]
