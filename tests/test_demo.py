"""``sesd demo``: local SQS, synthetic traffic, the spike visible on the console."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest


@pytest.mark.timeout(60)
def test_demo_shows_the_delay_spike() -> None:
    """The demo runs the real pipeline on local SQS, shows per-domain summaries, flags the
    spiking domain, prints the alerts it raises (on the domain and on its provider, with
    the cause), counts each tenant and alerts when SES pauses one, times the canary, and
    exits 0 when its time is up."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sesd",
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--duration",
            "8",
            "--spike-after",
            "1",
            "--every",
            "3",
            "--rate",
            "80",
            "--pause-after",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "metrics at http://127.0.0.1:" in result.stdout
    assert "gmail.com" in result.stdout
    spike_lines = [line for line in result.stdout.splitlines() if "<- delays" in line]
    assert spike_lines
    assert all("outlook.com" in line for line in spike_lines)
    assert "[FIRING] delay-ratio-high: outlook.com delay_ratio" in result.stdout
    assert "where: SES -> recipient MTA; delay types: RecipientServerError" in result.stdout
    assert "cause: ip_reputation" in result.stdout
    # The demo's DNS gave its company domains their provider; the spike raises Microsoft.
    providers = [line for line in result.stdout.splitlines() if "delay% by provider:" in line]
    assert providers
    assert "google" in providers[-1]
    assert "mimecast" in providers[-1]
    assert "[FIRING] provider-delay-ratio-high: provider microsoft delay_ratio" in result.stdout
    assert "top domains: outlook.com" in result.stdout
    # SES paused globex: its status event reached the queue, the alert says who and why.
    assert "[FIRING] tenant-paused: tenant globex tenant_sending_paused 1" in result.stdout
    assert "SES paused tenant globex in us-east-1" in result.stdout
    tenants = [line for line in result.stdout.splitlines() if "delay% by tenant:" in line]
    assert "acme" in tenants[-1]
    assert "globex" in tenants[-1]
    assert "PAUSED" in tenants[-1]
    # The canary went out through the local SES and came back with its stage timings.
    canary = re.findall(
        r"canary: (\d+) sent, (\d+) back, 0 missing; last canary back", result.stdout
    )
    assert canary
    assert int(canary[-1][0]) >= 1
    assert int(canary[-1][1]) >= 1
    assert "sesd.daemon.stopped" in result.stderr
    assert "Traceback" not in result.stderr
