"""Provider presets: `provider = "gmail"` fills host, port, security, auth and folder names.

Any key the account sets itself wins over the preset. Values are the providers' published
IMAP settings; OAuth2 providers need a `token_command` that prints a fresh access token
(oama, pizauth, email-oauth2-proxy, or the provider's own tool).
"""

from __future__ import annotations

from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "gmail": {"host": "imap.gmail.com", "port": 993, "security": "tls", "auth": "xoauth2",
              "drafts_folder": "[Gmail]/Drafts"},
    "outlook": {"host": "outlook.office365.com", "port": 993, "security": "tls",
                "auth": "xoauth2", "drafts_folder": "Drafts"},
    "fastmail": {"host": "imap.fastmail.com", "port": 993, "security": "tls",
                 "auth": "password", "drafts_folder": "Drafts"},
    "icloud": {"host": "imap.mail.me.com", "port": 993, "security": "tls", "auth": "password",
               "drafts_folder": "Drafts"},
    "yahoo": {"host": "imap.mail.yahoo.com", "port": 993, "security": "tls", "auth": "password",
              "drafts_folder": "Draft"},
    "zoho": {"host": "imap.zoho.com", "port": 993, "security": "tls", "auth": "password",
             "drafts_folder": "Drafts"},
}


def with_preset(account: dict[str, Any]) -> dict[str, Any]:
    """The account's keys over its provider's preset; KeyError names an unknown provider."""
    provider = account.get("provider")
    if provider is None:
        return account
    return {**PRESETS[provider], **account}
