"""``sesd setup``: provision what sesd consumes, idempotently.

An SNS topic; an SQS queue with a dead-letter queue and a redrive policy; a
queue policy letting only that topic send; the topic's subscription to the
queue (raw message delivery by default); an SES configuration set and its SNS
event destination for send, reject, delivery, delivery delay, bounce, complaint
and rendering failure events (and any other type the destination was given, kept). Each
step first looks at what exists: it creates what is missing, corrects what
differs, and leaves alone what is right, so a second run changes nothing.
``--dry-run`` only looks and prints the plan. Each region is provisioned on its
own (``sesd setup --region A --region B``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import Final

import anyio
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConfigParseError,
    NoCredentialsError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError

from sesd.commands.common import Commands, command, config_error, whole_number
from sesd.commands.provision import EVENT_TYPES, Plan, SetupOptions, Taken, run_setup
from sesd.commands.read_bound import Unanswered, config_within, unread
from sesd.commands.setup_unanswered import unsent
from sesd.config import Config, ConfigError, load_config
from sesd.config.aws import CREDENTIALS_REFUSED, KEY_UNKNOWN, region_not_enabled
from sesd.config.urls import check_http_url
from sesd.core.accounts import is_region
from sesd.core.text import escaped
from sesd.io.aws_errors import error_code
from sesd.io.logs import configure_logging
from sesd.runtime.aws_making import aws_files_fault

__all__ = ["EVENT_TYPES", "PERMISSIONS", "Plan", "SetupOptions", "add_parser", "run_setup"]

#: What sesd itself calls, for the IAM policy of the identity (or role) it runs as.
PERMISSIONS = (
    ("sqs:ReceiveMessage", "read events from the queues"),
    ("sqs:DeleteMessage", "delete what was handled"),
    ("sqs:ChangeMessageVisibility", "release messages at shutdown"),
    ("sqs:GetQueueAttributes", "check each queue's dead-letter queue at start"),
    (
        "ses:GetAccount",
        "account health: sending status, enforcement, quota; once as the canary's "
        "sender starts (refused: harmless)",
    ),
    ("cloudwatch:GetMetricData", "account health: AWS/SES Reputation.* metrics"),
    ("ses:ListTenants", "tenants, if [tenants] is enabled: the account's tenants"),
    ("ses:ListTenantResources", "tenants: which configuration sets and identities each holds"),
    ("ses:ListReputationEntities", "tenants: each one's sending status and reputation impact"),
    ("ses:ListRecommendations", "tenants: their open reputation findings"),
    ("ses:SendEmail", "the canary, if [canary] is set"),
    ("sts:AssumeRole", "the roles of [[accounts]], if any (on those roles)"),
    ("kms:Decrypt", "a queue encrypted with a KMS key (SSE-KMS): on that key"),
)
#: Where setup looks for credentials: the SDK's default chain only (a config's [aws]
#: keys are the daemon's; setup reads no secret of the config).
_NO_CREDENTIALS = (
    "no AWS credentials were found: setup signs with the SDK's default chain "
    "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws/credentials, "
    "the instance's or container's role), never with a config's [aws] keys"
)
#: What every name setup makes of ``--name`` may hold: SQS, SNS and SES all take these
#: characters; the SES event destination NAME-sns has at most 64, so NAME at most 60
#: (the dead-letter queue NAME-events-dlq, at most 80, is then within SQS's limit).
_NAME: Final = re.compile(r"[A-Za-z0-9_-]{1,60}")


def _base_name(text: str) -> str:
    """An argparse type: a ``--name`` AWS takes in every name made of it, else a usage
    error before any call (a bad one could fail after some names were made)."""
    if _NAME.fullmatch(text) is None:
        fifo = " (no .fifo: setup makes standard queues)" if text.endswith(".fifo") else ""
        raise argparse.ArgumentTypeError(
            f"{text!r}: give 1 to 60 letters, digits, hyphens or underscores{fifo}"
        )
    return text


def _region(text: str) -> str:
    """An argparse type: an AWS region's name (``eu-west-1``), else a usage error before
    any call (a typo failed with no credentials, or an endpoint's unreadable answer)."""
    if not is_region(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an AWS region's name (such as us-east-1 or eu-west-1)"
        )
    return text


def _endpoint(text: str) -> str:
    """An argparse type: an http(s) URL, else a usage error before any call (the SDK
    refuses ``localhost:4566`` with a traceback, and an ``ftp://`` one only at its
    first call)."""
    try:
        check_http_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def add_parser(commands: Commands) -> None:
    """``setup [--config] [--name] [--region ...] [--endpoint-url] [--dry-run] ...``."""
    setup = command(
        commands,
        "setup",
        "provision the SNS topic, SQS queues and SES configuration set sesd reads from",
    )
    setup.add_argument(
        "--config",
        default=os.environ.get("SESD_CONFIG"),
        help="take its queues' regions (else [aws] region) and [aws] endpoint_url from this "
        "config; its secrets are not read ($SESD_CONFIG when not given)",
    )
    setup.add_argument(
        "--name",
        type=_base_name,
        default="sesd",
        help="base name: configuration set NAME, topic and queue NAME-events",
    )
    setup.add_argument(
        "--region",
        action="append",
        type=_region,
        help="AWS region; repeat for several (default: the regions of the config's queues, "
        "else its [aws] region, else us-east-1)",
    )
    setup.add_argument(
        "--endpoint-url", type=_endpoint, help="another endpoint (a local SQS/SNS/SES)"
    )
    setup.add_argument(
        "--max-receive-count",
        type=whole_number(1, 1000),  # SQS's maxReceiveCount (0: all to the DLQ)
        default=5,
        help="receives before a message moves to the dead-letter queue (1 to 1000)",
    )
    setup.add_argument(
        "--no-raw-delivery",
        action="store_true",
        help="keep the SNS envelope instead of raw message delivery",
    )
    setup.add_argument("--dry-run", action="store_true", help="only print what would change")
    setup.set_defaults(execute=execute)


def _config(path: str) -> Config | int:
    """The config at ``path``, or the exit status once why not is said: refused, or its
    read not returned within its bound (a config on a share that hangs, said rather
    than waited on without a word)."""
    try:
        # Only the regions and the endpoint are read: the sinks' secrets are not
        # needed (nor, often, set) where setup runs.
        return config_within(
            lambda: load_config(path, resolve_secrets=False), path, "sesd-setup-read"
        )
    except Unanswered as exc:
        return unread("set up", exc)
    except ConfigError as exc:
        return config_error(exc)


def execute(args: argparse.Namespace) -> int:
    """Provision every region; prints the plans and the IAM permissions sesd needs."""
    regions, endpoint = ["us-east-1"], None
    if args.config:
        config = _config(args.config)
        if isinstance(config, int):
            return config
        # With the default credentials, in their account: another account's queues
        # are that account's to set up (its credentials, its run of setup).
        own = [q for q in config.queues if not q.account]
        theirs: dict[str, set[str]] = {}
        for queue in config.queues:
            if queue.account:
                region = config.region_of(queue)
                theirs.setdefault(queue.account, set()).add(region)
                print(
                    f"sesd: queue {queue.label} is account {queue.account}'s: run setup "
                    f"with its credentials and --region {region} (this run provisions "
                    "the default credentials' account)",
                    file=sys.stderr,
                )
        if theirs and not own and not args.region:
            # No region of this account's to take: [aws] region would make a queue no
            # config reads, in an account where none was meant.
            return _only_theirs(args.config, theirs)
        regions = sorted({config.region_of(q) for q in own}) or [config.aws.region]
        endpoint = config.aws.endpoint_url
    configure_logging("info", "auto")
    plans: list[Plan] = []
    asked = list(dict.fromkeys(args.region or regions))
    several = len(asked) > 1
    for region in asked:
        options = SetupOptions(
            name=args.name,
            region=region,
            endpoint_url=args.endpoint_url or endpoint,
            raw_delivery=not args.no_raw_delivery,
            max_receive_count=args.max_receive_count,
            dry_run=args.dry_run,
        )
        plan = Plan(args.dry_run, region)
        try:
            plans.append(anyio.run(run_setup, options, plan))
        except (ClientError, BotoCoreError, ResponseParserError, Taken) as exc:
            # ResponseParserError: an answer that is not AWS's (a wrong endpoint or region).
            # The endpoint's text (a parser's message quotes the body): its first line,
            # cut, its controls escaped (a proxy's answer is a stranger's).
            said = escaped((str(exc).splitlines() or [""])[0], 300)
            # Setup again finishes the region only once what stopped it is cured: the
            # user's destination of setup's name, by the user alone (the hint's).
            once = "the hint below is acted on" if isinstance(exc, Taken) else "allowed"
            # What is certain: a change AWS refused (4xx), or asked over no connection
            # (refused, no route: nothing left the machine), was not made, unless an
            # earlier attempt of its call may have reached AWS (heard); a timeout, a
            # reset or an answer not AWS's leaves it perhaps made.
            if plan.heard or not (isinstance(exc, ClientError) or unsent(exc)):
                plan.unsettled()
            # Standard error's lines are said though standard output refuses the report
            # (a full disk, `| head -1`): why setup stopped, and how to finish it.
            try:
                _print_stopped(plans, plan, args.name, several, options.endpoint_url, once)
            finally:
                _print_warnings([*plans, plan])  # what was found is so, finished or not
                why = said if isinstance(exc, Taken) else f"{type(exc).__name__}: {said}"
                print(f"sesd: setup failed in {region}: {why}", file=sys.stderr)
                hint = (
                    exc.hint
                    if isinstance(exc, Taken)
                    else _hint(exc, region, [made.region for made in plans])
                )
                if hint:
                    print(f"sesd: hint: {hint}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            plan.unsettled()  # asked of AWS as Ctrl-C came: it may have been made
            try:
                _print_stopped(plans, plan, args.name, several, options.endpoint_url)
            finally:
                _print_warnings([*plans, plan])
            raise  # the command's one line and status (sesd.commands.main)
    try:
        _print_plans(plans, args.name, several)
    finally:
        _print_warnings(plans)  # on standard error, whatever became of the plans
    _print_endpoint(args.endpoint_url, endpoint)
    print("\n# IAM permissions sesd needs (for the identity or role it runs as):")
    for action, why in PERMISSIONS:
        print(f"#   {action:<30} {why}")
    # The step without which no event ever comes: SES publishes only the mail sent
    # with the configuration set (the queue stays empty, and sesd sees nothing).
    print(
        f"\n# then send your mail with ConfigurationSetName={args.name} (or make {args.name} "
        "the sending identity's default configuration set): SES publishes the events of "
        "that mail only"
    )
    return 0


def _print_endpoint(given: str | None, configured: str | None) -> None:
    """The ``[aws] endpoint_url`` to paste, when ``--endpoint-url`` gave one the config
    (if any) does not name: sesd sends its SQS calls there, not to the host of a queue's
    URL, so the [[queues]] block alone would have it poll AWS's SQS for a local queue. A
    config that names another endpoint has it replaced: a second one would be refused."""
    if not given or given.rstrip("/") == (configured or "").rstrip("/"):
        return
    where = "add too, in [aws] if the config has one"
    if configured:
        where = f"in the config's [aws], in place of endpoint_url = {json.dumps(configured)}"
    print(
        f"\n# {where} (sesd reads the queues through this endpoint, not through their URLs' host):"
    )
    print(f"[aws]\nendpoint_url = {json.dumps(given)}")


def _hint(exc: Exception, region: str, done: list[str]) -> str:
    """What to do about a failed call, when the error says (else ""): the credentials
    are the commonest first run's mistake, and a retry cures none of them."""
    code = error_code(exc)
    if done and code in KEY_UNKNOWN:
        # The regions before took these credentials: the region is the cause.
        return region_not_enabled(region, done)
    if isinstance(exc, NoCredentialsError):
        return _NO_CREDENTIALS
    if isinstance(exc, (ProfileNotFound, ConfigParseError)):
        return aws_files_fault()
    return CREDENTIALS_REFUSED.get(code, "")


def _only_theirs(path: str, theirs: dict[str, set[str]]) -> int:
    """Say that a config of other accounts' queues only leaves nothing to set up with
    the default credentials, and what each account's run gives; the usage status."""
    runs = "; ".join(
        f"{account}: " + " ".join(f"--region {region}" for region in sorted(regions))
        for account, regions in sorted(theirs.items())
    )
    print(
        f"sesd: no queue of {path} is the default credentials' account's: nothing set "
        f"up; with an account's credentials give its regions ({runs}), or give "
        "--region to set up this account anyway",
        file=sys.stderr,
    )
    return 2


def _print_stopped(
    plans: list[Plan],
    stopped: Plan,
    name: str,
    several: bool,
    endpoint: str | None,
    once: str = "",
) -> None:
    """The regions done, then what the region that stopped part-way had made (or found):
    the user learns what exists now, and that running setup again finishes it (``once``
    what stopped it allows: the failure's line says what; a dry run made nothing: what
    it saw, and that nothing changed); then the commands that
    undo what this run changed, for a user who would rather not finish it (a run in
    the wrong account or region)."""
    _print_plans(plans, name, several)
    if plans:
        print()
    if stopped.dry_run:  # it only looked: there is nothing for a run to finish
        print(
            f"# {stopped.region}: the dry run stopped part-way (nothing was changed); seen so far:"
        )
    else:
        finishes = f"setup again finishes it{', once ' + once if once else ''}"
        print(f"# {stopped.region}: stopped part-way; done so far ({finishes}):")
    print("\n".join(stopped.report() or ["(nothing)"]))
    undoing = [line for plan in [stopped, *reversed(plans)] for line in plan.undoing(endpoint)]
    if undoing:
        print("\n# or, to undo what this run changed (the newest first):")
        print("\n".join(undoing))


def _print_warnings(plans: list[Plan]) -> None:
    """What setup found and left that may keep SES's events from the queue: on
    stderr, so a run whose plan is written to a file still shows it."""
    for plan in plans:
        for warning in plan.warnings:
            print(f"sesd: warning: {plan.region}: {warning}", file=sys.stderr)


def _print_plans(plans: list[Plan], name: str, several: bool) -> None:
    """Each region's report and block; several regions' queues (one name) named apart,
    so the blocks pasted together are a valid config."""
    print(
        "\n\n".join(
            plan.render(named=f"{name}-events-{plan.region}" if several else "") for plan in plans
        )
    )
