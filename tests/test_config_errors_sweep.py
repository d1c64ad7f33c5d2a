"""Every section's refusals, as ``sesd check-config`` says them: each names the key the
user wrote, dotted as README writes it (``alerts.rules[0] (r).window``,
``domains.groups.a``), and says why. One config a case, loaded in process through the
command itself (a process a case would cost the suite seconds): what the journal reads
when ``ExecReload`` refuses a config."""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

import msgspec
import pytest

from sesd.commands import check_config
from sesd.commands.common import EXIT_CONFIG
from sesd.config import parse_config, read_secrets
from sesd.config.timing_checks import timing_warnings
from sesd.config.unread import unread_warnings
from sesd.config.warned import said

pytestmark = pytest.mark.timeout(60)

Q = '[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/q"\n'
R = '[[alerts.rules]]\nname = "r"\nmetric = "delay_ratio"\nwindow = "5m"\n'
RA = R + "above = 0.1\n"
ROLE = 'role_arn = "arn:aws:iam::123456789012:role/sesd"\n'
CAN = '[canary]\nfrom = "a@b.example"\nconfiguration_set = "cs"\n'
S = 'webhook_url = "https://h.example/x"\n'
HOOK = '[alerts.sinks.hook]\ntype = "webhook"\nurl = "https://h.example/x"\n'
#: A routing key as long as PagerDuty's integration keys.
KEY = "0123456789abcdef0123456789abcdef"
PD = f'[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "{KEY}"\n'
AM = '[alerts.sinks.am]\ntype = "alertmanager"\n'
TEN = "[tenants]\nenabled = true\n"
#: What check-config adds to an error of a secret alone.
NO_SECRETS = (
    " (sesd run needs it where it runs: --no-secrets checks everything else without "
    "reading the secrets)"
)
#: Where a message lists what is known, its start is pinned: the list grows.
MORE = " ..."

CASES = [
    # Not TOML: a key as the file writes it, not as the Python tuple tomllib names it by,
    # and a key given twice named, where tomllib says "Cannot overwrite a value"; where
    # tomllib stopped said first, as PATH:LINE:COLUMN, as an editor jumps to it.
    ('[aws]\nregion = "us-east-1"\n[aws]\nregion = "eu-west-1"', ":5:5: not valid TOML: [aws] "
     "declared twice: a table is written once"),
    # A second header not closed, or with more on its line: what is wrong with that
    # line (tomllib reads the key, finds it declared, and stops before the rest).
    ('[aws]\nregion = "us-east-1"\n[aws', ":5:5: not valid TOML: Expected ']' at the end of "
     "a table declaration"),
    ('[aws]\nregion = "us-east-1"\n[aws] region = "eu-west-1"', ":5:7: not valid TOML: "
     "Expected newline or end of document after a statement"),
    # Lines ended CRLF (a Windows editor): the '\r' ends the header's line, is no more.
    ('[aws]\r\nregion = "us-east-1"\r\n[aws]\r\nregion = "eu-west-1"', ":5:5: not valid "
     "TOML: [aws] declared twice: a table is written once"),
    ('[queues]\nurl = "x"', ":3:8: not valid TOML: [queues] declared twice: a "
     "table is written once; [[queues]] begins each entry of a list of tables"),
    ('[alerts.sinks."a.b"]\ntype = "console"\n[alerts.sinks."a.b"]', ':5:20: not valid TOML: '
     '[alerts.sinks."a.b"] declared twice: a table is written once'),
    # A key given twice in dotted form, or given a value and then made a table: named
    # where tomllib says only "Cannot overwrite a value".
    ('[alerts]\nslack.webhook_url = "https://h.example/x"\nslack . webhook_url = "y"',
     ":5:26: not valid TOML: alerts.slack.webhook_url given twice: a key is given once "
     "in its table"),
    ("reload = 1\n" + Q + "[reload]", ":4:8: not valid TOML: [reload]: reload is given "
     "already as a value, not a table: a key holds a value or a table, not both"),
    ('[alerts]\nslack = "x"\nslack.webhook_url = "y"', ":5:24: not valid TOML: "
     "alerts.slack.webhook_url: alerts.slack is given already as a value, not a table: a "
     "key holds a value or a table, not both"),
    # A line of a string of many lines is no header: the key is named in its own table.
    ('[alerts.slack]\nwebhook_url = """\n[aws]\n"""\ntimeout = "5s"\ntimeout = "6s"',
     ":8:15: not valid TOML: alerts.slack.timeout given twice: a key is given once in "
     "its table"),
    ('[alerts.sinks.a]\ntype = "console"\n[alerts]\nsinks.a.type = "x"', ":6:19: not valid TOML: "
     "alerts.sinks.a is a table of its own ([alerts.sinks.a]): a "
     "dotted key in another table cannot add to it"),
    (RA + "above = 0.2", ":8:12: not valid TOML: alerts.rules[0].above given twice: a key "
     "is given once in its table"),
    ('[domains]\ngroups = {"a b" = 1, "a b" = 2}', ':4:31: not valid TOML: "a b" given twice in an '
     "inline table: give each key once"),
    # A table given whole (an inline table) or by dotted keys, then declared: no header
    # declared it before, and the message says what did.
    ('[alerts]\nslack = { webhook_url = "https://h.example/x" }\n[alerts.slack]\ntimeout = "5s"',
     ":5:14: not valid TOML: [alerts.slack]: alerts.slack is given already, "
     "as an inline table or by dotted keys: give a table's keys in one place"),
    ('alerts.slack.timeout = "5s"\n[alerts]\n' + Q, ":2:8: not valid TOML: [alerts]: "
     "alerts is given already, as an inline table or by dotted keys: give a "
     "table's keys in one place"),
    # The key given twice where tomllib stopped, as TOML reads it (quoted or bare), not a
    # pair of lines of a string of many lines, nor of a table whose header holds a ']'.
    ('[alerts.slack]\nwebhook_url = """\nx = 1\nx = 2\n"""\ntimeout = "5s"\n"timeout" = "6s"',
     ":9:17: not valid TOML: alerts.slack.timeout given twice: a key is given once in its "
     "table"),
    ('[alerts.sinks.c]\ntype = "console"\n[alerts.sinks."a]b"]\ntype = "console"\ntype = "x"',
     ':7:11: not valid TOML: alerts.sinks."a]b".type given twice: a key is given once in '
     "its table"),
    # A table's header where a list of tables goes ([queues] for [[queues]]), or the
    # reverse: the header named by its line, and the one to write.
    (RA.replace("[[alerts.rules]]", "[alerts.rules]"), ":3: alerts.rules: [alerts.rules] (at line "
     "3) is one table, where a list of tables goes: begin each entry with [[alerts.rules]]"),
    ('[accounts]\nname = "a"\n' + ROLE, ":3: accounts: [accounts] (at line 3) is one table, where "
     "a list of tables goes: begin each entry with [[accounts]]"),
    ('[[aws]]\nregion = "eu-west-1"', ":3: aws: [[aws]] (at line 3) begins a list of tables, where "
     "one table goes: write [aws], once"),
    ('[[alerts.sinks.x]]\ntype = "console"', ":3: alerts.sinks.x: [[alerts.sinks.x]] (at line 3) "
     "begins a list of tables, where one table goes: write [alerts.sinks.x], once"),
    ('[alerts]\nrules = {name = "r"}', ":4: alerts.rules: one table, where a list of tables goes: "
     "begin each entry with [[alerts.rules]]"),
    # A rule's window the length of one kept, written another way: the one to write.
    (R.replace('"5m"', '"60m"') + "above = 0.1", ":6: alerts.rules[0] (r).window: '60m' is not one "
     "of windows.sizes (5m, 15m, 1h); '1h' is that long: write it as windows.sizes does"),
    # An SQS host's URL that names no queue (the account left out, the console's page of
    # the queue pasted from the address bar): every receive would fail after the start.
    ('[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/ses-events"', ":2: queues[0].url: "
     "'https://sqs.us-east-1.amazonaws.com/ses-events' is no queue's URL: SQS's are "
     "https://sqs.REGION.amazonaws.com/ACCOUNT_ID/QUEUE_NAME, as the queue's Details show it"),
    ('[[queues]]\nurl = "https://sqs.eu-west-1.amazonaws.com/123456789012/q?x=1"',
     ":2: queues[0].url: 'https://sqs.eu-west-1.amazonaws.com/123456789012/q?x=1' is no queue's "
     "URL" + MORE),
    ('[[queues]]\nurl = "https://us-east-1.console.aws.amazon.com/sqs/v3/home?region=us-east-1'
     '#/queues/https%3A%2F%2Fsqs.us-east-1.amazonaws.com%2F123456789012%2Fq"',
     ":2: queues[0].url: "
     "'https://us-east-1.console.aws.amazon.com/sqs/v3/home?region=us-east-1#/queues/https%3A%2F"
     "%2Fsqs.us-east-1.amazonaws.com%2F123456789012%2Fq' "
     "is the AWS console's page of the queue, not its URL: SQS's are "
     "https://sqs.REGION.amazonaws.com/ACCOUNT_ID/QUEUE_NAME, as the queue's Details show it"),
    # The queue's ARN (what IAM policies and SNS show) or its name where its URL goes:
    # shown whole (neither holds a secret), with the URL to write.
    ('[[queues]]\nurl = "arn:aws:sqs:eu-west-1:123456789012:ses-events"', ":2: queues[0].url: "
     "'arn:aws:sqs:eu-west-1:123456789012:ses-events' is the queue's ARN, not its URL: write "
     "https://sqs.eu-west-1.amazonaws.com/123456789012/ses-events"),
    ('[[queues]]\nurl = "arn:aws-cn:sqs:cn-north-1:123456789012:q.fifo"', ":2: queues[0].url: "
     "'arn:aws-cn:sqs:cn-north-1:123456789012:q.fifo' is the queue's ARN, not its URL: write "
     "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q.fifo"),
    # An isolated partition's SQS host is its own: no URL built on amazonaws.com.
    ('[[queues]]\nurl = "arn:aws-iso:sqs:us-iso-east-1:123456789012:q"', ":2: queues[0].url: "
     "'arn:aws-iso:sqs:us-iso-east-1:123456789012:q' is the queue's ARN, not its URL: write the "
     "URL the queue's Details show"),
    ('[[queues]]\nurl = "ses-events"', ":2: queues[0].url: 'ses-events' is a queue's name, not "
     "its URL: SQS's are https://sqs.REGION.amazonaws.com/ACCOUNT_ID/QUEUE_NAME, as the "
     "queue's Details show it"),
    # [http], and the web configuration file it names (read with the secrets)
    ('[http]\nlisten = "bogus"', ":4: http.listen: must be HOST:PORT, got 'bogus'"),
    ('[http]\nlisten = "h:99999"', ":4: http.listen: 'h:99999': port 99999 is over 65535"),
    # A host no address has, refused here, not at the start's bind in a line it splits.
    ('[http]\nlisten = "a\\nb:1"', ":4: http.listen: 'a\\nb:1': the host has a space, control or "
     "invisible character (shown escaped): no address has one"),
    ('[http]\nlisten = "a\\u202eb c:1"', ":4: http.listen: 'a\\u202eb c:1': the host has a space, "
     "control or invisible character (shown escaped): no address has one"),
    ("[http]\nweb_config = 1", ":4: http.web_config: expected the path of a web configuration "
     "file"),
    ('[http]\nweb_config = "/nonexistent/sesd-web.yml"', ":4: http.web_config: cannot read "
     "/nonexistent/sesd-web.yml: No such file or directory"),
    # [windows]
    ("[windows]\nsizes = []", ":4: windows.sizes: must name at least one window"),
    ('[windows]\nresolution = "500ms"', ":4: windows.resolution: must be at least 1s"),
    ("[windows]\nmax_buckets = 1", ":4: windows.max_buckets: must be between 2 and 3600"),
    ('[windows]\nsizes = ["5s"]', ":4: windows.sizes[0]: 5s is shorter than the resolution (10s)"),
    ('[windows]\nsizes = ["5m", "5m", "1h"]', ":4: windows.sizes[1]: 5m is listed twice"),
    ('[windows]\nsizes = ["5m", "1h1h"]', ":4: windows.sizes[1]: invalid duration '1h1h': the unit "
     "'h' comes twice (write each unit once, as '1h30m')"),
    # [domains], [dimensions]
    ("[domains]\nmax_tracked = -1", ":4: domains.max_tracked: must not be negative"),
    ('[domains]\ntrack = ["a b"]', ":4: domains.track[0]: 'a b' is not a usable domain name"),
    # An address or a URL pasted in: the domain to write said, as a rule's domains say it.
    ('[domains]\ntrack = ["ann@gmail.com"]', ":4: domains.track[0]: 'ann@gmail.com' is not a "
     "usable domain name (write the domain alone, as gmail.com for ann@gmail.com)"),
    ('[domains]\ngroups = {ms = ["outlook.com", "https://live.com/"]}', ":4: "
     "domains.groups.ms[1]: 'https://live.com/' is not a usable domain name (write the domain "
     "alone, as gmail.com for ann@gmail.com)"),
    # A group's member named by its index, as track's is.
    ('[domains]\ngroups = {a = ["x.com"], b = ["y.com", "x.com"]}', ":4: domains.groups.b[1]: "
     "'x.com', already in domains.groups.a[0]: a domain counts under one group"),
    # A group's name that is no bare key, quoted where its members are refused too.
    ('[domains]\ngroups = {"a.b" = ["x y"]}', ":4: domains.groups.\"a.b\"[0]: 'x y' is not a "
     "usable domain name"),
    ('[domains]\ngroups = {"a.b" = ["x.com"], c = ["x.com"]}', ":4: domains.groups.c[0]: 'x.com', "
     "already in domains.groups.\"a.b\"[0]: a domain counts under one group"),
    ('[domains]\ngroups = {other = ["x.com"]}', ":4: domains.groups.other: the name is reserved"),
    ('[domains]\ngroups = {".." = ["x.com"]}', ":4: domains.groups.\"..\": the name cannot name a "
     "page (a browser reads /domain/.. as /)"),
    ('[domains]\ngroups = {"a\\u001bb" = ["x.com"]}', ":4: domains.groups.\"a\\u001bb\": a control "
     "or invisible character (shown escaped); a group's name is the domain label of metrics, "
     "alerts and log lines: write it without"),
    ("[domains]\ngroups = {" + "m" * 81 + ' = ["x.com"]}', "domains.groups." + "m" * 39 + "…: 81 "
     "characters; a group's name is the domain label of metrics, alerts and log lines: at "
     "most 80"),
    ('[domains]\ngroups = {a = "x"}', ":4: domains.groups.a: Expected `array`, got `str`"),
    ("[dimensions]\nmax_tracked = -1", ":4: dimensions.max_tracked: must not be negative"),
    ("[dimensions]\nmax = 1", ":4: dimensions.max: unknown key" + MORE),
    # [providers]
    ('[providers]\nnameservers = ["x"]', ":4: providers.nameservers: 'x' is not HOST:PORT"),
    ('[providers]\nnameservers = "x"', ":4: providers.nameservers: Expected `array`, got `str`"),
    ('[providers]\ntimeout = "0s"', ":4: providers.timeout: must be more than 0s and at most 30s"),
    ("[providers]\nrate = 0", ":4: providers.rate: must be more than 0 and at most 1000 lookups a "
     "second"),
    ("[providers]\nconcurrency = 0", ":4: providers.concurrency: must be between 1 and 100"),
    ("[providers]\nmax_cache = 0", ":4: providers.max_cache: must be at least 1"),
    ('[providers.mx]\nOther = ["x.com"]', ":4: providers.mx.Other: not a usable provider label "
     "(lower-case ASCII letters, digits, '_' and '-', first a letter, at most 32; not other, none "
     "or unknown)"),
    ("[providers.mx]\nfoo = []", ":4: providers.mx.foo: list at least one MX host suffix"),
    ('[providers.mx]\nfoo = ["a b"]', ":4: providers.mx.foo: 'a b' is not a host name suffix"),
    ('[providers.mx]\nfoo = "x"', ":4: providers.mx.foo: Expected `array`, got `str`"),
    # [tenants]
    ("[tenants]\ntags = []", ":4: tenants.tags: must name at least one message tag"),
    ('[tenants]\ntags = "x"', ":4: tenants.tags: Expected `array`, got `str`"),
    ("[tenants]\nmax_tracked = -1", ":4: tenants.max_tracked: must not be negative"),
    ('[tenants]\npoll_every = "1s"', ":4: tenants.poll_every: must be at least 10s"),
    ("[tenants]\ncalls_per_second = 0", ":4: tenants.calls_per_second: must be from 0.01 to 100"),
    ('[tenants]\nendpoint_url = "nope"', ":4: tenants.endpoint_url: 'nope' is not an http(s) URL"),
    ('[tenants]\nregion = "x"', ":4: tenants.region: unknown key" + MORE),
    # [ingest], [logging], [shutdown], [reload]
    ("[ingest]\ndedup_max_entries = 1", ":4: ingest.dedup_max_entries: must be at least 2"),
    ("[ingest]\nmax_pending_delays = -1", ":4: ingest.max_pending_delays: must not be negative"),
    ('[logging]\nlevel = "loud"', ":4: logging.level: Invalid enum value 'loud' (one of: debug, "
     "error, info, warning)"),
    ('[logging]\nformat = "xml"', ":4: logging.format: Invalid enum value 'xml' (one of: auto, "
     "console, json)"),
    ('[shutdown]\ngrace_period = "-1s"', ":4: shutdown.grace_period: invalid duration '-1s' (use "
     "e.g. '10s', '5m', '1h30m')"),
    ('[reload]\ncheck_files_every = "500ms"', ":4: reload.check_files_every: must be 0s (off) or "
     "at least 1s"),
    # A bare number Python writes with an exponent (1e-05) is read as the seconds it is,
    # not refused as a duration '1e-05s'.
    ("[reload]\ncheck_files_every = 0.00001", ":4: reload.check_files_every: must be 0s (off) or "
     "at least 1s"),
    # [canary]
    (CAN.replace("a@b.example", "nope"), ":4: canary.from: must be an email address (a verified "
     "identity), got 'nope'"),
    (CAN + 'to = "x@y.example"', ":6: canary.to: must be a mailbox simulator address such as "
     "success@simulator.amazonses.com, got 'x@y.example'"),
    ('[canary]\nfrom = "a@b.example"\nconfiguration_set = ""', ":5: canary.configuration_set: must "
     "name the set whose events reach sesd"),
    # A key required and left out: that key, where msgspec named its table.
    ('[canary]\nconfiguration_set = "cs"', "canary.from: required, and not given"),
    # What SES refuses at the first send, refused here: a configuration set's name is of
    # ASCII letters, digits, '-' and '_'; an address holds no line break.
    (CAN.replace('"cs"', '"c s"'), ":5: canary.configuration_set: 'c s' is no configuration set's "
     "name (ASCII letters, digits, '-' and '_', at most 64): SES refuses the canary's send"),
    (CAN.replace('"cs"', '"cs\\n"'), ":5: canary.configuration_set: 'cs\\u000a' is no "
     "configuration set's name (ASCII letters, digits, '-' and '_', at most 64): SES refuses the "
     "canary's send"),
    (CAN.replace('"cs"', '"' + "c" * 65 + '"'), ":5: canary.configuration_set: '"
     + "c" * 65 + "' is "
     "no configuration set's name (ASCII letters, digits, '-' and '_', at most 64): SES refuses "
     "the canary's send"),
    (CAN.replace("a@b.example", "a@b.example\\n"), ":4: canary.from: 'a@b.example\\u000a': a line "
     "break, another control or invisible character, or a space at its start or end: SES refuses "
     "the canary's send"),
    (CAN.replace("a@b.example", " a@b.example"), ":4: canary.from: ' a@b.example': a line break, "
     "another control or invisible character, or a space at its start or end: SES refuses the "
     "canary's send"),
    (CAN.replace("a@b.example", "Canary <a@b.\\u200bexample>"), ":4: canary.from: 'Canary "
     "<a@b.\\u200bexample>': a line break, another control or invisible character, or a space at "
     "its start or end: SES refuses the canary's send"),
    (CAN + 'region = "x"', ":6: canary.region: 'x' is not an AWS region (e.g. eu-west-1)"),
    (CAN + 'interval = "0s"', ":6: canary.interval: must be at least 1s"),
    (CAN + 'deadline = "0s"', ":6: canary.deadline: must be positive"),
    (CAN + 'send_timeout = "0s"', ":6: canary.send_timeout: must be positive"),
    (CAN + 'endpoint_url = "nope"', ":6: canary.endpoint_url: 'nope' is not an http(s) URL"),
    (CAN + 'account = "zz"', ":6: canary.account: 'zz' is not one of [[accounts]] (none "
     "configured)"),
    (CAN + 'queue = "zz"', ":6: canary.queue: 'zz' is not a configured queue (q)"),
    # [state]
    ('[state]\npath = ""', ":4: state.path: empty: leave it out to keep no state file, or give the "
     "file's path"),
    ('[state]\nsave_every = "0s"', ":4: state.save_every: must be at least 1s"),
    # A bare number is seconds, and the same number quoted is a string: what to write.
    ('[windows]\nsizes = ["5m", "900"]', ":4: windows.sizes[1]: invalid duration '900': a number "
     "of seconds is written without quotes (900) or with its unit ('900s')"),
    ('[state]\nsave_every = "5x"', ":4: state.save_every: invalid duration '5x' (use e.g. '10s', "
     "'5m', '1h30m')"),
    ('[state]\nfile = "x"', ":4: state.file: unknown key" + MORE),
    # [aws], [[accounts]], [[queues]]
    ('[aws]\naccess_key_id = "k"', ":3: aws: access_key_id and secret_access_key go together"),
    ('[aws]\nregion = "x"', ":4: aws.region: 'x' is not an AWS region (e.g. eu-west-1)"),
    ('[aws]\nendpoint_url = "x"', ":4: aws.endpoint_url: 'x' is not an http(s) URL"),
    # A host written without its scheme, as a local stack's docs often write it: the URL
    # meant said.
    ('[aws]\nendpoint_url = "127.0.0.1:4566"', ":4: aws.endpoint_url: '127.0.0.1:4566' is not "
     "an http(s) URL: it has no scheme; give it as http://127.0.0.1:4566 or "
     "https://127.0.0.1:4566"),
    ('[[queues]]\nurl = "localhost:9324/000000000000/q"', ":2: queues[0].url: "
     "'localhost:9324/000000000000/q' is not an http(s) URL: it has no scheme; give it as "
     "http://localhost:9324/000000000000/q or https://localhost:9324/000000000000/q"),
    ('[[accounts]]\nname = "a b"\n' + ROLE, ":4: accounts[0].name: 'a b': ASCII letters, digits, "
     "'_', '.', '-', at most 64 ('default' is the default credential chain)"),
    ('[[accounts]]\nname = "a"\nrole_arn = "x"', ":5: accounts[0].role_arn: 'x' is not a role ARN "
     "(arn:aws:iam::123456789012:role/NAME)"),
    ('[[accounts]]\nname = "a"\n' + ROLE + 'region = "x"', ":6: accounts[0].region: 'x' is not an "
     "AWS region (e.g. eu-west-1)"),
    ('[[accounts]]\nname = "a"\nrole = "x"', ":5: accounts[0].role: unknown key" + MORE),
    ('# no [[queues]]\n[http]\nlisten = "127.0.0.1:1"', "queues: at least one [[queues]] is "
     "needed"),
    ('[[queues]]\nurl = "ftp://x/q"', ":2: queues[0].url: 'ftp://x/q' is not an http(s) URL"),
    (Q + 'name = "a\\u001bb"', ":3: queues[0].name: 'a\\u001bb': a control or invisible character "
     "(shown escaped); the name is the queue label of metrics and log lines: write it without"),
    (Q + 'name = "' + "q" * 81 + '"', ":3: queues[0].name: 81 characters; the name is the queue "
     "label of metrics and log lines: at most 80 (SQS's bound on a queue name)"),
    (Q + "concurrency = 0", ":3: queues[0].concurrency: must be between 1 and 64"),
    (Q + "wait_time_seconds = 21", ":3: queues[0].wait_time_seconds: must be between 0 and 20 (SQS "
     "limit)"),
    (Q + "max_messages = 11", ":3: queues[0].max_messages: must be between 1 and 10 (SQS limit)"),
    (Q + "visibility_timeout = -1", ":3: queues[0].visibility_timeout: must be between 0 and "
     "43200"),
    (Q + 'region = "x"', ":3: queues[0].region: 'x' is not an AWS region (e.g. eu-west-1)"),
    (Q + 'region = "eu-west-1"', ":3: queues[0].region: 'eu-west-1' is not the region the URL "
     "names ('us-east-1'): leave `region` out"),
    (Q + 'account = "zz"', ":3: queues[0].account: 'zz' is not one of [[accounts]] (none "
     "configured)"),
    # [account_health], [reputation]
    ('[account_health]\npoll_every = "1s"', ":4: account_health.poll_every: must be at least 10s"),
    ('[account_health]\nses_endpoint_url = "x"', ":4: account_health.ses_endpoint_url: 'x' is not "
     "an http(s) URL"),
    ('[account_health]\ncloudwatch_endpoint_url = "x"', ":4: "
     "account_health.cloudwatch_endpoint_url: 'x' is not an http(s) URL"),
    ("[reputation]\nwindow_sends = 1", ":4: reputation.window_sends: must be between 100 and "
     "1000000"),
    ('[reputation]\nwindow_sends = "x"', ":4: reputation.window_sends: Expected `int`, got `str`"),
    # [alerts]
    ('[alerts]\nevaluate_every = "0s"', ":4: alerts.evaluate_every: must be positive"),
    ('[alerts]\nrepeat_interval = "0s"', ":4: alerts.repeat_interval: must be positive"),
    ('[alerts]\nnotification_max_age = "0s"', ":4: alerts.notification_max_age: must be positive"),
    ('[alerts]\nevaluate_every = "1ms"', ":4: alerts.evaluate_every: must be at least 100ms (it is "
     "1ms)"),
    # A bare number (seconds) refused as written, not as the text it was read as ('-5s').
    ("[alerts]\nevaluate_every = -5", ":4: alerts.evaluate_every: invalid duration -5: a bare "
     "number is seconds, from 0 to a year (or write e.g. '10s', '5m', '1h30m')"),
    ("[alerts]\nevaluate_every = 1e400", ":4: alerts.evaluate_every: invalid duration inf: a bare "
     "number is seconds, from 0 to a year" + MORE),
    ("[alerts]\nevaluate_every = nan", ":4: alerts.evaluate_every: invalid duration nan: a bare "
     "number is seconds, from 0 to a year" + MORE),
    ("[alerts]\nevaluate_every = 1e20", ":4: alerts.evaluate_every: invalid duration 1e+20: a bare "
     "number is seconds, from 0 to a year" + MORE),
    ("[alerts]\noutbox_size = 0", ":4: alerts.outbox_size: must be at least 1"),
    ('[alerts]\ndashboard_url = "x{foo}"', ":4: alerts.dashboard_url: 'x{foo}' is not a template "
     "of {domain}, {rule}, {window}, {scope} ('foo')"),
    # A lone brace said as the file would be mended, not in Python's format words.
    ('[alerts]\ndashboard_url = "https://g/{"', ":4: alerts.dashboard_url: 'https://g/{' is not a "
     "template of {domain}, {rule}, {window}, {scope} (a lone '{': a brace of the link's own "
     "is written {{ or }})"),
    ('[alerts]\ndashboard_url = "https://g/{x"', ":4: alerts.dashboard_url: 'https://g/{x' is not "
     "a template of {domain}, {rule}, {window}, {scope} (a lone '{': a brace of the link's "
     "own is written {{ or }})"),
    ('[alerts]\ndashboard_url = "https://g/}"', ":4: alerts.dashboard_url: 'https://g/}' is not a "
     "template of {domain}, {rule}, {window}, {scope} (a lone '}': a brace of the link's own "
     "is written {{ or }})"),
    ('[alerts]\ndashboard_url = "x"', ":4: alerts.dashboard_url: 'x' is not an http(s) URL"),
    ('[alerts]\nevaluate = "5s"', ":4: alerts.evaluate: unknown key" + MORE),
    ('[alerts.webhook]\nurl = "x"', ":3: alerts.webhook: unknown key"),
    # Sinks, of every kind, as [alerts.sinks.NAME] and as [alerts.slack], [alerts.pagerduty]
    ('[alerts.sinks."a b"]\ntype = "slack"\n' + S, ":3: alerts.sinks.\"a b\": a sink's name is of "
     "ASCII letters, digits, '-', '_', '.', ':', at most 64"),
    ('[alerts.sinks.console]\ntype = "slack"\n' + S, ":3: alerts.sinks.console: the name is kept "
     "for standard output"),
    # A sink's name given twice: the named sink's key, as a second rule's name is said.
    ("[alerts.slack]\n" + S + '[alerts.sinks.slack]\ntype = "slack"\n' + S, ":5: "
     "alerts.sinks.slack: [alerts.slack] and [alerts.sinks.slack] name the same sink"),
    ('[alerts.pagerduty]\nrouting_key = "k"\n[alerts.sinks.pagerduty]\ntype = "console"',
     ":5: alerts.sinks.pagerduty: [alerts.pagerduty] and [alerts.sinks.pagerduty] name the same "
     "sink"),
    # The older sections' type is their name: another said in msgspec's words alone.
    ('[alerts.slack]\ntype = "pagerduty"\n' + S, ":4: alerts.slack.type: must be \"slack\" (or "
     "left out): [alerts.slack] is a Slack sink; a pagerduty sink is [alerts.sinks.NAME] (got "
     "'pagerduty')"),
    ('[alerts.pagerduty]\ntype = 1\nrouting_key = "k"', ":4: alerts.pagerduty.type: must be "
     "\"pagerduty\" (or left out): [alerts.pagerduty] is a PagerDuty sink (got 1)"),
    ('[alerts.sinks.x]\nurl = "https://h.example/x"', "alerts.sinks.x.type: give one of slack, "
     "pagerduty, alertmanager, webhook, console (the key is missing)"),
    ('[alerts.sinks.x]\ntype = "email"', ":4: alerts.sinks.x.type: give one of slack, pagerduty, "
     "alertmanager, webhook, console (got 'email')"),
    ("[alerts.slack]\n" + S + 'timeout = "0s"', ":5: alerts.slack.timeout: must be at least 100ms "
     "(0 would wait for ever)"),
    ('[alerts.slack]\nwebhook_url = "nope"', ":4: alerts.slack.webhook_url: not an http(s) URL "
     "with a host (value not shown)"),
    ('[alerts.sinks.chat]\ntype = "slack"\nwebhook_url = "nope"', ":5: "
     "alerts.sinks.chat.webhook_url: not an http(s) URL with a host (value not shown)"),
    ('[alerts.sinks.chat]\ntype = "slack"\n' + S + 'timeout = "0s"', ":6: "
     "alerts.sinks.chat.timeout: must be at least 100ms (0 would wait for ever)"),
    # A URL sesd sends to, refused where the HTTP client would drop a pasted line break
    # (or percent-encode a space, into a path not meant) or fail every send (its port).
    # What and where said, the value not: a secret's URL is not shown to find it in.
    (HOOK.replace("/x", "/x\\u200b"), ":5: alerts.sinks.hook.url: has U+200B, an invisible "
     "character, at its end: no URL holds one (value not shown)"),
    (HOOK.replace("/x", "/a b/x"), ":5: alerts.sinks.hook.url: has a space at character 20 of 23: "
     "no URL holds one (value not shown)"),
    (HOOK.replace("h.example", "h.example:99999"), ":5: alerts.sinks.hook.url: its port is not a "
     "number from 1 to 65535 (value not shown)"),
    (HOOK.replace("h.example", "h.example:abc"), ":5: alerts.sinks.hook.url: its port is not a "
     "number from 1 to 65535 (value not shown)"),
    (AM + 'urls = ["http://a:0"]', ":5: alerts.sinks.am.urls[0]: 'http://a:0': its port is not a "
     "number from 1 to 65535"),
    # sesd adds /api/v2/alerts to an Alertmanager's URL: after a query or a fragment it
    # would post to the URL's own path (a 404 or 405 at every post). A path prefix is taken.
    (AM + 'urls = ["http://u:p@am:9093/am?x=1"]', ":5: alerts.sinks.am.urls[0]: "
     "'http://u:***@am:9093/am?x=1' has a query or a fragment ('?', '#'): sesd adds /api/v2/alerts "
     "to the URL's path, which would land in it"),
    # A token written as the URL's user name is masked as a password is.
    (AM + 'urls = ["https://tok3n@am:9093/?x=1"]', ":5: alerts.sinks.am.urls[0]: "
     "'https://***@am:9093/?x=1' has a query or a fragment" + MORE),
    (AM + 'urls = ["http://am:9093/#/alerts"]', ":5: alerts.sinks.am.urls[0]: "
     "'http://am:9093/#/alerts' has a query or a fragment" + MORE),
    (AM + 'urls = ["http://a b"]', ":5: alerts.sinks.am.urls[0]: 'http://a b': has a space at "
     "character 9 of 10: no URL holds one"),
    (Q.replace("/q", "/q "), ":2: queues[0].url: 'https://sqs.us-east-1.amazonaws.com/1/q ': has a "
     "space at its end: no URL holds one"),
    # A password in the URL masked there too, as everywhere a URL is shown.
    # The line break kept where it is named: the URL parser would drop it.
    ('[[queues]]\nurl = "https://u:hunter2@sqs.us-east-1.amazonaws.com/1/q\\n"',
     ":2: queues[0].url: 'https://u:***@sqs.us-east-1.amazonaws.com/1/q\\u000a': a control or "
     "invisible character" + MORE),
    (AM + 'urls = ["http://u:p@a/\\u0085"]', ":5: alerts.sinks.am.urls[0]: "
     "'http://u:***@a/\\u0085': has U+0085, a space, at its end: no URL holds one"),
    # A password holding a '#', '/' or '?' not percent-encoded: the URL parser ends the
    # host there (a port 'p' or 'a'), and the refusal masks all up to the last '@'.
    (AM + 'urls = ["http://u:p#ss@am:9093"]', ":5: alerts.sinks.am.urls[0]: "
     "'http://u:***@am:9093': its port is not a number from 1 to 65535"),
    (AM + 'urls = ["https://u:a/b@host/x"]', ":5: alerts.sinks.am.urls[0]: 'https://u:***@host/x': "
     "its port is not a number from 1 to 65535"),
    (Q.replace("https://", "https://u:p?ss@"), ":2: queues[0].url: "
     "'https://u:***@sqs.us-east-1.amazonaws.com/1/q': its port is not a number from 1 to 65535"),
    (Q + '[aws]\nendpoint_url = "http://u:p#ss@localhost:5000"', ":4: aws.endpoint_url: "
     "'http://u:***@localhost:5000': its port is not a number from 1 to 65535"),
    # No '@' the parser sees: the password is the parser's port, not shown.
    (AM + 'urls = ["http://ops:pa55word"]', ":5: alerts.sinks.am.urls[0]: 'http://ops:***': "
     "its port is not a number from 1 to 65535"),
    (AM + 'urls = ["http://ops:pa55word%2540am"]', ":5: alerts.sinks.am.urls[0]: "
     "'http://ops:***': its port is not a number from 1 to 65535"),
    (AM + 'urls = ["http://:p/ss@am"]', ":5: alerts.sinks.am.urls[0]: 'http://***@am' is not an "
     "http(s) URL"),
    (HOOK.replace("https://", "https://u:p#ss@"), ":5: alerts.sinks.hook.url: its port is not a "
     "number from 1 to 65535 (value not shown)"),
    # An Alertmanager's URL is not sent as written (a path is added after a line break,
    # '//api/v2/alerts'), nor an endpoint by the AWS SDK: refused.
    (AM + 'urls = ["http://am:9093/\\n"]', ":5: alerts.sinks.am.urls[0]: 'http://am:9093/\\u000a': "
     "has a line break at its end: no URL holds one"),
    ('[aws]\nendpoint_url = "http://localhost:4566\\t"', ":4: aws.endpoint_url: "
     "'http://localhost:4566\\u0009': has a tab at its end: no URL holds one"),
    (AM + 'urls = ["http://a/\\u0001"]', ":5: alerts.sinks.am.urls[0]: 'http://a/\\u0001': has "
     "U+0001, a control character, at its end: no URL holds one"),
    ('[alerts.pagerduty]\nrouting_key = "k"\nevents_url = "x"', ":5: alerts.pagerduty.events_url: "
     "'x' is not an http(s) URL"),
    ('[alerts.pagerduty]\nrouting_key = "k"\nsource = " "', ":5: alerts.pagerduty.source: must not "
     "be blank: PagerDuty refuses every event then"),
    # A secret that is no URL, refused where the service it goes to would refuse it at
    # the first page (a pasted line break; a space in a key), the value not shown.
    (PD.replace(KEY, "k\\n"), ":5: alerts.sinks.pd.routing_key: has a line break or another "
     "control or invisible character: no key or password holds one (value not shown)"),
    (PD.replace(KEY, "k k"), ":5: alerts.sinks.pd.routing_key: has a space: no such key holds "
     "one (value not shown)"),
    (AM + 'urls = ["http://a"]\nusername = "u"\npassword = "p\\u0000q"', ":7: "
     "alerts.sinks.am.password: has a line break or another control or invisible character: no key "
     "or password holds one (value not shown)"),
    ('[aws]\naccess_key_id = "AKIA EXAMPLE"\nsecret_access_key = "s"', ":4: aws.access_key_id: has "
     "a space: no such key holds one (value not shown)"),
    ('[alerts.pagerduty]\nrouting_key = "file:/nonexistent/sesd-key"', ":4: "
     "alerts.pagerduty.routing_key: cannot read secret file /nonexistent/sesd-key: No such file or "
     "directory"),
    # A reference with a space after its colon: said as written, not as a variable's
    # name read with the space ("environment variable  SESD_X", two spaces).
    (PD.replace(KEY, "env: SESD_X"), ":5: alerts.sinks.pd.routing_key: 'env: SESD_X': a space "
     "around the name: write 'env:SESD_X'"),
    (PD.replace(KEY, "file: /run/key "), ":5: alerts.sinks.pd.routing_key: 'file: /run/key ': "
     "a space around the path: write 'file:/run/key'"),
    # PagerDuty's integration keys are 32 characters: another length loses every page.
    (PD.replace(KEY, KEY[:-1]), ":5: alerts.sinks.pd.routing_key: 31 characters long, where "
     "every PagerDuty integration key (the Events API v2 routing key) is 32: PagerDuty would "
     "refuse each event; give the Integration Key of the service's Events API v2 integration "
     "(value not shown)"),
    (PD + 'events_url = "x"', ":6: alerts.sinks.pd.events_url: 'x' is not an http(s) URL"),
    (PD + 'timeout = "10m"', ":6: alerts.sinks.pd.timeout: '10m' is over 5m: a receiver that hangs "
     "would hold every notification behind it that long (a bare number is seconds)"),
    # A second past the bound is refused as the ten minutes are.
    (PD + 'timeout = "301s"', ":6: alerts.sinks.pd.timeout: '301s' is over 5m: a receiver that "
     "hangs would hold every notification behind it that long (a bare number is seconds)"),
    (PD + 'source = ""', ":6: alerts.sinks.pd.source: must not be blank: PagerDuty refuses every "
     "event then"),
    (AM + "urls = []", ":5: alerts.sinks.am.urls: must list at least one Alertmanager"),
    (AM + 'urls = ["http://a"]\nusername = "u"', ":3: alerts.sinks.am: username and password go "
     "together (basic auth)"),
    (AM + 'urls = ["http://a"]\nresend_every = "0s"', ":6: alerts.sinks.am.resend_every: must be "
     "at least 1s"),
    (AM + 'urls = ["http://a"]\ntimeout = "0s"', ":6: alerts.sinks.am.timeout: must be at least "
     "100ms (0 would wait for ever)"),
    (HOOK + 'timeout = "0s"', ":6: alerts.sinks.hook.timeout: must be at least 100ms (0 would wait "
     "for ever)"),
    ('[alerts.sinks.hook]\ntype = "webhook"\nurl = "nope"', ":5: alerts.sinks.hook.url: not an "
     "http(s) URL with a host (value not shown)"),
    ('[alerts.sinks.hook]\ntype = "webhook"', "alerts.sinks.hook.url: required, and not given"),
    ('[alerts.pagerduty]\nsource = "x"', "alerts.pagerduty.routing_key: required, and not given"),
    (HOOK + 'secret = " "', ":6: alerts.sinks.hook.secret: is empty (give 'env:NAME', 'file:PATH' "
     "or a literal)"),
    (HOOK + 'secret = "env:SESD_SWEEP_NEVER_SET"', ":6: alerts.sinks.hook.secret: environment "
     "variable SESD_SWEEP_NEVER_SET is not set"),
    # A reference to nothing: not a variable named "" unset, nor the directory "." unread.
    (HOOK + 'secret = "env:"', ":6: alerts.sinks.hook.secret: 'env:' names nothing: write "
     "env:NAME"),
    (HOOK + 'secret = "env: "', ":6: alerts.sinks.hook.secret: 'env: ' names nothing: write "
     "env:NAME"),
    (HOOK + 'secret = "file:"', ":6: alerts.sinks.hook.secret: 'file:' names nothing: write "
     "file:PATH"),
    (HOOK + 'urls = ["x"]', ":6: alerts.sinks.hook.urls: unknown key (did you mean url?)"),
    # A key written as a part of the one meant, or the one meant as a part of it:
    # Slack calls it a webhook URL, an account's role is an ARN.
    ('[alerts.sinks.s]\ntype = "slack"\nurl = "https://h.example/x"', ":5: alerts.sinks.s.url: "
     "unknown key (did you mean webhook_url?)"),
    ('[alerts.sinks.w]\ntype = "webhook"\nwebhook_url = "https://h.example/x"',
     ":5: alerts.sinks.w.webhook_url: unknown key (did you mean url?)"),
    ('[[accounts]]\nname = "a"\nrole = "x"', ":5: accounts[0].role: unknown key (did you mean "
     "role_arn?)"),
    ('[alerts.sinks.c2]\ntype = "console"\nurl = "x"', ":5: alerts.sinks.c2.url: unknown key"),
    # A key of no name is a key too, quoted as TOML writes it, not msgspec's words.
    ('[alerts.sinks.c2]\ntype = "console"\n"" = 1', ":5: alerts.sinks.c2.\"\": unknown key"),
    ('"" = 1\n' + Q, ":1: \"\": unknown key"),
    ('[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/q"\n"" = 1', ":3: queues[0].\"\": "
     "unknown key"),
    ('[[queues]]\nurl = "https://sqs.us-east-1.amazonaws.com/1/q"\n"a`b" = 1',
     ":3: queues[0].\"a`b\": unknown key"),
    # A name that is no bare TOML key (a sink's may hold '.' and ':'), quoted as the file
    # must write it: alerts.sinks.a.b would be the table b in a sink a.
    ('[alerts.sinks."a.b"]\ntype = "slack"\n' + S + 'timeout = "0s"', ":6: "
     "alerts.sinks.\"a.b\".timeout: must be at least 100ms (0 would wait for ever)"),
    # Its quote and backslash escaped as TOML escapes them in a quoted key.
    ('[alerts.sinks."a\\"b\\\\"]\ntype = "email"', ":4: alerts.sinks.\"a\\\"b\\\\\".type: give one "
     "of slack, pagerduty, alertmanager, webhook, console (got 'email')"),
    ('[alerts.sinks."a b"]\ntype = "email"', ":4: alerts.sinks.\"a b\".type: give one of slack, "
     "pagerduty, alertmanager, webhook, console (got 'email')"),
    ('[alerts.sinks."a:b"]\ntype = "slack"\nwebhook_url = "nope"', ":5: "
     "alerts.sinks.\"a:b\".webhook_url: not an http(s) URL with a host (value not shown)"),
    ('[alerts."a.b"]\ntype = "slack"', ":3: alerts.\"a.b\": unknown key (a sink named a.b is "
     "[alerts.sinks.\"a.b\"])"),
    ('[alerts."a.b"]\nx = 1', ":3: alerts.\"a.b\": unknown key"),
    (RA + 'sinks = ["a.b"]', ":8: alerts.rules[0] (r).sinks[0]: sink 'a.b' is not configured "
     "(configured: console; add [alerts.sinks.\"a.b\"])"),
    ('[domains]\ngroups = {"a.b" = "x"}', ":4: domains.groups.\"a.b\": Expected `array`, got "
     "`str`"),
    ('[providers.mx]\n"a.b" = "x"', ":4: providers.mx.\"a.b\": Expected `array`, got `str`"),
    (RA + 'labels = {"a.b" = 1}', ":8: alerts.rules[0] (r).labels.\"a.b\": Expected `str`, got "
     "`int`"),
    ('[domains]\ngroups = {a-b = "x"}', ":4: domains.groups.a-b: Expected `array`, got `str`"),
    # [[alerts.rules]]: what a rule is
    (RA + RA, ":9: alerts.rules[1] (r).name: 'r' is alerts.rules[0]'s name too"),
    (RA.replace('"r"', '"a b"'), ":4: alerts.rules[0] (a b).name: 'a b': use ASCII letters, "
     "digits, '-', '_', '.', ':', at most 64"),
    # "letters" alone reads as any alphabet's: é is one, and is refused.
    (RA.replace('"r"', '"délai"'), ":4: alerts.rules[0] (délai).name: 'délai': use ASCII letters, "
     "digits, '-', '_', '.', ':', at most 64"),
    # No name in brackets where there is none to show.
    (RA.replace('"r"', '""'), ":4: alerts.rules[0].name: '': use ASCII letters, digits, '-', '_', "
     "'.', ':', at most 64"),
    # A name too long is cut where the rule is named, and says so: not a shorter name.
    (RA.replace('"r"', '"' + "n" * 70 + '"'), ":4: alerts.rules[0] (" + "n" * 63 + "…).name: '"
     + "n" * 70 + "': use ASCII letters, digits, '-', '_', '.', ':', at most 64"),
    ('[alerts.sinks."é"]\ntype = "console"', ":3: alerts.sinks.\"é\": a sink's name is of ASCII "
     "letters, digits, '-', '_', '.', ':', at most 64"),
    ('[[accounts]]\nname = "é"\n' + ROLE, ":4: accounts[0].name: 'é': ASCII letters, digits, '_', "
     "'.', '-', at most 64 ('default' is the default credential chain)"),
    (RA + 'labels = {"é" = "x"}', ":8: alerts.rules[0] (r).labels.\"é\": a label's name is of "
     "ASCII letters, digits and '_', not first a digit, at most 128"),
    (TEN + RA + 'tenants = ["é"]', ":10: alerts.rules[0] (r).tenants[0]: 'é', which SES allows no "
     "tenant to be called (ASCII letters, digits, '-' and '_', up to 64)"),
    (RA.replace("delay_ratio", "zz"), ":5: alerts.rules[0] (r).metric: 'zz' is unknown (known: "
     "delay_ratio," + MORE),
    (RA + "min_events = -1", ":8: alerts.rules[0] (r).min_events: must not be negative"),
    (RA + 'sinks = ["zz"]', ":8: alerts.rules[0] (r).sinks[0]: sink 'zz' is not configured "
     "(configured: console; add [alerts.sinks.zz])"),
    (RA + 'sinks = ["Console"]', ":8: alerts.rules[0] (r).sinks[0]: sink 'Console' is not "
     "configured (configured: console; did you mean console? sink names are case-sensitive)"),
    # A near miss may be a typo, or a new sink meant (pagerduty-eu beside pagerduty-us).
    (HOOK + RA + 'sinks = ["hoook"]', ":11: alerts.rules[0] (r).sinks[0]: sink 'hoook' is not "
     "configured (configured: console, hook; did you mean hook? or, for a new sink, add "
     "[alerts.sinks.hoook])"),
    (PD.replace(".pd]", ".pagerduty-us]") + RA + 'sinks = ["pagerduty-eu"]', ":11: alerts.rules[0] "
     "(r).sinks[0]: sink 'pagerduty-eu' is not configured (configured: console, pagerduty-us; "
     "did you mean pagerduty-us? or, for a new sink, add [alerts.sinks.pagerduty-eu])"),
    (RA + "sinks = []", ":8: alerts.rules[0] (r).sinks: must name at least one sink"),
    # Named twice, a sink was queued the page twice for one transition.
    (PD + RA + 'sinks = ["pd", "console", "pd"]', ":11: alerts.rules[0] (r).sinks[2]: 'pd' is "
     "named twice"),
    (R.replace('"5m"', '"7m"') + "above = 0.1", ":6: alerts.rules[0] (r).window: '7m' is not one "
     "of windows.sizes (5m, 15m, 1h)"),
    (RA + 'for = "x"', ":8: alerts.rules[0] (r).for: invalid duration 'x' (use e.g. '10s', '5m', "
     "'1h30m')"),
    (RA + "abvoe = 1", ":8: alerts.rules[0] (r).abvoe: unknown key (did you mean above?)"),
    # A word written for a key sesd names otherwise, too far for a typo's likeness: the
    # key to write said; and a key written a level too high, the table it belongs in.
    (R + "threshold = 0.1", ":7: alerts.rules[0] (r).threshold: unknown key (a rule's "
     "threshold is `above`, or `below` to fire under it)"),
    (R + "treshold = 0.1", ":7: alerts.rules[0] (r).treshold: unknown key (a rule's "
     "threshold is `above`, or `below` to fire under it)"),
    ('[[rules]]\nname = "r"', ":3: rules: unknown key (did you mean alerts.rules?)"),
    (CAN + 'every = "5m"', ":6: canary.every: unknown key (did you mean interval?)"),
    ('[slack]\nwebhook_url = "https://h.example/x"', ":3: slack: unknown key (did you mean "
     "alerts.slack?)"),
    # Named from the top, as the error names its own key; below a list of tables no
    # dotted key reaches the key: the header it goes under.
    ("[alerts]\n" + S, ":4: alerts.webhook_url: unknown key (did you mean "
     "alerts.slack.webhook_url?)"),
    ('url = "https://sqs.us-east-1.amazonaws.com/1/q"\n' + Q, ":1: url: unknown key (did you "
     "mean url under [[queues]]?)"),
    ("[alerts]\nabove = 0.1", ":4: alerts.above: unknown key (did you mean above under "
     "[[alerts.rules]]?)"),
    # A key more than one table has is left unguessed.
    ('region = "eu-west-1"\n' + Q, ":1: region: unknown key"),
    (R + 'above = "5%"', ":7: alerts.rules[0] (r).above: Expected `float | null`, got `str` (a "
     "fraction: 0.05 is 5%)"),
    # A count or a duration is no fraction: a percentage there is not told it is one.
    (RA + 'min_events = "5%"', ":8: alerts.rules[0] (r).min_events: Expected `int`, got `str`"),
    (RA + 'for = "5%"', ":8: alerts.rules[0] (r).for: invalid duration '5%' (use e.g. '10s', "
     "'5m', '1h30m')"),
    (RA + 'labels = {"a b" = "x"}', ":8: alerts.rules[0] (r).labels.\"a b\": a label's name is of "
     "ASCII letters, digits and '_', not first a digit, at most 128"),
    (RA + 'labels = {severity = "x"}', ":8: alerts.rules[0] (r).labels.severity: set by sesd"),
    (RA + 'labels = {team = ""}', ":8: alerts.rules[0] (r).labels.team: give it a value "
     "(Alertmanager drops empty ones)"),
    (RA + "labels = {team = 1}", ":8: alerts.rules[0] (r).labels.team: Expected `str`, got `int`"),
    # A label's value goes to Alertmanager, Prometheus and every sink's message: a
    # control character would split a line or drive a terminal (an invisible one is
    # taken: scripts join letters with one).
    (RA + 'labels = {team = "a\\u0000b"}', ":8: alerts.rules[0] (r).labels.team: 'a\\u0000b': a "
     "control character or a line break (shown escaped); a label's value goes to Alertmanager and "
     "every sink: write it without"),
    (RA + 'labels = {team = "mail\\n"}', ":8: alerts.rules[0] (r).labels.team: 'mail\\u000a': a "
     "control character or a line break" + MORE),
    (RA + 'labels = {team = "a\\u2028b"}', ":8: alerts.rules[0] (r).labels.team: 'a\\u2028b': a "
     "control character or a line break" + MORE),
    (RA + 'labels = {"a\\u0000" = "x"}', ":8: alerts.rules[0] (r).labels.\"a\\u0000\": a label's "
     "name is of ASCII letters" + MORE),
    (RA + 'runbook_url = "x{zz}"', ":8: alerts.rules[0] (r).runbook_url: 'x{zz}' is not a template "
     "of {domain}, {rule}, {window}, {scope} ('zz')"),
    (R.replace("delay_ratio", "cause_ratio") + 'above = 0.1\ncause = "zz"', ":8: alerts.rules[0] "
     "(r).cause: 'zz' is unknown (known: ses_internal," + MORE),
    # What a rule watches
    (RA + "providers = []", ":8: alerts.rules[0] (r).providers: must list '*' or at least one "
     "provider"),
    (RA + "domains = []", ":8: alerts.rules[0] (r).domains: must list '*' or at least one domain"),
    (TEN + RA + "tenants = []", ":10: alerts.rules[0] (r).tenants: must list '*' or at least one "
     "tenant"),
    (RA + 'providers = ["zz"]', ":8: alerts.rules[0] (r).providers[0]: unknown provider 'zz' "
     "(known: apple," + MORE),
    # A provider written as a domain: what to write, and why.
    (RA + 'providers = ["google."]', ":8: alerts.rules[0] (r).providers[0]: unknown provider "
     "'google.' (a provider is a name, not a domain: write 'google', with no dot after it; known: "
     "apple," + MORE),
    (RA + 'exclude_providers = ["yahoo\u3002"]\nproviders = ["*"]', ":8: alerts.rules[0] "
     "(r).exclude_providers[0]: unknown provider 'yahoo\u3002' (a provider is a name, not a "
     "domain: write 'yahoo', with no dot after it; known: apple," + MORE),
    (RA + 'providers = ["Google."]', ":8: alerts.rules[0] (r).providers[0]: unknown provider "
     "'Google.' (a provider is a name, not a domain: write 'google', with no dot after it, in "
     "lower case; known: apple," + MORE),
    (RA + 'providers = ["Microsoft"]', ":8: alerts.rules[0] (r).providers[0]: unknown provider "
     "'Microsoft' (write 'microsoft': sesd names providers in lower case; known: apple," + MORE),
    (RA + 'providers = ["goo*."]', ":8: alerts.rules[0] (r).providers[0]: 'goo*.', a glob that "
     "matches no provider sesd knows (a provider is a name, not a domain: write 'goo*', with no "
     "dot after it; known: apple," + MORE),
    # One of a rule's domains, providers or tenants it could not watch: the key and the
    # index that name it, where the rule alone was named (either list may name it).
    (RA + 'domains = ["x.com", "a b"]', ":8: alerts.rules[0] (r).domains[1]: 'a b', which is no "
     "domain name (write the domain alone, as gmail.com for ann@gmail.com)"),
    (RA + 'exclude_domains = ["ann@x.com"]', ":8: alerts.rules[0] (r).exclude_domains[0]: "
     "'ann@x.com', which is no domain name (write the domain alone, as gmail.com for "
     "ann@gmail.com)"),
    (RA + 'domains = ["a.com", "*@*"]', ":8: alerts.rules[0] (r).domains[1]: '*@*', a glob that "
     "matches no domain name nor group (a domain is matched in lower case, IDNA, of letters, "
     "digits, '-', '_' and dots)"),
    ('[domains]\ngroups = {g = ["a.com"]}\n' + RA + 'domains = ["a.com"]', ":10: alerts.rules[0] "
     "(r).domains[0]: 'a.com', counted in group 'g'; name the group instead (domains = ['g'])"),
    ('[domains]\ngroups = {g = ["a.com", "b.com"]}\n' + RA + 'domains = ["[ab].com"]',
     ":10: alerts.rules[0] (r).domains[0]: '[ab].com', a glob that matches only domains counted in "
     "group 'g': name the group instead (domains = ['g'])"),
    ('[domains]\ngroups = {g = ["a.com"], h = ["b.com"]}\n' + RA + 'domains = ["[ab].com"]',
     ":10: alerts.rules[0] (r).domains[0]: '[ab].com', a glob that matches only domains counted in "
     "groups 'g', 'h': name the groups instead (domains = ['g', 'h'])"),
    (RA + 'providers = ["google", "x*"]', ":8: alerts.rules[0] (r).providers[1]: 'x*', a glob that "
     "matches no provider sesd knows (apple," + MORE),
    (RA + 'providers = ["unkn?wn"]', ":8: alerts.rules[0] (r).providers[0]: 'unkn?wn', a glob that "
     "matches only 'unknown', which a glob never takes (domains not resolved yet): 'unknown' is "
     "no provider but the mail to domains not looked up yet or whose lookups fail, so its "
     "delay_ratio reads the start and DNS, not a provider: drop the glob; watch the lookups "
     "with the Prometheus rule SesdProviderLookupsFailing (sesd_dns_failing), and the domains "
     "with a rule on domains"),
    (RA.replace("delay_ratio", "pending_delays") + 'providers = ["unkn?wn"]', ":8: alerts.rules[0] "
     "(r).providers[0]: 'unkn?wn', a glob that matches only 'unknown', which a glob never takes "
     "(domains not resolved yet): name it (providers = [\"unknown\"]) to watch it"),
    (RA + 'providers = ["*"]\nexclude_providers = ["q*"]', ":9: alerts.rules[0] "
     "(r).exclude_providers[0]: 'q*', a glob that matches no provider sesd knows (apple," + MORE),
    (TEN + RA + 'tenants = ["a", "shop.eu"]', ":10: alerts.rules[0] (r).tenants[1]: 'shop.eu', "
     "which SES allows no tenant to be called (ASCII letters, digits, '-' and '_', up to 64)"),
    (TEN + RA + 'tenants = ["shop.*"]', ":10: alerts.rules[0] (r).tenants[0]: 'shop.*', a glob "
     "that matches no tenant name SES allows (ASCII letters, digits, '-' and '_', up to 64)"),
    (TEN + RA + 'tenants = ["unknow[n]"]', ":10: alerts.rules[0] (r).tenants[0]: 'unknow[n]', a "
     "glob that matches only 'unknown', which a glob never takes: name it to watch it"),
    (TEN + RA + 'tenants = ["*"]\nexclude_tenants = ["a", "test *"]', ":11: alerts.rules[0] "
     "(r).exclude_tenants[1]: 'test *', a glob that matches no tenant name SES allows" + MORE),
    # A rule that needs a section off or absent: the key of the rule that needs it.
    (RA + 'providers = ["google"]\n[providers]\nenabled = false', ":8: alerts.rules[0] "
     "(r).providers: needs [providers] enabled"),
    (RA + 'tenants = ["a"]', ":8: alerts.rules[0] (r).tenants: needs [tenants] enabled"),
    (R.replace("delay_ratio", "tenant_sending_paused") + "above = 0", ":5: alerts.rules[0] "
     "(r).metric: 'tenant_sending_paused' needs [tenants] enabled"),
    (R.replace("delay_ratio", "canary_missing") + "above = 0", ":5: alerts.rules[0] (r).metric: "
     "'canary_missing' needs [canary]"),
    # A rule's thresholds: the key, then its value, where TOML's `key = value` was said.
    (R + "above = nan", ":7: alerts.rules[0] (r).above: nan: give a finite number"),
    (R + "below = inf", ":7: alerts.rules[0] (r).below: inf: give a finite number"),
    (R, ":3: alerts.rules[0] (r): give exactly one of `above` and `below`"),
    (RA + "clear_above = 0.2", ":8: alerts.rules[0] (r).clear_above: goes with `below`; use "
     "clear_below with `above`"),
    (R + "below = 0.5\nclear_below = 0.6", ":8: alerts.rules[0] (r).clear_below: goes with "
     "`above`; use clear_above with `below`"),
    (RA + "clear_below = 0.2", ":8: alerts.rules[0] (r).clear_below: 0.2 is above `above` (0.1)"),
    (R + "below = 0.5\nclear_above = 0.4", ":8: alerts.rules[0] (r).clear_above: 0.4 is below "
     "`below` (0.5)"),
    # Whole numbers and exponents as a hand writes them, not as the float they read as.
    (R.replace("delay_ratio", "pending_delays") + "above = 5\nclear_below = 6",
     ":8: alerts.rules[0] (r).clear_below: 6 is above `above` (5)"),
    (R.replace("delay_ratio", "pending_delays") + "below = 5\nclear_above = 4",
     ":8: alerts.rules[0] (r).clear_above: 4 is below `below` (5)"),
    (R.replace("delay_ratio", "sending_paused") + "above = 1e300", ":7: alerts.rules[0] (r).above: "
     "1e+300: sending_paused reads 1 or 0, so the rule would never fire (above = 0 fires on 1)"),
    (R + "above = 2", ":7: alerts.rules[0] (r).above: 2: a ratio is at most 1, so the rule would "
     "never fire (0.05 is 5%)"),
    (R + "below = 0", ":7: alerts.rules[0] (r).below: 0: delay_ratio is never below 0, so the rule "
     "would never fire"),
    (R + "below = 2", ":7: alerts.rules[0] (r).below: 2: a ratio is at most 1, so the rule would "
     "fire on every window with data (0.95 is 95%)"),
    (R.replace("delay_ratio", "pending_delays") + "above = -1", ":7: alerts.rules[0] (r).above: "
     "-1: pending_delays is never below 0, so the rule would fire on every window with data"),
    (R.replace("delay_ratio", "sending_paused") + "above = 1", ":7: alerts.rules[0] (r).above: 1: "
     "sending_paused reads 1 or 0, so the rule would never fire (above = 0 fires on 1)"),
    (R.replace("delay_ratio", "pending_delays") + "above = 5\nclear_below = -1",
     ":8: alerts.rules[0] (r).clear_below: -1: pending_delays is never below 0, so a firing alert "
     "would never resolve"),
    (R + "below = 0.5\nclear_above = 2", ":8: alerts.rules[0] (r).clear_above: 2: delay_ratio is "
     "at most 1, so a firing alert would never resolve (0.97 is 97%)"),
    # A key refused for another's value: the key, then its value, as the rest say it.
    ('[domains]\nidle_evict = "1m"', ":4: domains.idle_evict: 1m is shorter than the largest "
     "window (1h): a domain would be evicted while its windows still hold events (its alerts "
     "resolving as 'no data')"),
    ('[alerts]\nevaluate_every = "10m"\n' + RA, ":4: alerts.evaluate_every: 10m is longer than "
     "alerts.rules[0] (r).window (5m): an incident between two evaluations would never be seen"),
    # The key refused left out: its default said so, not as if written.
    ('[windows]\nsizes = ["5m", "2d"]', "domains.idle_evict: 24h (the default) is shorter than "
     "the largest window (2d)" + MORE),
    ('[windows]\nresolution = "1s"\nsizes = ["1s", "5m"]\n' + RA.replace('"5m"', '"1s"'),
     "alerts.evaluate_every: 5s (the default) is longer than alerts.rules[0] (r).window (1s)"
     + MORE),
    # A name given twice: the second's key, as a rule's name given twice is said.
    (f'[[accounts]]\nname = "a"\n{ROLE}[[accounts]]\nname = "a"\n{ROLE}', ":7: accounts[1].name: "
     "'a' is accounts[0]'s name too"),
    (Q + Q.replace("/1/q", "/2/q"), ":4: queues[1].url: names queue 'q', as queues[0] does: set "
     "`name` on one"),
    # The first named by its URL: it has no `name` to look for.
    (Q + Q.replace("/1/q", "/2/r") + 'name = "q"', ":5: queues[1].name: 'q' is the name "
     "queues[0]'s URL gives it: set another"),
    (Q + 'name = "q"\n' + Q.replace("/1/q", "/2/r") + 'name = "q"', ":6: queues[1].name: 'q' is "
     "queues[0]'s name too"),
    # A rule's key that goes with another metric, or another list: that key.
    (RA + 'cause = "dns"', ":8: alerts.rules[0] (r).cause: goes with metric cause_ratio, and "
     "cause_ratio needs it"),
    (R.replace("delay_ratio", "cause_ratio") + "above = 0.1", "alerts.rules[0] (r).cause: goes "
     "with metric cause_ratio, and cause_ratio needs it"),
    (RA + "include_suppressed = true", ":8: alerts.rules[0] (r).include_suppressed: goes with "
     "metric bounce_ratio"),
    (RA + 'exclude_providers = ["google"]', ":8: alerts.rules[0] (r).exclude_providers: a rule on "
     "domains leaves some out with exclude_domains"),
    (RA + 'providers = ["google"]\nexclude_domains = ["x.com"]', ":9: alerts.rules[0] "
     "(r).exclude_domains: a rule on providers leaves some out with exclude_providers"),
    (TEN + RA + 'tenants = ["a"]\nexclude_domains = ["x.com"]', ":11: alerts.rules[0] "
     "(r).exclude_domains: a rule on tenants leaves some out with exclude_tenants"),
    (RA + 'domains = ["a.com"]\nexclude_domains = ["a.com"]', ":9: alerts.rules[0] "
     "(r).exclude_domains: leaves out every one of the domains the rule watches (a.com): it would "
     "never fire"),
    (RA + 'providers = ["google"]\nexclude_providers = ["*"]', ":9: alerts.rules[0] "
     "(r).exclude_providers: leaves out every one of the providers the rule watches (google): it "
     "would never fire"),
    (TEN + RA + 'tenants = ["a"]\nexclude_tenants = ["*"]', ":11: alerts.rules[0] "
     "(r).exclude_tenants: leaves out every one of the tenants the rule watches (a): it would "
     "never fire"),
    (R.replace("delay_ratio", "sending_paused") + 'above = 0\ndomains = ["a.com"]',
     ":8: alerts.rules[0] (r).domains: sending_paused watches accounts: leave domains out"),
    # Its exclusions too: not "a rule on domains", which it is not.
    (R.replace("delay_ratio", "sending_paused") + 'above = 0\nexclude_providers = ["google"]',
     ":8: alerts.rules[0] (r).exclude_providers: sending_paused watches accounts: leave "
     "exclude_providers out"),
    # exclude_domains too: an account's alert has no domain to leave out, and it was
    # read as a rule on domains' would be, then ignored.
    (R.replace("delay_ratio", "sending_paused") + 'above = 0\nexclude_domains = ["a.com"]',
     ":8: alerts.rules[0] (r).exclude_domains: sending_paused watches accounts: leave "
     "exclude_domains out"),
    (R.replace("delay_ratio", "quota_used_ratio") + 'above = 0.9\nexclude_tenants = ["a"]',
     ":8: alerts.rules[0] (r).exclude_tenants: quota_used_ratio watches accounts: leave "
     "exclude_tenants out"),
    (RA + 'domains = ["*"]\nproviders = ["*"]', ":3: alerts.rules[0] (r): give `domains` or "
     "`providers`, not both"),
    (TEN + RA + 'tenants = ["a"]\ndomains = ["*"]', ":5: alerts.rules[0] (r): give `domains`, "
     "`providers` or `tenants`, one of them"),
    ('# no [[queues]]\n[[queues]]\nname = "q"', "queues[0].url: required, and not given"),
    (R.replace('metric = "delay_ratio"\n', "") + "above = 0.1", "alerts.rules[0] (r).metric: "
     "required, and not given"),
    ("[[accounts]]\n" + ROLE, "accounts[0].name: required, and not given"),
]  # fmt: skip


def _id(text: str) -> str:
    """A case's name: its last line, the key it sets."""
    return text.strip().splitlines()[-1][:40]


@pytest.mark.parametrize(("text", "error"), CASES, ids=[_id(text) for text, _ in CASES])
def test_a_refused_config_is_named_by_the_key_written(
    text: str, error: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sesd.toml"
    path.write_text((text if "[[queues]]" in text else Q + text) + "\n", encoding="utf-8")
    args = argparse.Namespace(
        path=str(path), config=None, no_secrets=False, quiet=True, digest=False
    )
    assert check_config.execute(args) == EXIT_CONFIG
    out, err = capsys.readouterr()
    # The file, then the line of the key the error names (``:4: ``), where it sits on one.
    head = f"sesd: config error: {path}"
    error = error if error.startswith(":") else f": {error}"
    assert not out
    assert err.startswith(head)
    said, newline, rest = err[len(head) :].partition("\n")
    assert newline
    assert not rest  # one line
    # A secret not set on this host (nor anything else wrong) adds how to check the
    # rest (tests/test_cli.py): the key's naming is what is swept here.
    said = said.removesuffix(NO_SECRETS)
    if error.endswith(MORE):
        assert said.startswith(error.removesuffix(MORE))
    else:
        assert said == error


#: A sink shared by a fleet's replicas, and a PagerDuty sink beside it.
FLEET = AM + 'urls = ["http://a"]\nshared = true\n' + PD

#: Valid, but probably not meant: check-config's warnings, each keyed as errors are.
WARNINGS = [
    # Slack and PagerDuty serve https only: an http URL to another host sends the
    # webhook's URL (anyone who has it posts to the channel) or the routing key in clear.
    ('[alerts.slack]\nwebhook_url = "http://hooks.slack.com/services/T0/B0/X"', ":4: "
     "alerts.slack.webhook_url: an http URL, not https: the webhook's URL, a secret (anyone who "
     "has it can post to the channel), crosses the network unencrypted with every notification; "
     "Slack's are https://hooks.slack.com/services/...: write https (http only to a relay on this "
     "host)"),
    ('[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "0123456789abcdef0123456789abcdef"\n'
     'events_url = "http://events.pagerduty.com/v2/enqueue"', ":6: alerts.sinks.pd.events_url: "
     "an http URL, not https: the routing key, a secret (anyone who has it can open incidents), "
     "crosses the network unencrypted in every event; PagerDuty's is "
     "https://events.pagerduty.com/v2/enqueue: write https (http only to a relay on this host)"),
    # A webhook's body is the alert text (recipient domains, their providers, SMTP
    # diagnostics) and its URL may hold a token: over http to another host, in clear.
    ('[alerts.sinks.hook]\ntype = "webhook"\nurl = "http://hooks.example.net/sesd"',
     ":5: alerts.sinks.hook.url: an http URL, not https: every notification (its domains, "
     "their providers, SMTP diagnostics) and the URL, a secret (its path may hold a token), "
     "cross the network unencrypted, readable and, without a secret, forgeable on the way: "
     "write https (http only to a receiver on this host)"),
    # Every integration key PagerDuty issues is seen to be ASCII letters and digits: a
    # key of the right length with another character (a homoglyph, an unexpanded
    # placeholder) is probably refused at each event; its reference gives only the length.
    (PD.replace(KEY, KEY[:20] + "_" + KEY[21:]), ":5: alerts.sinks.pd.routing_key: character "
     "21 of 32 is neither an ASCII letter nor a digit, where every PagerDuty integration key "
     "seen is letters and digits: PagerDuty would probably refuse each event (its reference "
     "gives only the length, so this is not refused); check it against the Integration Key of "
     "the service's Events API v2 integration (value not shown)"),
    # A bare number is seconds: "4" meant as hours repeats each firing alert at each
    # evaluation; a minute or more is not warned of (below).
    (RA + "[alerts]\nrepeat_interval = 4", ":9: alerts.repeat_interval: 4s: each firing alert is "
     "sent again that often (at each evaluation, at most): several messages a minute to every sink "
     "while it fires; give minutes or hours, as '4h' (a bare number is seconds)"),
    # A notification a sink does not take at once is given up that long after its first
    # try: a bare number, or seconds meant as minutes, gives up nearly every retry.
    (RA + "[alerts]\nnotification_max_age = 1", ":9: alerts.notification_max_age: 1s: a "
     "notification a sink does not take at once (a 5xx, a timeout, a 429's pause) is given up "
     "1s after its first try (sesd.notify.expired): a receiver's restart or a rate limit of a "
     "minute loses every page it meets; give minutes or hours, as the default '1h' (a bare "
     "number is seconds)"),
    (RA + '[alerts]\nnotification_max_age = "30s"', ":9: alerts.notification_max_age: 30s: a "
     "notification a sink does not take at once" + MORE),
    # Each rule's first firing waits group_wait before any sink hears of it: a bare
    # number meant as milliseconds holds every page for hours.
    (RA + "[alerts]\ngroup_wait = 10000", ":9: alerts.group_wait: 10000s: the first firing "
     "(or resolve) of each group waits that long before any sink is told of it: every page that "
     "late; give seconds, as the default '10s', a few minutes at most (a bare number is "
     "seconds)"),
    (Q + "visibility_timeout = 0", ":3: queues[0].visibility_timeout: 0 shows each message again "
     "as it is received" + MORE),
    (Q + "wait_time_seconds = 0", ":3: queues[0].wait_time_seconds: 0 receives without waiting: "
     "SQS answers at once" + MORE),
    (Q.replace("/q", "/q.fifo"), "queues[0].delete_invalid: a FIFO queue holds the rest of a "
     "message group behind an invalid message" + MORE),
    # A local SQS's queue URL (`sesd setup --endpoint-url` prints one) without the [aws]
    # block printed with it: the calls go to AWS's SQS, never to the URL's host.
    ('[[queues]]\nurl = "http://127.0.0.1:4566/000000000000/q"\nregion = "eu-west-1"',
     ":2: queues[0].url: 127.0.0.1 is not SQS's, and no [aws] endpoint_url (nor "
     "$AWS_ENDPOINT_URL) is set: sesd calls SQS at eu-west-1's AWS endpoint, not that host; "
     'for a local SQS, set [aws] endpoint_url = "http://127.0.0.1:4566"'),
    ('[shutdown]\ngrace_period = "5s"', ":4: shutdown.grace_period: 5s is shorter than "
     "queues[0].wait_time_seconds (20), the long poll of queue q: a stop of a quiet queue abandons "
     "its receive in flight" + MORE),
    ('[shutdown]\ngrace_period = "5m"', ":4: shutdown.grace_period: 5m: a stop may take " + MORE),
    ('[state]\npath = "state.bin"', ":4: state.path: 'state.bin' is relative: read from the "
     "working directory" + MORE),
    ('[alerts]\nsilences_path = "s.json"', ":4: alerts.silences_path: 's.json' is relative: read "
     "from the working directory" + MORE),
    # A tab or a line break in a URL, a control character or a space before it: the HTTP
    # client drops them, and sends to the URL meant. Warned of, not refused: a config that
    # ran on one must load again (a secret's URL is not shown).
    ('[alerts.slack]\nwebhook_url = "https://h.example/x\\n"', ":4: alerts.slack.webhook_url: has "
     "a line break at its end, which the HTTP client drops: write it without"),
    ('[alerts.pagerduty]\nrouting_key = "k"\nevents_url = " https://e.example/v2\\t"',
     ":5: alerts.pagerduty.events_url: has a space at character 1 of 22, which the HTTP client "
     "drops: write it without"),
    (HOOK.replace("/x", "/x\\r\\n"), ":5: alerts.sinks.hook.url: has a carriage return at "
     "character 20 of 21, which the HTTP client drops: write it without"),
    # A path with a pasted line break: the file is named with it, where no one looks, and
    # the path written without it reads another (the state starts empty). Warned of, not
    # refused: a daemon that ran on it must start again.
    ('[state]\npath = "/var/lib/sesd/state.bin\\n"', ":4: state.path: "
     "'/var/lib/sesd/state.bin\\u000a' has a control or invisible character or a space at its end "
     "(shown escaped): the file is named with it, where no one looks for it, and the path written "
     "without it is another file (the state starts empty there)"),
    ('[alerts]\nsilences_path = "/var/lib/sesd/s.json "', ":4: alerts.silences_path: "
     "'/var/lib/sesd/s.json ' has a control or invisible character or a space at its end (shown "
     "escaped): the file is named with it, where no one looks for it, and the path written without "
     "it is another file (no silence is there)"),
    # [tenants] written without enabled = true (false by default): its keys read by
    # nothing, no tenant counted nor polled, and nothing said of it.
    ('[tenants]\nmax_tracked = 50\ntags = ["team"]', ":5: tenants.tags: [tenants] is not enabled "
     "(enabled = false, the default), so tags and max_tracked are read by nothing: no tenant is "
     "counted, nor what SES says of it polled; set enabled = true"),
    ('[tenants]\npoll_every = "1m"', ":4: tenants.poll_every: [tenants] is not enabled "
     "(enabled = false, the default), so poll_every is read by nothing" + MORE),
    ('[providers]\nenabled = false\nrate = 5.0', ":5: providers.rate: [providers] is turned off "
     "(enabled = false), so rate is read by nothing" + MORE),
    (R.replace("delay_ratio", "sending_paused") + "above = 0\n[account_health]\nenabled = "
     "false", ":5: alerts.rules[0] (r).metric: sending_paused is what SESv2 GetAccount says, which "
     "[account_health] enabled = false does not poll: the rule never fires"),
    # Alertmanager's copy of a firing alert ends 4 resend periods after each post; posts
    # come at evaluations and may take the sink's timeout: shorter, the alert ends and
    # fires again between two posts, each a resolve and a page to its receivers.
    (AM + 'urls = ["http://am:9093"]\nresend_every = "1s"\n' + RA + 'sinks = ["am"]', ":6: "
     "alerts.sinks.am.resend_every: 1s: Alertmanager ends each firing alert 4s after a post "
     "(4 resend periods), where the next post may come 15s after it (resend_every rounded up to "
     "alerts.evaluate_every, 5s, then the sink's timeout, 10s): the alert resolves between two "
     "posts and fires again at the next, each a notification to Alertmanager's receivers; give "
     "at least 4s (the default is 1m)"),
    # A resend waits for the evaluation after resend_every: 6s is posted again 10s on,
    # and with a timeout of 15s may land 25s on, after the copy of 24s ended. So the
    # least to give is what holds once rounded up too (5s: 20s, not after 5s + 15s).
    (AM + 'urls = ["http://am:9093"]\nresend_every = "6s"\ntimeout = "15s"\n' + RA
     + 'sinks = ["am"]', ":6: alerts.sinks.am.resend_every: 6s: Alertmanager ends each firing "
     "alert 24s after a post (4 resend periods), where the next post may come 25s after it "
     "(resend_every rounded up to alerts.evaluate_every, 5s, then the sink's timeout, 15s): the "
     "alert resolves between two posts and fires again at the next, each a notification to "
     "Alertmanager's receivers; give at least 7s (the default is 1m)"),
    (AM + 'urls = ["http://am:9093"]\nresend_every = "1s"\ntimeout = "15s"\n' + RA
     + 'sinks = ["am"]', ":6: alerts.sinks.am.resend_every: 1s: Alertmanager ends each firing "
     "alert 4s after a post (4 resend periods), where the next post may come 20s after it "
     "(resend_every rounded up to alerts.evaluate_every, 5s, then the sink's timeout, 15s): the "
     "alert resolves between two posts and fires again at the next, each a notification to "
     "Alertmanager's receivers; give at least 7s (the default is 1m)"),
    (AM + 'urls = ["http://am:9093"]\nresend_every = "10s"\ntimeout = "1m"\n' + RA
     + 'sinks = ["am"]', ":6: alerts.sinks.am.resend_every: 10s: Alertmanager ends each firing "
     "alert 40s after a post" + MORE),
    (FLEET + R.replace("delay_ratio", "pending_delays") + 'above = 60\nsinks = ["am"]',
     ":12: alerts.rules[0] (r).metric: pending_delays pairs two events of one message, which reach "
     "different replicas of a fleet (a sink is shared): " + MORE),
    (FLEET + RA + 'sinks = ["am", "pd"]', ":15: alerts.rules[0] (r).sinks[1]: 'pd' is PagerDuty, "
     "paged by each replica of the fleet under one dedup_key" + MORE),
    (FLEET + HOOK + RA + 'sinks = ["am", "hook"]', ":18: alerts.rules[0] (r).sinks[1]: 'hook' is a "
     "webhook, posted to by each replica of the fleet on its own" + MORE),
    ('[alerts.sinks."a.b"]\ntype = "slack"\n' + S, ":3: alerts.sinks.\"a.b\": no rule sends to "
     "this sink"),
    ('[alerts.sinks."a.b"]\ntype = "slack"\n' + S, ":5: alerts.sinks.\"a.b\".webhook_url: a "
     "literal secret in this file" + MORE),
    ('[alerts.sinks."a:b"]\ntype = "alertmanager"\nurls = ["http://u:p@h"]',
     ':5: alerts.sinks."a:b".urls: a password or a user name (a token) in a URL is a literal '
     "secret" + MORE),
    ('[alerts.sinks.am]\ntype = "alertmanager"\nurls = ["https://tok3n@h"]',
     ":5: alerts.sinks.am.urls: a password or a user name (a token) in a URL is a literal "
     "secret" + MORE),
    # A domain twice in one group, or tracked twice: counted once all the same (a
    # warning; in two groups it is refused, counted under one alone), a slip to say.
    ('[domains]\ngroups = {g = ["a.com", "b.com", "a.com"]}', ":4: domains.groups.g[2]: 'a.com', "
     "listed at domains.groups.g[0] too: it counts once (another domain meant?)"),
    ('[domains]\ngroups = {"g.h" = ["a.com", "A.COM."]}', ":4: domains.groups.\"g.h\"[1]: 'A.COM.' "
     "is a.com, listed at domains.groups.\"g.h\"[0] too: it counts once (another domain meant?)"),
    ('[domains]\ntrack = ["a.com", "a.com"]', ":4: domains.track[1]: 'a.com', listed at "
     "domains.track[0] too: it counts once (another domain meant?)"),
    # A link a notification carries, with a pasted line break or a space: a chat client
    # cuts it there. Warned of, not refused: a config that ran with one still loads.
    (RA + 'runbook_url = "https://wiki.example/{rule}\\n"', ":8: alerts.rules[0] (r).runbook_url: "
     "'https://wiki.example/{rule}\\u000a' has a space, a line break or another control or "
     "invisible character (shown escaped): a chat client cuts the link there"),
    ('[alerts]\ndashboard_url = "https://g.example/d?var-domain={domain} "',
     ":4: alerts.dashboard_url: 'https://g.example/d?var-domain={domain} ' has a space, a line "
     "break or another control or invisible character (shown escaped): a chat client cuts the link "
     "there"),
    ('[domains]\ngroups = {g = ["a.com"]}\n' + RA + 'domains = ["b.com", "gg"]',
     ":10: alerts.rules[0] (r).domains[1]: 'gg', which is no group of [domains] groups and, "
     "without a dot, no recipient's domain" + MORE),
    # Domains not looked up yet: their delays count there, their deliveries under the
    # provider found since; a ratio there reads a start, not a provider.
    (RA + 'providers = ["microsoft", "unknown"]', ":8: alerts.rules[0] (r).providers[1]: "
     "'unknown' is no provider but the mail to domains not looked up yet" + MORE),
    # An exclusion that takes nothing the rule watches: a typo, or left from an edit.
    (RA + 'providers = ["google"]\nexclude_providers = ["yahoo"]', ":9: alerts.rules[0] "
     "(r).exclude_providers[0]: 'yahoo', which takes none of the providers the rule watches "
     "(google): it leaves out nothing (a typo, or left from an edit?); correct it or drop the "
     "exclusion"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "warning"), WARNINGS, ids=[_id(text) for text, _ in WARNINGS])
def test_a_warning_is_named_by_the_key_written(
    text: str, warning: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sesd.toml"
    path.write_text((text if "[[queues]]" in text else Q + text) + "\n", encoding="utf-8")
    args = argparse.Namespace(
        path=str(path), config=None, no_secrets=False, quiet=True, digest=False
    )
    assert check_config.execute(args) == 0
    # A warning of a key the file writes follows the file's name and the key's line.
    warning = f"{path}{warning}" if warning.startswith(":") else warning
    said = [
        line.removeprefix("sesd: warning: ")
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("sesd: warning: ")
    ]
    if warning.endswith(MORE):
        assert [line for line in said if line.startswith(warning.removesuffix(MORE))], said
    else:
        assert warning in said


@pytest.mark.parametrize(
    "sink",
    [
        "",  # the defaults: resend_every 1m, timeout 10s (evaluate_every 5s)
        'resend_every = "4s"\n',  # 16s, where the next post lands 5s + 10s on
        'resend_every = "7s"\ntimeout = "15s"\n',  # 28s; 10s + 15s
        'resend_every = "2m"\ntimeout = "5m"\n',  # 480s; 120s + 300s
    ],
)
def test_a_resend_every_whose_next_post_lands_in_time_is_not_warned_of(sink: str) -> None:
    """Each firing alert's copy outlives the wait for the next post and its timeout:
    no warning, least of all for the shipped defaults."""
    config = parse_config(Q + AM + 'urls = ["http://am:9093"]\n' + sink + RA + 'sinks = ["am"]')
    assert not [w for w in config.warnings() if "resend_every" in w]


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/services/T0/B0/X",
        "http://127.0.0.1:8080/slack",  # a relay on this host: nothing on the wire
        "http://[::1]/slack",
        "http://localhost:8080/slack",
        "http://localhost.:8080/slack",  # the same name, written fully qualified
        "http://[::ffff:127.0.0.1]:8080/slack",  # IPv4's loopback, as IPv6 writes it
    ],
)
@pytest.mark.parametrize(
    "sink",
    ['[alerts.slack]\nwebhook_url = "{}"\n', '[alerts.sinks.hook]\ntype = "webhook"\nurl = "{}"\n'],
)
def test_a_webhook_sent_over_no_network_is_not_warned_of(url: str, sink: str) -> None:
    """Slack's own https URL (or a receiver's of one's own), or a relay on this host over
    http: no warning; a URL read from a variable is judged once read, as a literal is,
    and one to another host over http is warned of without showing it."""
    for written in (url, "env:SESD_TEST_SLACK_URL"):
        config = parse_config(Q + sink.format(written))
        with pytest.MonkeyPatch.context() as env:
            env.setenv("SESD_TEST_SLACK_URL", url)
            read_secrets(config)
        assert not [w for w in config.warnings() if "not https" in w]
    hooked = parse_config(Q + sink.format("env:SESD_TEST_SLACK_URL"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SESD_TEST_SLACK_URL", url.replace("127.0.0.1", "10.0.0.7", 1))
        read_secrets(hooked)
    warned = [w for w in hooked.warnings() if "not https" in w]
    assert len(warned) == ("10.0.0.7" in url.replace("127.0.0.1", "10.0.0.7", 1))
    assert not [w for w in warned if "10.0.0.7" in w]  # the secret's URL is not shown


@pytest.mark.parametrize(
    "host", ["receiver.monitoring.svc:8080", "receiver.monitoring.svc.cluster.local."]
)
def test_a_webhook_to_a_cluster_service_over_http_is_not_warned_of(host: str) -> None:
    """A webhook receiver served over http as a Kubernetes Service, by its cluster name,
    as an Alertmanager commonly is (whose urls are not warned of): no warning at each
    start and reload for a config as deployed. A PagerDuty events_url there still is:
    PagerDuty serves https alone, and the routing key goes to a relay off this host."""
    hook = parse_config(Q + f'[alerts.sinks.hook]\ntype = "webhook"\nurl = "http://{host}/x"\n')
    assert not [w for w in hook.warnings() if "not https" in w]
    paged = parse_config(
        Q + '[alerts.sinks.pd]\ntype = "pagerduty"\nrouting_key = "R0UT1NGKEY"\n'
        f'events_url = "http://{host}/v2/enqueue"\n'
    )
    assert [w for w in paged.warnings() if "not https" in w]


@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("0123456789abcdef0123456789abcdef", ""),  # an older key: lowercase hex
        ("R0aBcDeFgHiJkLmNoPqRsTuVwXyZ9876", ""),  # a newer one: mixed case
        ("R0aBcDeFgHiJkLmNoPqRsTuVwXyZ9876", "https://events.eu.pagerduty.com/v2/enqueue"),
        ("key-of-a-relay_which-takes-any.", "https://relay.example/v2/enqueue"),
    ],
)
def test_a_routing_key_of_letters_and_digits_or_to_another_receiver_is_not_doubted(
    key: str, url: str
) -> None:
    """A key of ASCII letters and digits, hex or mixed case, to PagerDuty (its EU host
    too), or any key to a receiver of one's own: no warning of its characters, and the
    config loads (a key is never refused for them)."""
    events = f'events_url = "{url}"\n' if url else ""
    config = parse_config(Q + PD.replace(KEY, key) + events)
    assert not [w for w in config.warnings() if "ASCII letter" in w]


def test_a_name_listed_twice_is_warned_of_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same warning of the same name, once for each time a rule lists it, says
    nothing more the second time: its first place is said. (A sink named twice is
    refused.)"""
    key = "alerts.rules[0] (r).domains["
    path = tmp_path / "sesd.toml"
    path.write_text(Q + RA + 'domains = ["gg", "b.com", "gg"]\n', encoding="utf-8")
    args = argparse.Namespace(
        path=str(path), config=None, no_secrets=False, quiet=True, digest=False
    )
    assert check_config.execute(args) == 0
    err = capsys.readouterr().err
    # On the line of the rule's domains, the file's eighth.
    said = [line for line in err.splitlines() if line.startswith(f"sesd: warning: {path}:8: {key}")]
    assert len(said) == 1, said


@pytest.mark.parametrize("count", [19, 20, 21, 22])
def test_the_first_twenty_warnings_are_said_then_how_many_more(count: int) -> None:
    """Twenty warnings are said whole; from twenty-one the rest are counted, one more
    said as one warning, two as warnings; each said as ``placed`` gives it."""
    warnings = [f"w{n}" for n in range(1, count + 1)]
    lines = said(warnings, lambda warning: f"file:1: {warning}")
    assert lines[:20] == [f"file:1: w{n}" for n in range(1, min(count, 20) + 1)]
    more = count - 20
    tail = f"and {more} more warning{'s' if more > 1 else ''} not shown (the first 20 are)"
    assert lines[20:] == ([f"{tail}: fix those, then check again"] if more > 0 else [])


#: Each of [alerts]' timing warnings, by the key it names, at the value just past its
#: bound and at the bound itself (not warned of).
TIMINGS = [
    ('repeat_interval = "59s"', "alerts.repeat_interval: 59s: "),
    ('repeat_interval = "1m"', None),
    ('group_wait = "301s"', "alerts.group_wait: 301s: "),
    ('group_wait = "5m"', None),
    ('notification_max_age = "59s"', "alerts.notification_max_age: 59s: "),
    ('notification_max_age = "1m"', None),
]


@pytest.mark.parametrize(("line", "warning"), TIMINGS)
def test_timings_are_warned_of_past_their_bound_and_only_with_a_rule(
    line: str, warning: str | None
) -> None:
    """A repeat or a notification's age under a minute, a group wait over five minutes,
    each warned of alone; at the bound, none. Without a rule nothing is sent, and none
    is warned of."""
    ruled = timing_warnings(parse_config(RA + f"[alerts]\n{line}\n").alerts)
    assert [text[: len(warning or "")] for text in ruled] == ([warning] if warning else [])
    assert timing_warnings(parse_config(f"[alerts]\n{line}\n").alerts) == []


#: [tenants] keys given while it is off, and what is said of them: nothing when it is on,
#: or when every key is left at its default.
UNREAD = [
    ('[tenants]\nmax_tracked = 50\ntags = ["team"]\npoll_every = "1m"', "tenants.tags: [tenants] "
     "is not enabled (enabled = false, the default), so tags, max_tracked and poll_every are read "
     "by nothing: no tenant is counted, nor what SES says of it polled; set enabled = true"),
    ("[tenants]\nenabled = false\nmax_tracked = 200", None),
    ('[tenants]\nenabled = true\nmax_tracked = 50\ntags = ["team"]', None),
    # [providers] and [account_health], on by default, turned off with keys tuned beside
    # the switch: what they tune is never done.
    ('[providers]\nenabled = false\nrate = 5.0\nnameservers = ["10.0.0.2:53"]', "providers."
     "nameservers: [providers] is turned off (enabled = false), so nameservers and rate are read "
     "by nothing: no recipient domain's MX is looked up, nor any mailbox provider counted; remove "
     "them, or set enabled = true"),
    ("[providers]\nenabled = false\nrate = 20.0", None),
    ("[providers]\nenabled = true\nrate = 5.0", None),
    ('[account_health]\nenabled = false\npoll_every = "1m"', "account_health.poll_every: "
     "[account_health] is turned off (enabled = false), so poll_every is read by nothing: SES's "
     "view of no account is polled (SESv2 GetAccount, CloudWatch); remove it, or set enabled = "
     "true"),
    ('[account_health]\nenabled = true\npoll_every = "1m"', None),
    # A switch within a section, off, with a key beside it that only it reads.
    ('[account_health]\ncloudwatch = false\ncloudwatch_endpoint_url = "http://127.0.0.1:4566"',
     "account_health.cloudwatch_endpoint_url: [account_health] has cloudwatch = false, so "
     "cloudwatch_endpoint_url is read by nothing: AWS/SES Reputation.* metrics are not read from "
     "CloudWatch; remove it, or set cloudwatch = true"),
    ('[account_health]\ncloudwatch_endpoint_url = "http://127.0.0.1:4566"', None),
    ('[account_health]\nenabled = false\ncloudwatch = false\ncloudwatch_endpoint_url = "http://h"',
     "account_health.cloudwatch: [account_health] is turned off (enabled = false), so cloudwatch "
     "and cloudwatch_endpoint_url are read by nothing: SES's view of no account is polled (SESv2 "
     "GetAccount, CloudWatch); remove them, or set enabled = true"),
    ('[state]\nsave_every = "5m"', "state.save_every: [state] has no path (no state file is "
     "kept), so save_every is read by nothing: nothing is saved, nor restored at a restart; "
     "remove it, or give a path"),
    ('[state]\npath = "/var/lib/sesd/state.bin"\nsave_every = "5m"', None),
]  # fmt: skip


@pytest.mark.parametrize(("text", "warning"), UNREAD)
def test_keys_of_a_section_off_are_named_in_their_order(text: str, warning: str | None) -> None:
    """Three keys are listed with commas and an ``and``, the first named in the key's
    place; enabled itself, and a key given its default, are none of them. A section on
    unless turned off says so, and that the keys may go. A switch within a section
    (``cloudwatch = false``, a ``[state]`` with no path) left its own keys
    (``cloudwatch_endpoint_url``, ``save_every``) taken without a word: they are named
    alike, once (the section off names them with the rest)."""
    assert unread_warnings(parse_config(text)) == ([warning] if warning else [])


def test_every_section_with_a_switch_warns_of_its_keys_unread() -> None:
    """Each section of the config with an ``enabled`` switch, turned off with every
    other key it has given a value other than its default, is warned of: a section
    given a switch later is not left out of the check."""
    default = parse_config("")
    switched = [
        field.encode_name
        for field in msgspec.structs.fields(default)
        if "enabled" in getattr(type(getattr(default, field.name)), "__struct_fields__", ())
    ]
    assert {"tenants", "providers", "account_health"} <= set(switched)
    for name in switched:
        section = getattr(default, name)
        keys = [key for key in type(section).__struct_fields__ if key != "enabled"]
        off = _given(section, {"enabled": False})
        assert not unread_warnings(_given(default, {name: off}))
        tuned = _given(off, {key: object() for key in keys})  # equal to no default
        (said,) = unread_warnings(_given(default, {name: tuned}))
        assert said.startswith(f"{name}.{keys[0]}: [{name}] is "), said
        assert all(key in said for key in keys), said


def _given(struct: Any, values: dict[str, Any]) -> Any:
    """A copy of ``struct`` with ``values`` set past its own checks (a config's
    sections are checked together: not what is tested here)."""
    copied = copy.copy(struct)
    for key, value in values.items():
        msgspec.structs.force_setattr(copied, key, value)
    return copied
