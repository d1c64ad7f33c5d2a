"""What sesd's SQS clients leave out of the SDK's work on every call: handlers botocore
registers for every client that do nothing sesd needs on SQS's calls, and the SDK's
walk over a receive's, a delete's and a release's answer where it only copies it
(sesd.io.sqs_answers). Each
handler runs on every receive and every delete, through aiobotocore's event emitter
(an awaitable check and a coroutine a handler), and an event left without handlers is
skipped whole. Signing, retries, credential refresh, the User-Agent and error parsing
are untouched: none of them reads what these handlers write.

Counted on the loop tuned as sesd tunes its clients (BENCHMARKS.md, section 2): the
four left out, 26,400 fewer instructions a message of 601,800 (a receive and a delete
of ten messages: about 130,000 a call); each alone, 17,100 for the retry headers,
6,200 for the recursion check, 3,000 and 3,400 for the two that find nothing to do.
"""

from __future__ import annotations

from typing import Any

from botocore import handlers

from sesd.io.sqs_answers import ANSWERS, read_answer

__all__ = ["LEFT_OUT", "trim_sqs"]

#: The handlers taken off (event, handler), each with why it is safe to.
LEFT_OUT = (
    # ``amz-sdk-invocation-id`` and ``amz-sdk-request`` (the attempt's number): headers
    # added after the request is signed (not signed), telling AWS of the SDK's retries;
    # nothing SQS answers depends on them. The retries keep their own count in the
    # request's context (where ``RetryAttempts``, sesd_sqs_retries_total's source, comes
    # from), and the retry quota is kept apart from them.
    ("request-created", handlers.add_retry_headers),
    # Inside AWS Lambda (both ``AWS_LAMBDA_FUNCTION_NAME`` and ``_X_AMZN_TRACE_ID`` set),
    # a trace header with which Lambda stops a function that invokes itself through a
    # queue. sesd is a daemon, not a Lambda function, and its receives and deletes
    # invoke nothing; elsewhere the handler looks both variables up in os.environ on
    # every call, and both lookups fail.
    ("before-call", handlers.add_recursion_detection_header),
    # Fills an operation's idempotency-token members, and adds the API-version header of
    # an endpoint-discovery operation: no SQS operation has either (a test reads the
    # SDK's SQS model).
    ("before-parameter-build", handlers.generate_idempotent_uuid),
    ("before-call", handlers.inject_api_version_header_if_needed),
)


def trim_sqs(client: Any) -> None:
    """Take :data:`LEFT_OUT` off ``client``'s event hooks (botocore's ``unregister``: a
    client has its own copy of its session's hooks, so no other client loses them), and
    have its receives', deletes' and releases' answers read without the SDK's walk over
    their shape where that walk only copies them (sesd.io.sqs_answers). Doing it again
    does nothing."""
    for event, handler in LEFT_OUT:
        client.meta.events.unregister(event, handler)
    for operation in ANSWERS:
        client.meta.events.register(
            f"before-parse.sqs.{operation}", read_answer, unique_id=f"sesd-read-{operation}"
        )
