"""The error codes a failed poll is counted under: a bounded set, whatever an endpoint
answers (sesd.account.poller counts, the metrics export them)."""

from __future__ import annotations

from typing import Final

from sesd.config.aws import CREDENTIALS_REFUSED
from sesd.io.aws_errors import NO_CREDENTIALS_IN_ANSWER, error_code

__all__ = ["KNOWN_CODES", "OTHER", "TRANSIENT_CODES", "error_label"]

#: SES's error codes the SDK's standard retries take as passing, whatever the status.
TRANSIENT_CODES: Final = ("RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete")
#: The AWS error codes a failed poll is counted under (``sesd_ses_poll_errors_total``'s
#: ``error``): those of the APIs polled and of AssumeRole (botocore's service models),
#: and those any AWS API answers for credentials, access, throttling and its own failure.
#: Any other is counted as ``other``: the code is what the endpoint says, and a label of
#: every code an endpoint (not SES's, a proxy) makes up would grow without end.
KNOWN_CODES: Final = frozenset({
    "TooManyRequestsException", "BadRequestException", "NotFoundException",  # SESv2
    "LimitExceededException", "AccessDeniedException", "InvalidNextToken",  # CloudWatch
    "AccessDenied", "UnauthorizedOperation", "Throttling", "ThrottlingException",
    "RequestLimitExceeded", "ServiceUnavailable", "ServiceUnavailableException",
    "InternalFailure", "InternalError", "InternalServerError", "InternalServiceError",
    "IDPCommunicationError", "MalformedPolicyDocument", "PackedPolicyTooLarge",  # STS
    "RegionDisabledException", "OptInRequired", NO_CREDENTIALS_IN_ANSWER,
    "RequestExpired",  # any API's, for a request signed by a clock far from AWS's
    *CREDENTIALS_REFUSED, *TRANSIENT_CODES,
})  # fmt: skip
#: What a made-up code is counted as.
OTHER: Final = "other"


def error_label(exc: BaseException, code: str) -> str:
    """The ``error`` label a failure is counted under: a code in :data:`KNOWN_CODES`,
    the name of the exception sesd's own clients raised (no AWS code: a timeout, a
    refused connection, a list that does not end), else :data:`OTHER`."""
    if not error_code(exc):
        return code  # a class of the SDK's or sesd's own: a bounded set
    return code if code in KNOWN_CODES else OTHER
