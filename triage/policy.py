"""When a message may get a drafted reply, and why not. Pure.

Drafting follows RFC 3834's spirit: never answer machines, lists, bulk mail, no-reply
senders, mail already answered, or the user's own mail.
"""

from __future__ import annotations

import re
from .message import Message

_NO_REPLY = re.compile(r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|mailer-daemon|"
                       r"postmaster|bounce[s]?|notifications?|jobalerts?|alerts?)([+@]|$)", re.I)


_ADDRESS = re.compile(r"^[^@\s<>(),;:\"\[\]\\]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def draft_blocker(message: Message, flags: tuple[str, ...], me_email: str,
                  thread_answered: bool = False) -> str:
    """Why this message must not get a drafted reply, or '' when it may."""
    replier = message.reply_to or message.sender
    if replier is None or not _ADDRESS.match(replier.email):
        return "no valid sender address to reply to"
    if message.auto_submitted not in ("", "no"):
        return f"Auto-Submitted: {message.auto_submitted}"
    if message.precedence in ("bulk", "list", "junk"):
        return f"Precedence: {message.precedence}"
    if message.list_id:
        return "mailing list (List-Id)"
    if _NO_REPLY.match(replier.email):
        return f"no-reply sender {replier.email}"
    if "\\Answered" in flags:
        return "already answered"
    if thread_answered:
        return "thread already answered"
    if message.sender and message.sender.email == me_email.lower():
        return "sent by you"
    return ""
