"""``[aws]``, ``[[accounts]]`` and ``[[queues]]``: where the queues are, in which region
and account, and the credentials to read them.

A queue's region comes from its URL (``https://sqs.eu-west-1.amazonaws.com/...``),
or its own ``region`` (needed for a local endpoint), else its account's, else
``[aws] region``. A queue that names an ``account`` is read with that account's
role (STS AssumeRole); without one, with the default credential chain.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse, urlsplit

import msgspec

from sesd.config.secrets import Secret
from sesd.config.urls import check_http_url, shown_url
from sesd.config.values import LABEL_LENGTH, Duration, Section, check_region
from sesd.core.accounts import ACCOUNT_NAME, DEFAULT_ACCOUNT, is_region
from sesd.core.text import escaped, has_control

__all__ = [
    "CLOCK_OFF",
    "CREDENTIALS_REFUSED",
    "KEY_UNKNOWN",
    "NO_CREDENTIALS",
    "NO_QUEUE_CODES",
    "ROLE_NOT_ASSUMED",
    "AccountConfig",
    "AccountHealthConfig",
    "AwsConfig",
    "QueueConfig",
    "ReputationConfig",
    "denied_once_known",
    "endpoint_of_url",
    "region_not_enabled",
    "region_of_url",
    "role_refused",
]

#: What a log line says when an account's role cannot be assumed (any of its calls).
ROLE_NOT_ASSUMED = (
    "sesd could not assume the account's role: check role_arn and external_id, and that "
    "the role trusts the credentials sesd runs with (sts:AssumeRole); with [aws] "
    "endpoint_url set, that it is STS's (an answer without credentials is not)"
)
#: What a log line says when the SDK found no credentials at all: the commonest first
#: run's mistake, and no retry cures it, so it names where sesd looks for them.
NO_CREDENTIALS = (
    "no AWS credentials were found: give [aws] access_key_id and secret_access_key, or "
    "the SDK's default chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE "
    "or ~/.aws/credentials, the instance's, task's or pod's role)"
)

#: What a log line says when AWS refuses a request's signature for its time (SQS's
#: calls, SES's polls, STS's AssumeRole of an account's role alike).
CLOCK_OFF = (
    "AWS refuses the request's signature for its time: this host's clock is minutes off "
    "from AWS's (the SDK signs with it as it is): fix its time sync (chrony, NTP)"
)

#: What a log line says when AWS refuses the credentials themselves, by error code (the
#: query and JSON protocols name some differently): no poll cures these, and neither
#: the region nor the endpoint is the cause (SQS's calls, SES's polls, STS alike).
_BAD_KEY = "the access key is not valid: check the credentials"
_KEY_MISMATCH = "the secret access key does not match the access key id: check the credentials"
_EXPIRED = (
    "the session token has expired: static credentials with a session token do not renew; "
    "use a role (the instance's, the pod's, or an [[accounts]] role) or fresh credentials"
)
#: The error codes of a queue that does not exist: SQS's query protocol's (also the
#: JSON protocol's through its ``x-amzn-query-error`` header, which the SDK prefers),
#: and its JSON protocol's error type (an answer without that header).
NO_QUEUE_CODES = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
CREDENTIALS_REFUSED = {
    "InvalidClientTokenId": _BAD_KEY,
    "UnrecognizedClientException": _BAD_KEY,
    "SignatureDoesNotMatch": _KEY_MISMATCH,
    "InvalidSignatureException": _KEY_MISMATCH,
    "ExpiredToken": _EXPIRED,
    "ExpiredTokenException": _EXPIRED,
}
#: The codes of an access key AWS does not know: also what a region the account has not
#: enabled answers (an opt-in region, enabled per account), where the key is not known.
KEY_UNKNOWN = frozenset(code for code, hint in CREDENTIALS_REFUSED.items() if hint is _BAD_KEY)


#: What a log line says when STS is not activated where sesd asks it for a role.
_STS_OFF = (
    "STS is not activated in {} (the region sesd asks it in for the role: the "
    "[[accounts]] entry's region, else [aws] region): activate STS in that region for "
    "the role's account (IAM, Account settings, Security Token Service endpoints)"
)


def role_refused(code: str, region: str = "") -> str:
    """What a log line says when STS refused to assume an account's role with ``code``:
    a refusal of the credentials sesd asks with (their key unknown, their signature's
    secret wrong, their session token expired) is theirs to fix, not the role's trust;
    STS off in the region asked (``RegionDisabledException``), ``region`` if known, is
    that region's: named, as the log line's region is the failed call's, not STS's."""
    if code == "RegionDisabledException":
        return _STS_OFF.format(region or "the region sesd asks it in")
    said = CREDENTIALS_REFUSED.get(code)
    if said is None:
        return ROLE_NOT_ASSUMED
    return f"STS refused the credentials sesd assumes the account's role with: {said}"


def denied_once_known(code: str) -> bool:
    """Whether an error code is IAM's refusal of what a caller may do (``AccessDenied``,
    ``AccessDeniedException``, KMS's for a queue's key, EC2-style
    ``UnauthorizedOperation``): AWS decides that only once it knows who signed (the key,
    its signature, its token's expiry: the codes of :data:`CREDENTIALS_REFUSED` and
    ``RequestExpired`` come before), so the region that said it knew the credentials."""
    return "AccessDenied" in code or code == "UnauthorizedOperation"


def region_not_enabled(region: str, elsewhere: list[str]) -> str:
    """What a log line says when a key AWS does not know in ``region`` was answered in
    the regions ``elsewhere`` (the same account, the same credentials): the region, not
    the key, is the cause. No list of opt-in regions is kept: AWS adds them."""
    works = ", ".join(elsewhere)
    return (
        f"the credentials work in {works} but {region} does not know them: {region} may "
        "be a region the account has not enabled (opt-in regions are off until enabled "
        "in the account's settings): enable it, or leave the region out; with "
        "a session token, get it from a regional STS endpoint (the global one's are not "
        "valid there); the key itself need not change"
    )


#: The hosts of SQS's queue URLs: sqs.REGION.amazonaws.com (and .com.cn), FIPS
#: (sqs-fips.REGION), dual-stack (sqs.REGION.api.aws), an interface VPC endpoint
#: (vpce-ID.sqs.REGION.vpce.amazonaws.com), the legacy REGION.queue.amazonaws.com, and
#: the oldest, queue.amazonaws.com (us-east-1).
_SQS_HOST = re.compile(
    r"(?:sqs(?P<fips>-fips)?[.-](?P<a>[a-z0-9-]+)\.(?:amazonaws\.com(?:\.cn)?|(?P<dual>api\.aws)))"
    r"|(?:vpce-[a-z0-9-]+\.sqs\.(?P<vpce>[a-z0-9-]+)\.vpce\.amazonaws\.com(?:\.cn)?)"
    r"|(?:(?P<b>[a-z0-9-]+)\.queue\.amazonaws\.com(?:\.cn)?)"
    r"|(?P<oldest>queue\.amazonaws\.com)"
)
#: The path of a queue's URL on an SQS host: /ACCOUNT_ID/QUEUE_NAME.
_QUEUE_PATH = re.compile(r"/\d+/[A-Za-z0-9_-]+(?:\.fifo)?/?")
#: What SQS's queue URLs look like, said where a URL is none.
_QUEUE_URL_IS = (
    "SQS's are https://sqs.REGION.amazonaws.com/ACCOUNT_ID/QUEUE_NAME, as the queue's "
    "Details show it"
)


#: A queue's ARN (``arn:aws:sqs:REGION:ACCOUNT_ID:NAME``), pasted where its URL goes:
#: the partition, region, account and name its URL is made of.
_QUEUE_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):sqs:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"(?P<name>[A-Za-z0-9_-]{1,80}(?:\.fifo)?)"
)
#: The partitions whose SQS hosts are sqs.REGION.DOMAIN: each one's DOMAIN.
_PARTITION_HOSTS = {
    "aws": "amazonaws.com",
    "aws-us-gov": "amazonaws.com",
    "aws-cn": "amazonaws.com.cn",
}
#: A queue's name alone, written where its URL goes.
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}(?:\.fifo)?")


def _check_not_arn_or_name(url: str) -> None:
    """Raise ValueError when ``url`` is the queue's ARN or its name, not its URL: the
    ARN is what IAM policies and SNS subscriptions show, so it is pasted as often as
    the URL. Neither holds a secret, so each is shown whole, with the URL to write."""
    arn = _QUEUE_ARN.fullmatch(url.strip())
    if arn is not None:
        said = f"url: '{escaped(url, 300)}' is the queue's ARN, not its URL"
        domain = _PARTITION_HOSTS.get(arn["partition"])
        if domain is None:
            # The isolated partitions' SQS hosts are their own (c2s.ic.gov...): a URL
            # built on amazonaws.com would be wrong advice.
            raise ValueError(f"{said}: write the URL the queue's Details show")
        raise ValueError(
            f"{said}: write https://sqs.{arn['region']}.{domain}/{arn['account']}/{arn['name']}"
        )
    if _QUEUE_NAME.fullmatch(url.strip()):
        raise ValueError(
            f"url: '{escaped(url, 300)}' is a queue's name, not its URL: {_QUEUE_URL_IS}"
        )


def _check_queue_url(url: str) -> None:
    """Raise ValueError when ``url`` is an AWS host's that names no queue: SQS's without
    its account or name (or with a query), or the console's page of the queue. Another
    host (a local SQS) is taken as written."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    shown = escaped(shown_url(url), 300)
    if host.endswith(("console.aws.amazon.com", "console.amazonaws.cn")):
        raise ValueError(
            f"url: '{shown}' is the AWS console's page of the queue, not its URL: " + _QUEUE_URL_IS
        )
    if _SQS_HOST.fullmatch(host) is None:
        return
    if parts.query or parts.fragment or not _QUEUE_PATH.fullmatch(parts.path):
        # Every receive would fail after the start, the queue unread.
        raise ValueError(f"url: '{shown}' is no queue's URL: {_QUEUE_URL_IS}")


_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")


def region_of_url(url: str) -> str | None:
    """The region an SQS queue URL names, or None (a local endpoint, say)."""
    found = _SQS_HOST.fullmatch((urlparse(url).hostname or "").lower())
    if found is None:
        return None
    if found.group("oldest"):
        return "us-east-1"
    region = found.group("a") or found.group("b") or found.group("vpce")
    return region if is_region(region) else None


def endpoint_of_url(url: str) -> str | None:
    """The endpoint a queue URL's calls must go to when it is not its region's public
    one: a VPC endpoint (a network may reach SQS only there), FIPS, dual-stack. None
    for the others (the SDK's regional endpoint takes them)."""
    parsed = urlparse(url)
    found = _SQS_HOST.fullmatch((parsed.hostname or "").lower())
    if found is None or not (found.group("vpce") or found.group("fips") or found.group("dual")):
        return None
    return f"{parsed.scheme}://{parsed.netloc}"


class AwsConfig(Section, frozen=True):
    """``[aws]``: the default region and endpoint. Credentials come from the default
    chain unless given."""

    region: str = "us-east-1"
    endpoint_url: str | None = None
    access_key_id: Secret | None = None
    secret_access_key: Secret | None = None

    def __post_init__(self) -> None:
        if self.endpoint_url is not None:
            check_http_url(self.endpoint_url, "endpoint_url")
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("access_key_id and secret_access_key go together")
        check_region(self.region, "region")


class AccountConfig(Section, frozen=True):
    """``[[accounts]]``: another AWS account, reached through a role sesd assumes."""

    name: str
    role_arn: str
    external_id: str | None = None
    #: The account's default region, for its queues whose URL names none.
    region: str | None = None

    def __post_init__(self) -> None:
        if not ACCOUNT_NAME.fullmatch(self.name) or self.name == DEFAULT_ACCOUNT:
            raise ValueError(
                f"name {self.name!r}: ASCII letters, digits, '_', '.', '-', at most 64 "
                "('default' is the default credential chain)"
            )
        if not _ROLE_ARN.fullmatch(self.role_arn):
            raise ValueError(
                f"role_arn {self.role_arn!r} is not a role ARN "
                "(arn:aws:iam::123456789012:role/NAME)"
            )
        check_region(self.region, "region")

    @property
    def account_id(self) -> str:
        """The 12-digit account id of the role."""
        return self.role_arn.split(":")[4]


class QueueConfig(Section, frozen=True):
    """``[[queues]]``: one SQS queue and how hard to poll it."""

    url: str
    name: str = ""
    concurrency: int = msgspec.field(default=1)
    wait_time_seconds: int = 20
    max_messages: int = 10
    visibility_timeout: int | None = None
    #: The queue's region when its URL does not say (a local endpoint).
    region: str | None = None
    #: The ``[[accounts]]`` entry whose role reads the queue; empty: the default chain.
    account: str = ""
    #: Whether invalid messages are deleted from this queue (a FIFO queue's, where one
    #: left holds its message group back); unset: ``[ingest] delete_invalid``.
    delete_invalid: bool | None = None

    def __post_init__(self) -> None:
        # The label (the name, else the URL's last part) is on every metric and log line
        # of the queue: a control character there would drive a terminal or split a
        # line, an invisible one make two names look one.
        for key, written, what in (
            ("url", self.url, "its last part, without a name,"),
            ("name", self.name, "the name"),
        ):
            if has_control(written):
                raise ValueError(
                    f"{key} '{escaped(shown_url(written), 200)}': a control or invisible character "
                    f"(shown escaped); {what} is the queue label of metrics and log "
                    "lines: write it without"
                )
        _check_not_arn_or_name(self.url)
        check_http_url(self.url, "url")
        _check_queue_url(self.url)
        for key, written, what in (
            ("url", self.url.rstrip("/").rsplit("/", 1)[-1], " in its last part"),
            ("name", self.name, ""),
        ):
            if len(written) > LABEL_LENGTH:
                raise ValueError(
                    f"{key}: {len(written)} characters{what}; the name is the queue label "
                    f"of metrics and log lines: at most {LABEL_LENGTH} (SQS's bound on a "
                    "queue name)"
                )
        if not 1 <= self.concurrency <= 64:
            raise ValueError("concurrency must be between 1 and 64")
        if not 0 <= self.wait_time_seconds <= 20:
            raise ValueError("wait_time_seconds must be between 0 and 20 (SQS limit)")
        if not 1 <= self.max_messages <= 10:
            raise ValueError("max_messages must be between 1 and 10 (SQS limit)")
        if self.visibility_timeout is not None and not 0 <= self.visibility_timeout <= 43200:
            raise ValueError("visibility_timeout must be between 0 and 43200")
        check_region(self.region, "region")
        named = region_of_url(self.url)
        if self.region and named and named != self.region:
            # The queue lives where its URL says; a request signed for another region
            # reads as a queue that does not exist.
            raise ValueError(
                f"region {self.region!r} is not the region the URL names ({named!r}): "
                "leave `region` out"
            )

    @property
    def label(self) -> str:
        """The ``queue`` label: the configured name, else the URL's last path part."""
        return self.name or self.url.rstrip("/").rsplit("/", 1)[-1]

    @property
    def account_label(self) -> str:
        """The ``account`` label: the account's name, ``default`` without one."""
        return self.account or DEFAULT_ACCOUNT

    @property
    def place(self) -> tuple[str, str | None, str]:
        """Where the queue is read: its URL, region and account. A reload that changes
        it moves the queue (its series and health are the new place's); one that
        changes only how it is read (``concurrency``, the long poll) does not, nor one
        that only writes the same place otherwise: the region is the one the queue
        resolves to by itself (its own, else the one its URL names: a ``region`` added
        equal to the URL's is no move) and the account its label (``default`` for the
        default chain). None stands for the account's or ``[aws] region``, which a
        reload does not change for an account in use. The URL is compared as written:
        SQS holds queue URLs case-sensitive and asks for them exactly as it gave them,
        so another spelling (a host's letter case, a trailing slash) is not known to
        be the same queue."""
        return self.url, self.region or region_of_url(self.url), self.account_label


class AccountHealthConfig(Section, frozen=True):
    """``[account_health]``: SES's own view of each (account, region) with a queue or an
    ``[[accounts]]`` entry, polled: SESv2 GetAccount, and CloudWatch's AWS/SES
    reputation metrics."""

    enabled: bool = True
    poll_every: Duration = msgspec.field(default_factory=lambda: Duration("5m"))
    #: Also read ``Reputation.BounceRate`` and ``Reputation.ComplaintRate``.
    cloudwatch: bool = True
    #: Other endpoints (local ones, in tests); default: ``[aws] endpoint_url``.
    ses_endpoint_url: str | None = None
    cloudwatch_endpoint_url: str | None = None

    def __post_init__(self) -> None:
        if self.poll_every.seconds < 10:
            raise ValueError("poll_every must be at least 10s")
        for key in ("ses_endpoint_url", "cloudwatch_endpoint_url"):
            if (url := getattr(self, key)) is not None:
                check_http_url(url, key)


class ReputationConfig(Section, frozen=True):
    """``[reputation]``: sesd's estimate of AWS's bounce and complaint rates."""

    #: Sends the rates are taken over, per account and region (and configuration set).
    window_sends: int = 10_000

    def __post_init__(self) -> None:
        if not 100 <= self.window_sends <= 1_000_000:
            raise ValueError("window_sends must be between 100 and 1000000")
