"""A queue's SQS series count only what its place in force answers: one gate, in
sesd.metrics.sqs, that every count passes, given the place its caller reads. A poller
a reload left running at a moved queue's old place (another URL, region or account),
or at a removed queue, counts nothing, whichever call it counts."""

from __future__ import annotations

import ast
from pathlib import Path

import sesd
from sesd.config import QueueConfig, core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.metrics import sqs as gate
from sesd.metrics.registry import Metrics

_ROOT = Path(sesd.__file__).parent
_GATE = Path(gate.__file__)


def _errors(metrics: Metrics) -> dict[tuple[str, str, str, str], float]:
    return {
        (s.labels["queue"], s.labels["account"], s.labels["region"], s.labels["operation"]): s.value
        for family in metrics.registry.collect()
        if family.name == "sesd_sqs_errors"
        for s in family.samples
        if s.value
    }


def test_a_queue_moved_to_another_url_in_its_region_counts_its_new_place_alone() -> None:
    """``events`` moves to another queue of the same account and region: its series
    keep their labels, and what the old place's pollers count after the reload (their
    last batch) counts nowhere; the new place's calls count. The registry's own check
    (is the queue configured?) let the old place's count in: only the pollers' checks
    stopped it, one a new call site could leave out."""
    before = parse_config('[[queues]]\nurl = "http://127.0.0.1:9/1/old"\nname = "events"\n')
    after = parse_config('[[queues]]\nurl = "http://127.0.0.1:9/1/new"\nname = "events"\n')
    pipeline = Pipeline(core_settings(before))
    metrics = Metrics(pipeline.ledger, before.queues, lambda: 0.0)
    old = metrics.sqs_counts(before.queues[0])
    old.error("receive")
    pipeline.ledger.reconfigure(core_settings(after))
    metrics.set_queues(after.queues)
    assert not old.in_force()
    old.error("receive")
    old.error("process")
    old.retried("delete", 2)
    old.received(5)
    new = metrics.sqs_counts(after.queues[0])
    new.error("delete")
    assert _errors(metrics) == {
        ("events", "default", "us-east-1", "receive"): 1.0,
        ("events", "default", "us-east-1", "delete"): 1.0,
    }
    received = {"queue": "events", "account": "default", "region": "us-east-1"}
    assert metrics.registry.get_sample_value("sesd_sqs_messages_received_total", received) == 0
    retried = {**received, "operation": "delete"}
    assert metrics.registry.get_sample_value("sesd_sqs_retries_total", retried) == 0


def test_a_reload_that_leaves_a_queue_where_it_was_keeps_its_pollers_counting() -> None:
    """A reload that changes how ``events`` is read (two pollers), not where: the old
    pollers' last calls are the place in force's, and count, each kind by its own."""
    queue = '[[queues]]\nurl = "http://127.0.0.1:9/1/q"\nname = "events"\n'
    before, after = parse_config(queue), parse_config(queue + "concurrency = 2\n")
    metrics = Metrics(Pipeline(core_settings(before)).ledger, before.queues, lambda: 0.0)
    old = metrics.sqs_counts(before.queues[0])
    metrics.set_queues(after.queues)
    assert old.in_force()
    old.error("receive", 3)
    old.received(5)
    old.retried("delete", 2)
    old.retried("release", 0)
    assert _errors(metrics) == {("events", "default", "us-east-1", "receive"): 3.0}
    received = {"queue": "events", "account": "default", "region": "us-east-1"}
    assert metrics.registry.get_sample_value("sesd_sqs_messages_received_total", received) == 5
    retried = {**received, "operation": "delete"}
    assert metrics.registry.get_sample_value("sesd_sqs_retries_total", retried) == 2
    released = {**received, "operation": "release"}
    assert metrics.registry.get_sample_value("sesd_sqs_retries_total", released) == 0


def test_a_queue_removed_and_added_again_counts_on_its_new_series() -> None:
    """A reload removes ``events`` (its series go) and a later one adds it back where it
    was: the pollers' counts land on the series exported now, from 0, not on the ones
    removed (a count kept on a series looked up before the removal would be lost)."""
    queue = '[[queues]]\nurl = "http://127.0.0.1:9/1/q"\nname = "events"\n'
    config = parse_config(queue)
    metrics = Metrics(Pipeline(core_settings(config)).ledger, config.queues, lambda: 0.0)
    counts = metrics.sqs_counts(config.queues[0])
    counts.received(5)
    counts.error("receive")
    metrics.set_queues([])
    metrics.set_queues(config.queues)
    counts.received(3)
    counts.error("receive")
    received = {"queue": "events", "account": "default", "region": "us-east-1"}
    assert metrics.registry.get_sample_value("sesd_sqs_messages_received_total", received) == 3
    assert _errors(metrics) == {("events", "default", "us-east-1", "receive"): 1.0}


def test_a_queue_named_without_a_place_counts_nothing() -> None:
    """A queue given to the registry by its name alone (a test's, a bench's) is read
    nowhere: its series exist at 0, and no place's calls count on them."""
    metrics = Metrics(Pipeline(core_settings(parse_config(""))).ledger, ["q"], lambda: 0.0)
    metrics.sqs_counts(QueueConfig(url="http://127.0.0.1:9/1/q", name="q")).error("receive")
    assert _errors(metrics) == {}
    labels = {"queue": "q", "account": "default", "region": "us-east-1", "operation": "receive"}
    assert metrics.registry.get_sample_value("sesd_sqs_errors_total", labels) == 0


def _counters() -> set[str]:
    """The attribute names the gate's module gives the SQS counters."""
    tree = ast.parse(_GATE.read_text(encoding="utf-8"))
    return {
        target.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "Counter"
        for target in node.targets
        if isinstance(target, ast.Attribute)
    }


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def test_every_count_on_the_sqs_series_passes_the_gate() -> None:
    """The SQS counters are incremented in one function, which asks the gate first;
    anywhere else in sesd they are only handed to a reader (the status page's), never
    labelled, incremented or kept under another name. A new count that went around the
    gate (a poller's ``metrics.sqs.sqs_errors.labels(...).inc()``, a registry method
    of its own) fails here."""
    counters = _counters()
    assert counters == {"sqs_errors", "sqs_retries", "sqs_received"}
    tree = ast.parse(_GATE.read_text(encoding="utf-8"))
    parents = _parents(tree)
    incs = [
        call
        for call in ast.walk(tree)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "inc"
    ]
    counting = []
    for inc in incs:
        function: ast.AST = inc
        while not isinstance(function, ast.FunctionDef):
            function = parents[function]
        counting.append(function)
    assert [f.name for f in counting] == ["_count"]
    (count,) = counting
    asked = [n for n in ast.walk(count) if isinstance(n, ast.Attribute) and n.attr == "_in_force"]
    assert asked, "the count asks the gate"
    outside = []
    for path in sorted(_ROOT.rglob("*.py")):
        if path == _GATE:
            continue
        module = ast.parse(path.read_text(encoding="utf-8"))
        parents = _parents(module)
        for node in ast.walk(module):
            if not (isinstance(node, ast.Attribute) and node.attr in counters):
                continue
            parent = parents[node]
            if isinstance(parent, ast.Call) and node in parent.args:
                continue  # handed to a reader
            outside.append(f"{path.relative_to(_ROOT.parent)}:{node.lineno}")
    assert outside == []
