"""What lets SNS deliver SES's events to sesd's queue (``sesd setup``, in
sesd.commands.provision): the queue policy's statement setup writes, and what setup
finds but leaves to the user, said as warnings (a KMS key's policy, a subscription's
filter policy)."""

from __future__ import annotations

import json
from typing import Any

from sesd.core.text import escaped

__all__ = ["encrypted", "filtered", "queue_policy"]

#: The Sid of the queue policy's statement setup writes: the others are the user's.
_SID = "sesd-sns-send"


def queue_policy(current: str | None, queue_arn: str, topic_arn: str) -> dict[str, Any]:
    """The queue policy ``current`` with setup's statement (only the topic may send) in
    it, in place of its own of before; the other statements (another region's topic,
    an EventBridge rule the user allowed) are kept as they are."""
    ours = {
        "Sid": _SID,
        "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
    }
    try:
        policy = json.loads(current) if current else {}
    except ValueError:
        policy = {}
    if not isinstance(policy, dict):
        policy = {}
    found = policy.get("Statement", [])
    statements = found if isinstance(found, list) else [found]  # one may stand alone
    mine = [i for i, s in enumerate(statements) if isinstance(s, dict) and s.get("Sid") == _SID]
    if mine:
        statements[mine[0]] = ours
    else:
        statements.append(ours)
    return {"Version": "2012-10-17", **policy, "Statement": statements}


#: The key SQS encrypts with when asked for AWS's own key: its policy is AWS's, and
#: lets no other service (SNS) use it.
_AWS_MANAGED_KEY = "alias/aws/sqs"


def encrypted(queue: str, key: str) -> str:
    """What an SSE-KMS queue needs that setup does not change: SNS encrypts what it
    sends with the queue's key, so the key's policy must let SNS use it, or SNS drops
    every event; sesd decrypts what it receives."""
    said = f"queue {queue} is encrypted with the KMS key {escaped(key, 300)}"
    if key == _AWS_MANAGED_KEY:
        return (
            f"{said}, whose key policy SNS may not be given: SNS cannot deliver SES's "
            "events to it; use SQS-managed encryption (SSE-SQS) or a customer managed "
            "key that lets sns.amazonaws.com kms:GenerateDataKey and kms:Decrypt (and "
            "sesd's identity kms:Decrypt)"
        )
    return (
        f"{said}: its key policy must let sns.amazonaws.com kms:GenerateDataKey and "
        "kms:Decrypt, or SNS delivers none of SES's events, and sesd's identity needs "
        "kms:Decrypt on it (setup changes neither)"
    )


def filtered(queue: str, topic: str, attrs: dict[str, str]) -> str:
    """A filter policy on the subscription: SNS delivers only what it matches. SES
    sets no message attributes, so one on them (the default scope) matches nothing.
    The user's to keep or remove: setup does not know what it was for."""
    scope = attrs.get("FilterPolicyScope") or "MessageAttributes"
    return (
        f"the subscription of {queue} to the topic {topic} has a filter "
        f"policy ({escaped(scope, 40)}): SNS delivers only the events it matches, none on "
        "MessageAttributes (SES's events carry none); unless that is meant, set its "
        "FilterPolicy to {} (aws sns set-subscription-attributes)"
    )
