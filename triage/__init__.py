"""triage: sort recruiter mail in an IMAP inbox and draft polite replies to targeted outreach."""

__version__ = "0.3.0"
