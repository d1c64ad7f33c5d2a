"""A host clock minutes behind AWS's is said (``sesd.clock.off``), as one ahead is."""

from __future__ import annotations

from email.utils import formatdate

from prometheus_client import CollectorRegistry, Gauge
from structlog.testing import capture_logs

from sesd.io.logs import get_logger
from sesd.runtime.clock import compare_with_aws
from sesd.runtime.health import Health


def test_a_host_behind_aws_is_said() -> None:
    now = 1.8e9
    aws_date = formatdate(now + 120, usegmt=True)  # AWS is 2 minutes ahead of this host
    health = Health(["q"])
    gauge = Gauge("g", "g", registry=CollectorRegistry())
    with capture_logs() as logs:
        compare_with_aws(aws_date, now, health, gauge, get_logger())
    assert [e["event"] for e in logs] == ["sesd.clock.off"]
