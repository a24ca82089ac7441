"""Switchable server-side bugs, chosen with the CHAT_BUG environment variable."""
import os

VALID_BUGS = ("none", "sender_not_set", "render_crash")


def current_bug():
    bug = os.environ.get("CHAT_BUG", "none") or "none"
    if bug not in VALID_BUGS:
        raise RuntimeError(f"CHAT_BUG must be one of {VALID_BUGS}, got {bug!r}")
    return bug
