"""What an AWS error may say in a log line, a label or a page: its code, never its
message (an SDK message may quote the request)."""

from __future__ import annotations

from botocore.exceptions import ClientError

__all__ = ["error_code"]


def error_code(exc: BaseException) -> str:
    """An AWS error's code (``Throttling``, ``AccessDenied``...); "" for anything else
    (a network error, a timeout)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""
