"""Protocol-neutral errors raised by domain and store code.

Each protocol maps these to its own replies in exactly one place (``<protocol>/errors.py``).
The message of a MailError is safe to show to the client; anything else is logged, not shown.
"""

from __future__ import annotations


class MailError(Exception):
    """Base class: an expected failure whose text may be shown to the user."""

    public = True


class NotFound(MailError):
    """No such mailbox, message, account, domain or alias."""


class AlreadyExists(MailError):
    pass


class InvalidArgument(MailError):
    """A value the caller supplied is malformed (bad address, bad mailbox name, ...)."""


class ReadOnly(MailError):
    pass


class OverQuota(MailError):
    pass


class TooBig(MailError):
    pass


class AuthFailed(MailError):
    pass


class PermissionDenied(MailError):
    pass


class TryLater(MailError):
    """Temporary failure: the same request may succeed later."""


class Conflict(MailError):
    """A conditional change did not apply because the data changed meanwhile."""


class ConfigError(Exception):
    """The configuration is invalid; the message names the key and the fix."""
