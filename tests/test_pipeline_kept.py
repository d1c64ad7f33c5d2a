"""Which domains' slots the pipeline keeps (a recipient then costs one lookup): a
consumer domain's, known by its name, until an answer comes for it; an answer's
domain while the answer holds; a domain waiting for its lookup until the lookup
answers or is abandoned; not one whose lookup the full queue left unasked (its next
recipient asks again). Counting is the same either way
(tests/test_pipeline_slots_reference.py): this is the cost kept low."""

from __future__ import annotations

import dataclasses
import json

from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from tests import factory as f

T = f.T0


def _fed(pipeline: Pipeline, address: str, now: float) -> None:
    pipeline.feed(json.dumps(f.delivery([address], at=now - 1)), "q", now)


def test_a_consumer_domain_s_slots_are_kept_until_an_answer_comes() -> None:
    settings = dataclasses.replace(core_settings(parse_config("")), providers=True)
    pipeline = Pipeline(settings)
    cache = pipeline.ledger.providers
    assert cache is not None
    _fed(pipeline, "u@gmail.com", T)
    assert pipeline._kept["gmail.com"][0] == float("inf")
    cache.remember("gmail.com", "google", T + 100)
    assert "gmail.com" not in pipeline._kept
    _fed(pipeline, "u@gmail.com", T + 1)
    assert pipeline._kept["gmail.com"][0] == T + 100


def test_a_domain_waiting_for_its_lookup_is_kept_until_the_lookup_ends() -> None:
    settings = dataclasses.replace(core_settings(parse_config("")), providers=True)
    pipeline = Pipeline(settings)
    cache = pipeline.ledger.providers
    assert cache is not None
    _fed(pipeline, "u@a.example", T)
    assert pipeline._kept["a.example"][0] == float("inf")  # its lookup wanted
    assert cache.take() == "a.example"
    assert "a.example" in pipeline._kept  # under way
    pipeline.reconfigure(settings)  # (what was kept goes)
    _fed(pipeline, "u@a.example", T)
    assert pipeline._kept["a.example"][0] == float("inf")  # kept while under way too
    cache.abandoned("a.example")
    assert "a.example" not in pipeline._kept  # to be wanted again
    _fed(pipeline, "u@a.example", T)
    assert cache.take() == "a.example"
    cache.answered("a.example", "google", T + 100, "resolved")
    assert "a.example" not in pipeline._kept
    _fed(pipeline, "u@a.example", T + 1)
    assert pipeline._kept["a.example"][0] == T + 100
    _fed(pipeline, "u@a.example", T + 100)  # the answer ran out: wanted again
    assert list(cache.wanted) == ["a.example"]
    assert pipeline._kept["a.example"][0] == float("inf")


def test_a_domain_the_full_queue_left_unasked_is_not_kept() -> None:
    settings = dataclasses.replace(core_settings(parse_config("")), providers=True)
    pipeline = Pipeline(settings)
    cache = pipeline.ledger.providers
    assert cache is not None
    cache._max_queue = 1
    _fed(pipeline, "u@a.example", T)
    _fed(pipeline, "u@b.example", T)
    assert list(cache.wanted) == ["a.example"]
    assert list(pipeline._kept) == ["a.example"]
