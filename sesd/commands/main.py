"""``sesd``: run, check-config, send-test-alert, silence, replay, setup, demo.

Exit codes: 0 success, 2 bad config or usage or a failed start (one line on
standard error, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

import anyio
import msgspec

from sesd import __version__
from sesd.commands.silence import add_silence_arguments, run_silence
from sesd.config import Config, ConfigError, HttpConfig, load_config
from sesd.io.logs import configure_logging, get_logger

__all__ = ["main"]

_NO_QUEUES = "queues: at least one [[queues]] is needed"
EXIT_CONFIG = 2
EXIT_START = 2


class _HELP(argparse.HelpFormatter):
    """Help that shows each option's default, where it has a real one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sesd", description="Watch Amazon SES delivery in real time.", formatter_class=_HELP
    )
    parser.add_argument("--version", action="version", version=f"sesd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_config(
        name: str,
        help_text: str,
        parent: argparse._SubParsersAction[argparse.ArgumentParser] = commands,
    ) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, help=help_text, description=help_text, formatter_class=_HELP)
        sub.add_argument(
            "--config",
            default=os.environ.get("SESD_CONFIG"),
            help="the TOML config file ($SESD_CONFIG when not given)",
        )
        return sub

    def no_secrets(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--no-secrets",
            action="store_true",
            help="do not read the secrets (env:, file:): check everything else",
        )

    run = with_config("run", "run the daemon")
    run.add_argument(
        "--listen",
        default=os.environ.get("SESD_HTTP_LISTEN"),
        help="HOST:PORT for /metrics and the probes, over [http] listen ($SESD_HTTP_LISTEN)",
    )
    check = with_config("check-config", "validate the config and print it, secrets masked")
    check.add_argument("path", nargs="?", metavar="PATH", help="the config file (or --config)")
    no_secrets(check)
    test_alert = with_config("send-test-alert", "send one test notification through a sink")
    test_alert.add_argument(
        "--sink",
        required=True,
        help="a sink's name: console, slack, pagerduty, or one of [alerts.sinks]",
    )
    silence = commands.add_parser(
        "silence",
        help="mute alerts for a while",
        description="mute alerts for a while",
        formatter_class=_HELP,
    )
    silence_commands = silence.add_subparsers(dest="silence_command", required=True)
    add_silence_arguments(silence_commands, with_config)
    cause_help = "the cause of a delay, and what to do, from its SMTP diagnostic"
    cause = commands.add_parser(
        "cause", help=cause_help, description=cause_help, formatter_class=_HELP
    )
    cause.add_argument("text", help="the diagnostic text, or - for one a line on standard input")
    cause.add_argument("--delay-type", help="SES's delay type (InternalFailure, MailboxFull...)")
    cause.add_argument("--json", action="store_true", help="one JSON object a line")
    replay = with_config("replay", "feed recorded events through the pipeline offline")
    no_secrets(replay)
    replay.add_argument("--json", action="store_true", help="print one JSON document")
    replay.add_argument(
        "--dns",
        action="store_true",
        help="look up recipient domains' MX for their provider first (at [providers] rate); "
        "without it, providers come from consumer names and the state file's cache",
    )
    replay.add_argument(
        "--report",
        action="store_true",
        help="each rule: times fired, time firing (total, longest), where, share of the span",
    )
    replay.add_argument("--rule", metavar="NAME", help="replay this rule only")
    replay.add_argument(
        "--quiet", action="store_true", help="no progress on stderr (off a terminal: none)"
    )
    replay.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="RULE.KEY=VALUE",
        help="override a rule's above, below, clear_below, clear_above, min_events or for "
        "for this replay (repeatable)",
    )
    replay.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="files, directories or globs of events ('-': stdin)",
    )

    setup_help = "provision the SNS topic, SQS queues and SES configuration set sesd reads from"
    setup = commands.add_parser(
        "setup", help=setup_help, description=setup_help, formatter_class=_HELP
    )
    setup.add_argument(
        "--config",
        default=os.environ.get("SESD_CONFIG"),
        help="take [aws] region and endpoint_url from this config",
    )
    setup.add_argument(
        "--name",
        default="sesd",
        help="base name: configuration set NAME, topic and queue NAME-events",
    )
    setup.add_argument(
        "--region",
        action="append",
        help="AWS region; repeat for several (default: the regions of the config's queues, "
        "else its [aws] region, else us-east-1)",
    )
    setup.add_argument("--endpoint-url", help="another endpoint (a local SQS/SNS/SES)")
    setup.add_argument(
        "--max-receive-count",
        type=int,
        default=5,
        help="receives before a message moves to the dead-letter queue",
    )
    setup.add_argument(
        "--no-raw-delivery",
        action="store_true",
        help="keep the SNS envelope instead of raw message delivery",
    )
    setup.add_argument("--dry-run", action="store_true", help="only print what would change")

    demo_help = "local SQS, synthetic traffic, a delay spike: no AWS account needed"
    demo = commands.add_parser("demo", help=demo_help, description=demo_help, formatter_class=_HELP)
    demo.add_argument("--listen", default="127.0.0.1:9585", help="metrics address")
    demo.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    demo.add_argument("--rate", type=float, default=60.0, help="messages per second")
    demo.add_argument(
        "--spike-after", type=float, default=30.0, help="seconds before the delay spike"
    )
    demo.add_argument("--every", type=float, default=5.0, help="seconds between summaries")
    return parser


def _load(args: argparse.Namespace) -> Config:
    path = getattr(args, "path", None) or args.config
    if not path:
        raise ConfigError("no config file: pass --config PATH or set SESD_CONFIG")
    args.config = path
    # Silences need the file's paths, not its secrets (the sinks' keys may not be here).
    secrets = args.command != "silence" and not getattr(args, "no_secrets", False)
    return load_config(path, resolve_secrets=secrets)


def _start_failed(exc: BaseException) -> int:
    """A start that failed: one line naming why (from inside a task group too); anything
    else is a bug and keeps its traceback."""
    from sesd.runtime.http import StartError

    found: BaseException = exc
    while isinstance(found, BaseExceptionGroup) and len(found.exceptions) == 1:
        found = found.exceptions[0]
    if not isinstance(found, StartError):
        raise exc
    print(f"sesd: cannot start: {found}", file=sys.stderr)
    return EXIT_START


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sesd`` console script."""
    args = _parser().parse_args(argv)
    # Python's warnings too become log lines (JSON in production), not bare text.
    logging.captureWarnings(True)
    if args.command == "demo":
        configure_logging("info", "auto")
        from sesd.commands.demo import run_demo
        from sesd.runtime.http import StartError

        try:
            return anyio.run(
                lambda: run_demo(
                    listen=args.listen,
                    duration=args.duration,
                    rate=args.rate,
                    spike_after=args.spike_after,
                    every=args.every,
                )
            )
        except KeyboardInterrupt:
            return 0
        except (StartError, BaseExceptionGroup) as exc:
            return _start_failed(exc)
    if args.command == "setup":
        return _setup(args)
    if args.command == "cause":
        return _cause(args)
    try:
        config = _load(args)
    except ConfigError as exc:
        print(f"sesd: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(config.logging.level, config.logging.format)

    if args.command == "check-config":
        if not config.queues:
            print(f"sesd: config error: {_NO_QUEUES}", file=sys.stderr)
            return EXIT_CONFIG
        print(json.dumps(config.to_display(), indent=2, sort_keys=True))
        for warning in config.warnings():
            print(f"sesd: warning: {warning}", file=sys.stderr)
        return 0
    if args.command == "silence":
        return run_silence(config, args)
    if args.command == "send-test-alert":
        from sesd.commands.send_test_alert import send_test_alert

        return anyio.run(send_test_alert, config, args.sink)
    if args.command == "replay":
        from sesd.commands.replay.command import run_replay

        return run_replay(
            config,
            args.files,
            as_json=args.json,
            dns=args.dns,
            with_report=args.report,
            rule=args.rule,
            settings=args.settings,
            quiet=args.quiet,
        )
    if args.listen:
        try:
            config = msgspec.structs.replace(config, http=HttpConfig(listen=args.listen))
        except ValueError as exc:
            print(f"sesd: config error: --listen: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    return _run(config, args.config)


def _cause(args: argparse.Namespace) -> int:
    # One answer per input line, an empty one too (from the delay type, else unknown):
    # `paste diagnostics.txt <(sesd cause - < diagnostics.txt)` keeps its lines aligned.
    from sesd.core.causes import classify

    texts = (line.rstrip("\r\n") for line in sys.stdin) if args.text == "-" else [args.text]
    for text in texts:
        found = classify(args.delay_type, "", text)
        if args.json:
            answer = {
                "cause": found.cause,
                "also": found.also,
                "advice": found.advice,
                "status": found.status,
            }
            print(json.dumps(answer))
        else:
            status = f" ({found.status})" if found.status else ""
            print(f"{found.label}{status}: {found.advice}")
    return 0


def _setup(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from sesd.commands.setup import PERMISSIONS, SetupOptions, run_setup

    regions, endpoint = ["us-east-1"], None
    if args.config:
        try:
            config = load_config(args.config)
        except ConfigError as exc:
            print(f"sesd: config error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        regions = sorted({config.region_of(q) for q in config.queues}) or [config.aws.region]
        endpoint = config.aws.endpoint_url
    configure_logging("info", "auto")
    plans = []
    for region in dict.fromkeys(args.region or regions):
        options = SetupOptions(
            name=args.name,
            region=region,
            endpoint_url=args.endpoint_url or endpoint,
            raw_delivery=not args.no_raw_delivery,
            max_receive_count=args.max_receive_count,
            dry_run=args.dry_run,
        )
        try:
            plans.append(anyio.run(run_setup, options))
        except (ClientError, BotoCoreError) as exc:
            print(f"sesd: setup failed in {region}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print("\n\n".join(plan.render() for plan in plans))
    print("\n# IAM permissions sesd needs (for the identity or role it runs as):")
    for action, why in PERMISSIONS:
        print(f"#   {action:<30} {why}")
    return 0


def _run(config: Config, path: str) -> int:
    from sesd.runtime.daemon import Daemon, StartError

    if not config.queues:
        print(f"sesd: config error: {_NO_QUEUES}", file=sys.stderr)
        return EXIT_CONFIG
    for warning in config.warnings():
        get_logger().warning("sesd.config.warning", warning=warning)
    try:
        anyio.run(Daemon(config, config_path=os.path.abspath(path)).run)
    except (StartError, BaseExceptionGroup) as exc:
        return _start_failed(exc)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
