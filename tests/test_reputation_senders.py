"""The pipeline keeps, for each sender (queue, identity, sending account, configuration
set), the reputation windows its mail counts in. Whatever the events and reloads, the
estimates are those of each event counted anew under the sender the ledger names."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.reputation import Reputation
from tests import factory as f

EXAMPLES = 20 if os.environ.get("SESD_MUTATION") else 200
SENDS = "[reputation]\nwindow_sends = 100\n"
ROLE = 'role_arn = "arn:aws:iam::{}:role/sesd-reader"\n'
#: What a reload may say of the accounts: none named, one, or the other renamed.
CONFIGS = [
    SENDS,
    SENDS + '[[accounts]]\nname = "prod-eu"\nregion = "eu-west-1"\n' + ROLE.format("1" * 12),
    SENDS + '[[accounts]]\nname = "us"\nregion = "us-east-1"\n' + ROLE.format("2" * 12),
]
ARNS = [
    f"arn:aws:ses:eu-west-1:{'1' * 12}:identity/a.example",
    f"arn:aws:ses:us-east-1:{'2' * 12}:identity/b.example",
    "not an arn",
]
ACCOUNT_IDS = ["", "1" * 12, "2" * 12]
CONFIG_SETS = ["", "ConfigSet", "not a set name", "x" * 65]
RECIPIENTS = [
    ["u@x.example"],
    ["success@simulator.amazonses.com"],
    ["v@x.example", "bounce@simulator.amazonses.com"],
]
#: An event's type, and for a bounce whether it is hard.
KINDS = ["delivery", "send", "hard", "soft", "complaint"]


def _event(kind: str, recipients: list[str]) -> dict[str, Any]:
    if kind == "delivery":
        return f.delivery(recipients)
    if kind == "send":
        return f.simple("Send", recipients)
    if kind in ("hard", "soft"):
        return f.bounce(recipients, kind="Permanent" if kind == "hard" else "Transient")
    return f.complaint(recipients)


steps = st.lists(
    st.one_of(
        st.tuples(st.just("reload"), st.integers(0, len(CONFIGS) - 1)),
        st.tuples(
            st.sampled_from(KINDS),
            st.sampled_from(["q", "r"]),
            st.integers(0, len(ARNS) - 1),
            st.integers(0, len(ACCOUNT_IDS) - 1),
            st.integers(0, len(CONFIG_SETS) - 1),
            st.integers(0, len(RECIPIENTS) - 1),
        ),
    ),
    max_size=40,
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(steps=steps)
def test_the_windows_kept_for_a_sender_estimate_as_the_sender_found_anew(
    steps: list[tuple[Any, ...]],
) -> None:
    """After each step the pipeline's estimates are those of a reference fed each event
    under ``Ledger.sender``'s answer at the time (a reload may name another account),
    which at a reload forgets the places none of the senders its estimate read names
    now."""
    pipeline = Pipeline(core_settings(parse_config(CONFIGS[0])))
    reference = Reputation(100)
    senders: set[tuple[str, str, str]] = set()
    for step in steps:
        if step[0] == "reload":
            pipeline.reconfigure(core_settings(parse_config(CONFIGS[step[1]])))
            placed = {pipeline.ledger.sender(*sender) for sender in senders}
            reference.forget({key[:2] for key in reference.seen()} - placed)
        else:
            kind, queue, arn, account_id, config_set, recipients = step
            event = _event(kind, RECIPIENTS[recipients])
            event["mail"]["sourceArn"] = ARNS[arn]
            event["mail"]["sendingAccountId"] = ACCOUNT_IDS[account_id]
            event["mail"]["tags"] = (
                {"ses:configuration-set": [CONFIG_SETS[config_set]]} if config_set else {}
            )
            assert pipeline.feed(f.raw(event), queue, f.T0).outcome == "processed"
            if recipients != 1:  # (the simulator's alone: no estimate reads it, nor asks)
                sender = (queue, ARNS[arn], ACCOUNT_IDS[account_id])
                senders.add(sender)
                account, region = pipeline.ledger.sender(*sender)
                reference.observe(
                    account,
                    region,
                    CONFIG_SETS[config_set],
                    "bounce" if kind in ("hard", "soft") else kind,
                    RECIPIENTS[recipients],
                    hard=kind == "hard",
                )
        estimated = pipeline.ledger.reputation
        assert estimated.seen() == reference.seen()
        for key in reference.seen():
            assert estimated.estimate(key) == reference.estimate(key)
