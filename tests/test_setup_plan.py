"""``sesd setup``'s record of one region, without AWS: what it did (or would do), the
lines it prints, the [[queues]] block to paste, and the AWS CLI's commands that undo
the changes it made, newest first, ready to paste into a shell."""

from __future__ import annotations

import shlex

import pytest

from sesd.commands.setup_plan import Plan, Taken, aws_command

QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/sesd-events"


def _made(dry_run: bool) -> Plan:
    """A run in eu-west-1 that finds the topic, creates the queue and updates its policy."""
    plan = Plan(dry_run, "eu-west-1")
    plan.record("found", "SNS topic", "arn:aws:sns:eu-west-1:1:sesd-events", undo=("x",))
    plan.record("created", "SQS queue", "sesd-events", undo=("sqs", "delete-queue", "u"))
    plan.record("updated", "SQS queue policy", "sesd-events",
                undo=("sqs", "set-queue-attributes", "--attributes", '{"Policy": ""}'))  # fmt: skip
    plan.record("created", "SES configuration set", "sesd")
    return plan


def test_a_run_undoes_its_changes_newest_first_and_nothing_it_found() -> None:
    """The commands that undo a run are those of its changes (not of a thing it found,
    nor of a change it gives none for), the newest first, each in the plan's region
    and at the endpoint asked, quoted for a shell."""
    plan = _made(dry_run=False)
    assert [action for action, _, _ in plan.steps] == ["found", "created", "updated", "created"]
    assert plan.changed
    assert plan.undoing() == [
        'aws sqs set-queue-attributes --attributes \'{"Policy": ""}\' --region eu-west-1',
        "aws sqs delete-queue u --region eu-west-1",
    ]
    local = plan.undoing("http://127.0.0.1:5000")
    assert (
        local[1] == "aws sqs delete-queue u --region eu-west-1 --endpoint-url http://127.0.0.1:5000"
    )
    assert shlex.split(local[0])[4] == '{"Policy": ""}'


def test_a_dry_run_says_what_would_be_done_and_has_nothing_to_undo() -> None:
    """A dry run's changes read "would be created" (or updated); what it found reads
    "found"; it changed nothing, so nothing is to be undone, though it would change."""
    plan = _made(dry_run=True)
    assert [action for action, _, _ in plan.steps] == [
        "found", "would be created", "would be updated", "would be created",
    ]  # fmt: skip
    assert plan.changed
    assert plan.undoing() == []
    found = Plan(False, "eu-west-1")
    found.record("found", "SNS topic", "t")
    assert not found.changed


def test_the_report_is_a_line_a_step_in_columns() -> None:
    """One line per step, in the order taken: the action and the kind each in a column
    of its width, then the name."""
    plan = _made(dry_run=True)
    assert plan.report() == [
        "found              SNS topic                    arn:aws:sns:eu-west-1:1:sesd-events",
        "would be created   SQS queue                    sesd-events",
        "would be updated   SQS queue policy             sesd-events",
        "would be created   SES configuration set        sesd",
    ]


@pytest.mark.parametrize(
    ("url", "named", "block"),
    [
        # AWS's URL names its region: the block needs no region line.
        (QUEUE_URL, "", [f'url = "{QUEUE_URL}"']),
        # A local endpoint's names none; another region's is not this one's.
        ("http://127.0.0.1:5000/1/sesd-events", "",
         ['url = "http://127.0.0.1:5000/1/sesd-events"', 'region = "eu-west-1"']),
        (QUEUE_URL.replace("eu-west-1", "us-east-2"), "",
         [f'url = "{QUEUE_URL.replace("eu-west-1", "us-east-2")}"', 'region = "eu-west-1"']),
        # Not created yet (a dry run): said so, with its region.
        (None, "sesd-eu", ['url = "(the queue URL, once created)"', 'name = "sesd-eu"',
                           'region = "eu-west-1"']),
    ],
)  # fmt: skip
def test_the_queues_block_names_the_region_only_where_its_url_does_not(
    url: str | None, named: str, block: list[str]
) -> None:
    """The rendering is the region's heading, the report, then the [[queues]] block to
    paste into the config: its URL, its name when given, its region where the URL does
    not name it, and one receive at a time."""
    plan = Plan(False, "eu-west-1")
    plan.record("created", "SQS queue", "sesd-events")
    plan.queue_url = url
    rendered = plan.render(named=named) if named else plan.render()
    assert rendered.split("\n") == [
        "# eu-west-1",
        *plan.report(),
        "",
        "# add to sesd.toml:",
        "[[queues]]",
        *block,
        "concurrency = 1",
    ]


def test_a_command_s_control_characters_are_escaped() -> None:
    """A name with a control character (none in AWS's, but a command is printed to a
    terminal) is escaped, not written raw; the region is always named."""
    said = aws_command(("sqs", "delete-queue", "--queue-url", "q\x1b[2J"), "us-east-1")
    assert "\x1b" not in said
    assert said.startswith("aws sqs delete-queue --queue-url ")
    assert said.endswith(" --region us-east-1")
    assert "--endpoint-url" not in said
    # A name of 2 MiB (never AWS's) is printed cut, to the bound of 1 MiB.
    long = aws_command(("sqs", "delete-queue", "--queue-url", "q" * (2 << 20)), "us-east-1")
    assert len(long) <= (1 << 20) + 10


def test_a_name_taken_says_what_was_found_and_what_to_do() -> None:
    """Taken's message is what setup found; its hint what the user can do."""
    taken = Taken("sesd-events is a FIFO queue", "give another --name")
    assert (str(taken), taken.hint) == ("sesd-events is a FIFO queue", "give another --name")
