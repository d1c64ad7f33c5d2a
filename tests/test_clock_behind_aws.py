"""A host clock minutes behind AWS's is said (``sesd.clock.off``), as one ahead is."""

from __future__ import annotations

from email.utils import formatdate

import pytest
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


@pytest.mark.parametrize("zone", ["", " -0000"], ids=["asctime", "-0000"])
def test_a_date_without_a_zone_is_aws_s_utc_not_the_host_s_local_time(
    zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An endpoint's Date in asctime's form (RFC 9110 has recipients read it) or with
    "-0000", on a host whose local time is New York's: the same instant as the host's
    clock reads on time, not five hours off."""
    import time

    now = 1.8e9
    at = time.gmtime(now)
    date = time.strftime("%a %b %d %H:%M:%S %Y", at)
    if zone:
        date = time.strftime("%a, %d %b %Y %H:%M:%S", at) + zone
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    health = Health(["q"])
    gauge = Gauge("g", "g", registry=CollectorRegistry())
    try:
        with capture_logs() as logs:
            compare_with_aws(date, now, health, gauge, get_logger())
    finally:
        monkeypatch.undo()
        time.tzset()
    assert health.clock_offset == 0.0
    assert logs == []
