"""What lets SES's events through the topic to sesd's queue (``sesd setup``, in
sesd.commands.provision): the queue policy's statement setup writes, and what setup
finds but leaves to the user, said as warnings (a KMS key's policy, a subscription's
filter policy)."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable
from typing import Any

from sesd.core.text import escaped

__all__ = ["denials", "encrypted", "filtered", "filters", "queue_policy", "unread_topic"]

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


def denials(current: str | None, queue: str, topic_arn: str) -> list[str]:
    """A warning for each Deny statement of the queue policy ``current`` that may refuse
    the sqs:SendMessage of SNS's delivery from ``topic_arn``: setup keeps them (they are
    the user's), and in IAM a Deny wins over any Allow, setup's too, so SNS would
    deliver none of SES's events."""
    try:
        policy = json.loads(current) if current else {}
    except ValueError:
        return []
    found = policy.get("Statement", []) if isinstance(policy, dict) else []
    warnings = []
    for statement in found if isinstance(found, list) else [found]:
        if isinstance(statement, dict) and _may_deny_sns(statement, topic_arn):
            sid = statement.get("Sid")
            named = f"Sid {escaped(str(sid), 100)}" if sid else "without a Sid"
            warnings.append(
                f"queue {queue}'s policy has a Deny statement ({named}) that may refuse SNS "
                "sqs:SendMessage: setup keeps it, and a Deny wins over setup's Allow, so SNS "
                "would deliver none of SES's events; unless its condition spares "
                "sns.amazonaws.com, narrow it or remove it (aws sqs set-queue-attributes)"
            )
    return warnings


def _may_deny_sns(statement: dict[str, Any], topic_arn: str) -> bool:
    """Whether ``statement`` is a Deny whose actions take in sqs:SendMessage and whose
    principals take in SNS's service, its condition not known to spare SNS's delivery
    from ``topic_arn`` (:func:`_spared`)."""
    if statement.get("Effect") != "Deny" or _spared(statement.get("Condition"), topic_arn):
        return False
    if "NotAction" in statement:
        actions = not _matches(statement["NotAction"], "sqs:SendMessage")
    else:
        actions = _matches(statement.get("Action"), "sqs:SendMessage")
    if "NotPrincipal" in statement:
        return actions and not _names_sns(statement["NotPrincipal"])
    principal = statement.get("Principal")
    return actions and (principal == "*" or _names_sns(principal))


def _spared(condition: Any, topic_arn: str) -> bool:
    """Whether a Deny's ``condition`` is false for SNS's delivery from ``topic_arn``: a
    Deny applies only when each of its conditions holds, so one known false spares it.
    What such a delivery is known to carry: TLS (aws:SecureTransport), the topic as
    aws:SourceArn and its account as aws:SourceAccount; a condition on anything else
    may hold."""
    if not isinstance(condition, dict):
        return False
    account = topic_arn.split(":")[4] if topic_arn.count(":") >= 5 else None
    known = {
        "aws:securetransport": "true",
        "aws:sourcearn": topic_arn,
        "aws:sourceaccount": account,
    }
    for operator, tests in condition.items():
        if not isinstance(operator, str) or not isinstance(tests, dict):
            continue
        test = _TESTS.get(operator.removesuffix("IfExists"))
        for key, values in tests.items():
            value = known.get(str(key).lower())
            if test is None or value is None:
                continue
            listed = values if isinstance(values, list) else [values]
            match, negated = test
            if any(match(_text(v), value) for v in listed) == negated:
                return True
    return False


def _text(value: Any) -> str:
    """A condition's value as IAM compares it: JSON's ``false`` as ``"false"``."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _same(pattern: str, value: str) -> bool:
    return pattern == value


def _same_text(pattern: str, value: str) -> bool:
    """Equal in any case (``True``, ``true``; a string compared ignoring case)."""
    return pattern.lower() == value.lower()


def _like(pattern: str, value: str) -> bool:
    """IAM's ``*`` and ``?`` (and nothing else: ``[`` is itself), case kept."""
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _arn_like(pattern: str, value: str) -> bool:
    """IAM's ARN match: each of the six parts of the ARN against its own pattern."""
    parts, wanted = value.split(":", 5), pattern.split(":", 5)
    return len(parts) == len(wanted) and all(map(_like, wanted, parts))


#: The condition operators whose outcome for SNS's delivery is known: how a value
#: matches, and whether the operator is a "not" one (true when none matches).
_TESTS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "Bool": (_same_text, False),
    "StringEquals": (_same, False),
    "StringNotEquals": (_same, True),
    "StringEqualsIgnoreCase": (_same_text, False),
    "StringNotEqualsIgnoreCase": (_same_text, True),
    "StringLike": (_like, False),
    "StringNotLike": (_like, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
}


def _names_sns(principal: Any) -> bool:
    """Whether a Principal takes in SNS's service: everyone, or it by name."""
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return _matches(principal.get("AWS"), "*", exact=True) or _matches(
        principal.get("Service"), "sns.amazonaws.com"
    )


def _matches(patterns: Any, name: str, *, exact: bool = False) -> bool:
    """Whether one of ``patterns`` (a string or a list of them; IAM's ``*`` and ``?``,
    in any case) matches ``name`` (with ``exact``, is ``name``)."""
    listed = patterns if isinstance(patterns, list) else [patterns]
    return any(
        isinstance(p, str) and (p == name if exact else fnmatch.fnmatch(name.lower(), p.lower()))
        for p in listed
    )


#: The keys SQS and SNS encrypt with when asked for AWS's own: their policies are
#: AWS's, and let no other service use them.
_AWS_MANAGED_KEYS = {"queue": "alias/aws/sqs", "topic": "alias/aws/sns"}
#: Who encrypts what is sent to each with its key: SNS to the queue, SES to the topic.
_SENDERS = {"queue": ("SNS", "sns.amazonaws.com"), "topic": ("SES", "ses.amazonaws.com")}
#: What else each may be encrypted with, that needs no key policy.
_INSTEAD = {"queue": "SQS-managed encryption (SSE-SQS)", "topic": "no encryption"}


def encrypted(kind: str, name: str, key: str) -> str:
    """What an SSE-KMS queue or topic needs that setup does not change: its sender (SNS
    to the queue, SES to the topic) encrypts with its key, so the key's policy must let
    that service use it, or none of SES's events get through; sesd decrypts what it
    receives from the queue."""
    sender, principal = _SENDERS[kind]
    said = f"{kind} {name} is encrypted with the KMS key {escaped(key, 300)}"
    reader = ", and sesd's identity needs kms:Decrypt on it" if kind == "queue" else ""
    if key == _AWS_MANAGED_KEYS[kind]:
        return (
            f"{said}, whose key policy {sender} may not be given: {sender} cannot send "
            f"SES's events to it; use {_INSTEAD[kind]} or a customer managed key that "
            f"lets {principal} kms:GenerateDataKey and kms:Decrypt{reader}"
        )
    return (
        f"{said}: its key policy must let {principal} kms:GenerateDataKey and "
        f"kms:Decrypt, or {sender} sends none of SES's events{reader} (setup changes "
        "no key or encryption)"
    )


def filters(policy: str | None) -> bool:
    """Whether a subscription's ``FilterPolicy`` filters: not when blank, nor when {},
    which is how SNS's own guide says to clear one (and what :func:`filtered` says to
    set, so a policy cleared so is not warned of again)."""
    if not policy:
        return False
    try:
        return bool(json.loads(policy) != {})
    except ValueError:
        return True  # SNS's to refuse: said as a policy that filters


def filtered(queue: str, topic: str, attrs: dict[str, str]) -> str:
    """A filter policy on the subscription: SNS delivers only what it matches. SES
    sets no message attributes, so one on them (the default scope) matches nothing but
    an ``exists: false``.
    The user's to keep or remove: setup does not know what it was for."""
    scope = attrs.get("FilterPolicyScope") or "MessageAttributes"
    return (
        f"the subscription of {queue} to the topic {topic} has a filter "
        f"policy ({escaped(scope, 40)}): SNS delivers only the events it matches (on "
        "MessageAttributes, which SES's events carry none of, almost none); unless that "
        "is meant, set its FilterPolicy to {} (aws sns set-subscription-attributes)"
    )


def unread_topic(name: str, code: str) -> str:
    """The topic's attributes refused (``code``): whether it is encrypted with a KMS key
    SES may not use (:func:`encrypted`) is not known."""
    return (
        f"topic {name}: its attributes could not be read ({escaped(code, 60)}: "
        "sns:GetTopicAttributes refused), so whether it is encrypted with a KMS key SES "
        "may not use is not known; allow that call to setup's identity, or check the "
        "topic's KmsMasterKeyId yourself"
    )
