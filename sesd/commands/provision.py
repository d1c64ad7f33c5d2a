"""What ``sesd setup`` provisions in one region, idempotently (sesd.commands.setup
is the command): each step looks at what exists, creates what is missing,
corrects what differs and leaves alone what is right; a dry run only looks."""

from __future__ import annotations

import json
from typing import Any

from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from sesd.commands.setup_plan import Plan, SetupOptions, Taken, aws_command
from sesd.commands.setup_unanswered import heard, made_topic_arn
from sesd.commands.sns_access import (
    denials,
    encrypted,
    filtered,
    filters,
    queue_policy,
    unread_topic,
)
from sesd.config.aws import NO_QUEUE_CODES, denied_once_known
from sesd.io.aws_errors import error_code

__all__ = ["EVENT_TYPES", "Plan", "SetupOptions", "Taken", "run_setup"]

#: SES event types sesd needs (SES API names): those of sending and delivery, and
#: what stops a message before either (a reject, a template that did not render).
EVENT_TYPES = (
    "send",
    "reject",
    "bounce",
    "complaint",
    "delivery",
    "deliveryDelay",
    "renderingFailure",
)
#: The dead-letter queue's retention: SQS's longest, 14 days. A message's age there
#: counts from when it was first sent (standard queues), so at the queue's own 4 days
#: an event that failed after an outage would expire before anyone looked.
DEAD_LETTER_RETENTION = str(14 * 86400)


async def run_setup(options: SetupOptions, plan: Plan | None = None) -> Plan:
    """Look at what exists and provision the rest (or only plan, with ``dry_run``).
    Each step is recorded in ``plan`` once done: after an error (or Ctrl-C) it names
    what this run made so far."""
    if plan is None:
        plan = Plan(options.dry_run, options.region)
    session = get_session()
    kwargs: dict[str, Any] = {"region_name": options.region}
    if options.endpoint_url:
        kwargs["endpoint_url"] = options.endpoint_url
    async with (
        session.create_client("sns", **kwargs) as sns,
        session.create_client("sqs", **kwargs) as sqs,
        session.create_client("ses", **kwargs) as ses,
        session.create_client("sts", **kwargs) as sts,
    ):
        for client in (sns, sqs, ses):
            client.meta.events.register("needs-retry", heard(plan))
        topic_arn = await _topic(sns, sts, options, plan)
        # Where a queue made here is (its URL, should AWS's answer not come): the
        # endpoint's, in the topic's account (SQS's own URLs, https://sqs.REGION...).
        at = f"{sqs.meta.endpoint_url.rstrip('/')}/{topic_arn.split(':')[4]}/" if topic_arn else ""
        kept = {"MessageRetentionPeriod": DEAD_LETTER_RETENTION}
        dlq_arn = await _queue(
            sqs, options.dead_letter_queue, kept, plan, "SQS dead-letter queue", at
        )
        redrive = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(options.max_receive_count)}
        )
        queue_arn = await _queue(
            sqs, options.queue, {"RedrivePolicy": redrive}, plan, "SQS queue", at
        )
        # A dry run before the topic exists reads the queue's policy (a Deny of the
        # user's) against the ARN the topic will have: the queue's account and region.
        sender = topic_arn or (_topic_beside(queue_arn, options.topic) if queue_arn else None)
        if queue_arn and sender and plan.queue_url:
            found = await sqs.get_queue_attributes(
                QueueUrl=plan.queue_url, AttributeNames=["Policy"]
            )
            current = found.get("Attributes", {}).get("Policy")
            plan.warnings += denials(current, options.queue, sender)
            policy = json.dumps(queue_policy(current, queue_arn, sender))
            # A queue without a policy (one just made) has it created, not updated.
            await _attributes(
                sqs,
                plan.queue_url,
                {"Policy": policy},
                plan,
                "SQS queue policy",
                options.queue,
                changed="updated" if current else "created",
            )
        else:
            plan.record("created", "SQS queue policy", options.queue)
        await _subscription(sns, topic_arn, queue_arn, options, plan)
        await _configuration_set(ses, topic_arn, options, plan)
    return plan


def _topic_beside(queue_arn: str, topic: str) -> str:
    """The ARN of the topic ``topic`` made in the queue's partition, region and account
    (``arn:aws:sqs:REGION:ACCOUNT:NAME``), as setup makes it."""
    _, partition, _, region, account = queue_arn.split(":")[:5]
    return f"arn:{partition}:sns:{region}:{account}:{topic}"


async def _topic(sns: Any, sts: Any, options: SetupOptions, plan: Plan) -> str | None:
    suffix = f":{options.topic}"
    paginator = sns.get_paginator("list_topics")
    async for page in paginator.paginate():
        for topic in page.get("Topics", []):
            if topic["TopicArn"].endswith(suffix):
                plan.record("found", "SNS topic", topic["TopicArn"])
                await _topic_key(sns, topic["TopicArn"], options.topic, plan)
                return str(topic["TopicArn"])
    if options.dry_run:
        plan.record("created", "SNS topic", options.topic)
        return None
    made = await made_topic_arn(sts, options)
    undo = ("sns", "delete-topic", "--topic-arn", made) if made else ()
    plan.asking("created", "SNS topic", options.topic, undo)
    arn = str((await sns.create_topic(Name=options.topic))["TopicArn"])
    plan.record("created", "SNS topic", arn, undo=("sns", "delete-topic", "--topic-arn", arn))
    return arn


async def _topic_key(sns: Any, arn: str, name: str, plan: Plan) -> None:
    """Warn of the topic's KMS key, as of the queue's. Only ever a warning: an identity
    refused sns:GetTopicAttributes (a policy written from an older list of setup's
    calls) gets the rest done and a warning of what was not looked at."""
    try:
        found = await sns.get_topic_attributes(TopicArn=arn)
    except ClientError as exc:
        code = error_code(exc)
        if code != "AuthorizationError" and not denied_once_known(code):
            raise
        plan.warnings.append(unread_topic(name, code))
        return
    key = found.get("Attributes", {}).get("KmsMasterKeyId")
    if key:
        plan.warnings.append(encrypted("topic", name, str(key)))


async def _queue(
    sqs: Any, name: str, attributes: dict[str, str], plan: Plan, kind: str, at: str
) -> str | None:
    """Ensure a queue exists with ``attributes``; returns its ARN (None in a dry run).
    ``at``: the URL a queue made has before its name, for the undo of one unanswered."""
    try:
        url = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in NO_QUEUE_CODES:
            raise
        url = None
    if url is None:
        if plan.dry_run:
            plan.record("created", kind, name)
            return None
        undo = ("sqs", "delete-queue", "--queue-url", at + name) if at else ()
        plan.asking("created", kind, name, undo)
        url = str((await sqs.create_queue(QueueName=name, Attributes=attributes))["QueueUrl"])
        plan.record("created", kind, name, undo=("sqs", "delete-queue", "--queue-url", url))
    else:
        plan.record("found", kind, name)
        await _attributes(sqs, url, attributes, plan, f"{kind} attributes", name)
    if kind == "SQS queue":
        plan.queue_url = url
    names = ["QueueArn", "KmsMasterKeyId"] if kind == "SQS queue" else ["QueueArn"]
    found = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names))["Attributes"]
    if found.get("KmsMasterKeyId"):
        plan.warnings.append(encrypted("queue", name, str(found["KmsMasterKeyId"])))
    return str(found["QueueArn"])


async def _attributes(
    sqs: Any,
    url: str,
    wanted: dict[str, str],
    plan: Plan,
    kind: str,
    name: str,
    *,
    changed: str = "updated",
) -> None:
    """Set queue attributes that differ from ``wanted`` (JSON ones compared as JSON),
    recorded as ``changed``."""
    if not wanted:
        return
    response = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(wanted))
    current = response.get("Attributes", {})
    differing = {
        key: value for key, value in wanted.items() if _json(current.get(key)) != _json(value)
    }
    if not differing:
        plan.record("found", kind, name)
        return
    # What each had ("" for none: SQS takes it as the attribute removed).
    former = json.dumps({key: current.get(key, "") for key in differing})
    undo = ("sqs", "set-queue-attributes", "--queue-url", url, "--attributes", former)
    if not plan.dry_run:
        plan.asking(changed, kind, name, undo)
        await sqs.set_queue_attributes(QueueUrl=url, Attributes=differing)
    plan.record(changed, kind, name, undo=undo)


def _json(value: str | None) -> Any:
    """An attribute for comparison: JSON parsed, scalars as strings (SQS returns
    ``"maxReceiveCount": 5`` for the ``"5"`` it was given)."""
    if not value:
        return None
    try:
        return _scalars_as_text(json.loads(value))
    except ValueError:
        return value


def _scalars_as_text(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _scalars_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_scalars_as_text(item) for item in value]
    return str(value)


async def _subscription(
    sns: Any, topic_arn: str | None, queue_arn: str | None, options: SetupOptions, plan: Plan
) -> None:
    kind = "SNS subscription (raw)" if options.raw_delivery else "SNS subscription"
    if topic_arn is None or queue_arn is None:
        plan.record("created", kind, f"{options.topic} -> {options.queue}")
        return
    raw = "true" if options.raw_delivery else "false"
    paginator = sns.get_paginator("list_subscriptions_by_topic")
    async for page in paginator.paginate(TopicArn=topic_arn):
        for sub in page.get("Subscriptions", []):
            if sub.get("Protocol") == "sqs" and sub.get("Endpoint") == queue_arn:
                arn = sub["SubscriptionArn"]
                attrs = (await sns.get_subscription_attributes(SubscriptionArn=arn))["Attributes"]
                if filters(attrs.get("FilterPolicy")):
                    plan.warnings.append(filtered(options.queue, options.topic, attrs))
                if attrs.get("RawMessageDelivery", "false") == raw:
                    plan.record("found", kind, arn)
                    return
                former = attrs.get("RawMessageDelivery", "false")
                back = (
                    "sns", "set-subscription-attributes", "--subscription-arn", arn,
                    "--attribute-name", "RawMessageDelivery", "--attribute-value", former,
                )  # fmt: skip
                if not plan.dry_run:
                    plan.asking("updated", kind, arn, back)
                    await sns.set_subscription_attributes(
                        SubscriptionArn=arn, AttributeName="RawMessageDelivery", AttributeValue=raw
                    )
                plan.record("updated", kind, arn, undo=back)
                return
    undo: tuple[str, ...] = ()
    if not plan.dry_run:
        # Its ARN is AWS's answer (the topic's and an id): unanswered, it is found by
        # its queue; on a topic this run made, the topic's undo deletes it with it.
        made_here = ("created", "SNS topic", topic_arn) in plan.steps
        query = f"Subscriptions[?Endpoint=='{queue_arn}'].SubscriptionArn"
        listing = (
            "sns", "list-subscriptions-by-topic", "--topic-arn", topic_arn,
            "--query", query, "--output", "text",
        )  # fmt: skip
        note = "if the subscription was made, this lists its ARN: aws sns unsubscribe it"
        plan.asking(
            "created",
            kind,
            f"{options.topic} -> {options.queue}",
            () if made_here else listing,
            "" if made_here else f"{note} (--subscription-arn ARN)",
        )
        made = await sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": raw},
            ReturnSubscriptionArn=True,
        )
        undo = ("sns", "unsubscribe", "--subscription-arn", str(made["SubscriptionArn"]))
    plan.record("created", kind, f"{options.topic} -> {options.queue}", undo=undo)


async def _configuration_set(
    ses: Any, topic_arn: str | None, options: SetupOptions, plan: Plan
) -> None:
    name = options.configuration_set
    destinations: list[dict[str, Any]] = []
    try:
        found = await ses.describe_configuration_set(
            ConfigurationSetName=name, ConfigurationSetAttributeNames=["eventDestinations"]
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConfigurationSetDoesNotExist":
            raise
        undo = ("ses", "delete-configuration-set", "--configuration-set-name", name)
        if not plan.dry_run:
            plan.asking("created", "SES configuration set", name, undo)
            await ses.create_configuration_set(ConfigurationSet={"Name": name})
        plan.record("created", "SES configuration set", name, undo=undo)
    else:
        plan.record("found", "SES configuration set", name)
        destinations = [d for d in found.get("EventDestinations", []) if d]
    kind = "SES event destination (SNS)"
    existing = next((d for d in destinations if d.get("Name") == options.event_destination), None)
    if existing is not None and "SNSDestination" not in existing:
        # The user's (CloudWatch, Firehose): updated into SNS's, it would be lost.
        _taken(existing, options)
    # The types it publishes besides sesd's (open, click: the user's choice, which sesd
    # counts too) are kept: a run adds what is missing, it takes nothing away.
    found_types = [] if existing is None else list(existing.get("MatchingEventTypes") or [])
    destination = {
        "Name": options.event_destination,
        "Enabled": True,
        "MatchingEventTypes": found_types + [t for t in EVENT_TYPES if t not in found_types],
        "SNSDestination": {"TopicARN": topic_arn or f"(the {options.topic} topic)"},
    }
    if existing is None:
        remove = (
            "ses", "delete-configuration-set-event-destination",
            "--configuration-set-name", name,
            "--event-destination-name", options.event_destination,
        )  # fmt: skip
        if not plan.dry_run:
            plan.asking("created", kind, f"{name}/{options.event_destination}", remove)
            await ses.create_configuration_set_event_destination(
                ConfigurationSetName=name, EventDestination=destination
            )
        plan.record("created", kind, f"{name}/{options.event_destination}", undo=remove)
        return
    same = (
        set(EVENT_TYPES) <= set(found_types)
        and existing.get("SNSDestination", {}).get("TopicARN") == topic_arn
        and existing.get("Enabled", False)
    )
    if same:
        plan.record("found", kind, f"{name}/{options.event_destination}")
        return
    back = (
        "ses", "update-configuration-set-event-destination", "--configuration-set-name", name,
        "--event-destination", json.dumps(existing),
    )  # fmt: skip
    if not plan.dry_run:
        plan.asking("updated", kind, f"{name}/{options.event_destination}", back)
        await ses.update_configuration_set_event_destination(
            ConfigurationSetName=name, EventDestination=destination
        )
    plan.record("updated", kind, f"{name}/{options.event_destination}", undo=back)


def _taken(destination: dict[str, Any], options: SetupOptions) -> None:
    """:class:`Taken`: ``destination``, of setup's name, sends elsewhere than to SNS."""
    name, configuration_set = destination.get("Name", ""), options.configuration_set
    kinds = [key.removesuffix("Destination") for key in destination if key.endswith("Destination")]
    remove = aws_command(
        ("ses", "delete-configuration-set-event-destination", "--configuration-set-name",
         configuration_set, "--event-destination-name", name),
        options.region,
        options.endpoint_url,
    )  # fmt: skip
    raise Taken(
        f"the event destination {name} of the configuration set {configuration_set} is a "
        f"{kinds[0] if kinds else 'non-SNS'} one, not the SNS one setup makes: setup leaves "
        "it as it is",
        hint=f"give setup another --name, or remove it if it is not needed ({remove})",
    )
