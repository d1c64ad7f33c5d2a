"""What setup writes into the queue policy, and what it says of an SSE-KMS queue or
topic and of a subscription's filter policy, word for word: the tests against moto
(tests/test_setup_found.py, tests/test_setup_partial.py) look for a phrase of each.
Pure code, no server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sesd.commands.sns_access import encrypted, filtered, queue_policy

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:sesd-events"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:sesd-events"
OURS = {
    "Sid": "sesd-sns-send",
    "Effect": "Allow",
    "Principal": {"Service": "sns.amazonaws.com"},
    "Action": "sqs:SendMessage",
    "Resource": QUEUE_ARN,
    "Condition": {"ArnEquals": {"aws:SourceArn": TOPIC_ARN}},
}
OTHER = {"Sid": "eu-west-1-events", "Effect": "Allow", "Action": "sqs:SendMessage"}
OLD = {**OURS, "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:sns:x:1:old"}}}


@pytest.mark.parametrize(
    ("current", "statements"),
    [
        (None, [OURS]),
        ("", [OURS]),
        ("not json", [OURS]),  # a policy unreadable is written anew
        ("[1, 2]", [OURS]),  # so is one that is no object
        (json.dumps({"Id": "x"}), [OURS]),
        (json.dumps({"Statement": OTHER}), [OTHER, OURS]),  # one statement standing alone
        (json.dumps({"Statement": [OTHER]}), [OTHER, OURS]),
        # sesd's own of before, in its place; what is not an object kept as it is
        (json.dumps({"Statement": ["x", OLD, OTHER]}), ["x", OURS, OTHER]),
    ],
)
def test_the_queue_policy_has_setup_s_statement_beside_the_others(
    current: str | None, statements: list[Any]
) -> None:
    policy = queue_policy(current, QUEUE_ARN, TOPIC_ARN)
    kept = json.loads(current) if current and current.startswith("{") else {}
    assert policy == {"Version": "2012-10-17", **kept, "Statement": statements}


def test_the_queue_policy_keeps_its_own_version() -> None:
    current = json.dumps({"Version": "2008-10-17", "Statement": []})
    assert queue_policy(current, QUEUE_ARN, TOPIC_ARN) == {
        "Version": "2008-10-17",
        "Statement": [OURS],
    }


DECRYPT = ", and sesd's identity needs kms:Decrypt on it"


@pytest.mark.parametrize(
    ("kind", "key", "said"),
    [
        (
            "queue",
            "alias/aws/sqs",
            "queue n is encrypted with the KMS key alias/aws/sqs, whose key policy SNS may not "
            "be given: SNS cannot send SES's events to it; use SQS-managed encryption (SSE-SQS) "
            "or a customer managed key that lets sns.amazonaws.com kms:GenerateDataKey and "
            "kms:Decrypt" + DECRYPT,
        ),
        (
            "topic",
            "alias/aws/sns",
            "topic n is encrypted with the KMS key alias/aws/sns, whose key policy SES may not "
            "be given: SES cannot send SES's events to it; use no encryption or a customer "
            "managed key that lets ses.amazonaws.com kms:GenerateDataKey and kms:Decrypt",
        ),
        (
            "queue",
            "alias/aws/sns",  # SNS's own key is no queue's AWS managed key
            "queue n is encrypted with the KMS key alias/aws/sns: its key policy must let "
            "sns.amazonaws.com kms:GenerateDataKey and kms:Decrypt, or SNS sends none of SES's "
            "events" + DECRYPT + " (setup changes no key or encryption)",
        ),
        (
            "topic",
            "k\n",
            "topic n is encrypted with the KMS key k\\u000a: its key policy must let "
            "ses.amazonaws.com kms:GenerateDataKey and kms:Decrypt, or SES sends none of SES's "
            "events (setup changes no key or encryption)",
        ),
    ],
)
def test_an_encrypted_queue_or_topic_is_said_to_need_its_sender_let_in(
    kind: str, key: str, said: str
) -> None:
    assert encrypted(kind, "n", key) == said


@pytest.mark.parametrize(("length", "shown"), [(300, "k" * 300), (301, "k" * 299 + "…")])
def test_a_key_is_shown_up_to_300_characters(length: int, shown: str) -> None:
    said = encrypted("topic", "n", "k" * length)
    assert said.startswith(f"topic n is encrypted with the KMS key {shown}: its key policy")


@pytest.mark.parametrize(
    ("attrs", "scope"),
    [
        ({}, "MessageAttributes"),
        ({"FilterPolicyScope": ""}, "MessageAttributes"),
        ({"FilterPolicyScope": "MessageBody"}, "MessageBody"),
        ({"FilterPolicyScope": "s" * 40}, "s" * 40),
        ({"FilterPolicyScope": "s" * 41 + "\n"}, "s" * 39 + "…"),
    ],
)
def test_a_filter_policy_is_said_to_drop_ses_events(attrs: dict[str, str], scope: str) -> None:
    assert filtered("q", "t", attrs) == (
        f"the subscription of q to the topic t has a filter policy ({scope}): SNS delivers "
        "only the events it matches (on MessageAttributes, which SES's events carry none of, "
        "almost none); unless that is meant, set its FilterPolicy to {} (aws sns "
        "set-subscription-attributes)"
    )
