"""What a real Prometheus stores from sesd's text writer at the format's edges: every
sample, under its labels, at its value (NaN, infinities and -0 included). promtool
and prometheus_client's parser read the text otherwise than Prometheus' scrape
loop does; this is the reader that counts."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import anyio
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from sesd.commands.demo.localsqs import free_port
from sesd.config import HttpConfig
from sesd.metrics.exposition import render
from sesd.runtime.health import Changes, Health
from sesd.runtime.http import http_server
from tests.conftest import require_tool
from tests.test_fleet import _prometheus
from tests.test_metrics_text_read_back import _EdgeCases


class _Scraped(_EdgeCases):
    """The edge cases, counting the scrapes that collected them."""

    def __init__(self, changes: Changes) -> None:
        self.scrapes = 0
        self._changes = changes

    def collect(self) -> Iterator[Metric]:
        yield from super().collect()
        self.scrapes += 1
        self._changes.notify()


def _key(name: str, labels: dict[str, str]) -> tuple[str, tuple[tuple[str, str], ...]]:
    # Prometheus keeps no label whose value is empty: such a label is no label.
    return name, tuple(sorted((k, v) for k, v in labels.items() if v))


async def test_prometheus_stores_every_sample_at_its_value(tmp_path: Path) -> None:
    """Prometheus scrapes sesd's /metrics serving the edge cases: the target is up, it
    scraped as many samples as the text holds, and the API gives each one back under
    its labels (escapes undone) at its value."""
    prometheus = require_tool("prometheus")
    changes = Changes()
    scraped = _Scraped(changes)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(scraped)
    text = render(registry.collect()).decode()
    expected = {
        _key(sample.name, sample.labels): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    scraped.scrapes = 0
    served = http_server(HttpConfig("127.0.0.1:0"), registry, Health([]), lambda: 0.0)
    port = free_port()
    with anyio.fail_after(60):
        async with served as target, aiohttp.ClientSession() as http:
            config = tmp_path / "prometheus.yml"
            config.write_text(
                "global:\n  scrape_interval: 500ms\n  scrape_timeout: 500ms\n"
                "scrape_configs:\n  - job_name: edges\n    static_configs:\n"
                f"      - targets: ['127.0.0.1:{target}']\n"
            )
            async with _prometheus(prometheus, config, port):
                # A scrape's samples are stored before the next scrape begins.
                await changes.wait_for(lambda: scraped.scrapes >= 2)
                api = f"http://127.0.0.1:{port}/api/v1/query?query="

                async def query(expr: str) -> list[dict[str, Any]]:
                    async with http.get(api + quote(expr)) as response:
                        found: list[dict[str, Any]] = json.loads(await response.read())["data"][
                            "result"
                        ]
                        return found

                up = await query('up{job="edges"}')
                count = await query('scrape_samples_scraped{job="edges"}')
                stored = await query('{__name__=~"sesd_test_.+",job="edges"}')
    assert [sample["value"][1] for sample in up] == ["1"]
    assert [sample["value"][1] for sample in count] == [str(len(expected))]
    got = {}
    for sample in stored:
        labels = dict(sample["metric"])
        name = labels.pop("__name__")
        del labels["job"], labels["instance"]
        got[_key(name, labels)] = float(sample["value"][1])
    assert set(got) == set(expected)
    for key, value in expected.items():
        same = got[key] == value and math.copysign(1, got[key]) == math.copysign(1, value)
        assert same or (math.isnan(value) and math.isnan(got[key])), (key, value, got[key])
