"""The tenant polls of a large account: a pass broken by a throttled or failing call
resumes at the next poll where it stopped, and the calls are paced so that a
2,000-tenant account is read in full under SES's limit of one call a second. The
local SESv2 endpoint (every answer parsed by botocore) pages, throttles as scripted
and holds each operation to a call rate on the test's own clock; the poller waits
on that same clock, so nothing sleeps."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from aiobotocore.session import get_session
from aiohttp import web
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from sesd.account.failures import THROTTLED_TRIES, TRANSIENT_TRIES
from sesd.account.tenants import TenantPoller
from sesd.commands.demo.localtenants import LocalTenants
from sesd.config import core_settings, parse_config
from sesd.core.pipeline import Pipeline
from sesd.core.tenant_walks import MAX_TOKEN
from sesd.core.tenants import TenantStatus
from sesd.metrics.tenants import TenantCollector
from sesd.runtime.aws import tenant_config

NOW = 1_800_000_000.0
ACCOUNT = "123456789012"
REGION = "eu-west-1"
TARGET = ("default", REGION)
#: A call that fails each try: throttled, then SES's own failure (500).
THROTTLED = [429] * THROTTLED_TRIES
FAILED = [500] * TRANSIENT_TRIES


class Clock:
    """The test's time: the poller's clock and its waits, and the endpoint's."""

    def __init__(self) -> None:
        self.now = NOW
        self.waited: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waited.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()

    def advance(self, seconds: float) -> None:
        self.now += seconds


@asynccontextmanager
async def tenant_poller(
    tenants: LocalTenants,
    pipeline: Pipeline,
    clock: Callable[[], float],
    **kwargs: Any,
) -> AsyncIterator[TenantPoller]:
    """A poller of one (account, region) on the endpoint, its client made with the
    daemon's settings (the poller, not the SDK, asks a failed call again)."""
    async with get_session().create_client(
        "sesv2", region_name=REGION, endpoint_url=tenants.url,
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=tenant_config(),
    ) as ses:  # fmt: skip

        async def client_for(service: str, target: tuple[str, str]) -> Any:
            return ses

        ledger = pipeline.ledger
        yield TenantPoller(
            [TARGET], client_for, ledger.accounts, ledger.tenant_map, ledger.tenant_status,
            every=300, clock=clock, **kwargs,
        )  # fmt: skip


def _pipeline() -> Pipeline:
    return Pipeline(core_settings(parse_config("[tenants]\nenabled = true\n")))


def _first(tenants: LocalTenants, since: int, operation: str) -> dict[str, Any] | None:
    """The request of the first call of ``operation`` after the first ``since`` calls."""
    return next((body for op, body in tenants.asked[since:] if op == operation), None)


async def test_a_broken_pass_resumes_where_it_stopped_and_a_full_one_starts_over() -> None:
    """30 tenants, 10 a page; t25 (page 3) is paused. The first poll's third page of
    statuses is throttled and its walk of resources fails (500) at t12: the statuses
    of pages 1 and 2 are written, a tenant deleted before is not resolved (the list was
    not read to its end) and the map is not replaced. The next poll asks for page 3,
    not page 1, and walks on from t12 without listing the tenants again: t25's pause is
    read, the deleted tenant goes, every resource is mapped. The poll after that starts
    over. A token SES no longer takes (400) starts the list over too, and a tenant's
    resources refused (400) the walk, from the listing. (Throttled and
    failing at each of its tries: a call that passes on a later try breaks nothing.)"""
    clock = Clock()
    pipeline = _pipeline()
    statuses = pipeline.ledger.tenant_status
    deleted = ("default", REGION, "deleted")
    statuses.polled(deleted, TenantStatus(sending="DISABLED", aws="DISABLED"), NOW - 600)
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.page = 10
        for i in range(30):
            tenants.add(f"t{i:02d}", ("CONFIGURATION_SET", f"set-{i:02d}"))
        tenants.pause("t25", "The bounce rate exceeded 15.0%.")
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            # Statuses: 2 pages, then refused; tenants: 3 pages; resources: t00-t11, then 500.
            tenants.script = [200, 200, *THROTTLED, 200, 200, 200, *[200] * 12, *FAILED]
            await poller.poll_once()
            assert ("default", REGION, "t19") in statuses.status
            assert ("default", REGION, "t25") not in statuses.status
            assert deleted in statuses.status  # a partial list resolves nothing
            assert pipeline.ledger.tenant_map.arns == {}
            assert pipeline.ledger.accounts.errors == {
                ("default", REGION, "list_reputation_entities", "TooManyRequestsException"): 1,
                ("default", REGION, "list_tenant_resources", "InternalFailure"): 1,
            }
            before = len(tenants.asked)
            await poller.poll_once()
            assert _first(tenants, before, "ListReputationEntities") == {"NextToken": "20"}
            assert _first(tenants, before, "ListTenants") is None
            assert _first(tenants, before, "ListTenantResources") == {"TenantName": "t12"}
            assert statuses.status[("default", REGION, "t25")].paused
            assert deleted not in statuses.status
            assert len(pipeline.ledger.tenant_map.arns) == 30
            before = len(tenants.asked)
            await poller.poll_once()
            assert _first(tenants, before, "ListReputationEntities") == {}
            assert _first(tenants, before, "ListTenants") == {}
            assert _first(tenants, before, "ListTenantResources") == {"TenantName": "t00"}
            tenants.script = [200, 400]  # page 2's token refused
            await poller.poll_once()
            before = len(tenants.asked)
            await poller.poll_once()
            assert _first(tenants, before, "ListReputationEntities") == {}
            tenants.script = [*[200] * 18, 400]  # t12's resources refused
            await poller.poll_once()
            before = len(tenants.asked)
            await poller.poll_once()
            assert _first(tenants, before, "ListTenants") == {}
            assert _first(tenants, before, "ListTenantResources") == {"TenantName": "t00"}


async def test_how_far_the_walk_has_come_is_exported_per_account() -> None:
    """30 tenants, 10 a page. The first poll's walk fails (500, each try) after t00-t11:
    sesd_ses_tenants_listed reads 30 and sesd_ses_tenants_mapped 12 for the (account,
    region), and no complete map is stamped yet (events of t12-t29's resources count
    under no tenant, and this is how an SRE sees why). The second poll walks on to t29:
    30 of 30, and the map's completion is stamped with that poll's time. The third
    poll's walk starts over, its first tenant failing: 0 of 30. A restart keeps
    the stamp (the map is saved); the counts are those of the walk the restart resumes,
    if any (none here: the walk ended)."""
    clock = Clock()
    pipeline = _pipeline()
    ledger = pipeline.ledger
    registry = CollectorRegistry()
    registry.register(
        TenantCollector(ledger.tenant_status, 100, ledger.accounts, ledger.tenant_map)
    )
    where = {"account": "default", "region": REGION}

    def gauge(name: str) -> float | None:
        return registry.get_sample_value(name, where)

    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.page = 10
        for i in range(30):
            tenants.add(f"t{i:02d}", ("CONFIGURATION_SET", f"set-{i:02d}"))
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            tenants.script = [200, 200, *THROTTLED, 200, 200, 200, *[200] * 12, *FAILED]
            await poller.poll_once()
            assert gauge("sesd_ses_tenants_listed") == 30
            assert gauge("sesd_ses_tenants_mapped") == 12
            assert gauge("sesd_ses_tenant_map_last_complete_timestamp_seconds") is None
            clock.advance(300)
            await poller.poll_once()
            assert gauge("sesd_ses_tenants_listed") == 30
            assert gauge("sesd_ses_tenants_mapped") == 30
            assert gauge("sesd_ses_tenant_map_last_complete_timestamp_seconds") == NOW + 300
            # The next walk counts from none: its first tenant's call fails (500, each
            # try) after the listing, and so 0 of 30 are walked.
            clock.advance(300)
            tenants.script = [*[200] * 6, *FAILED]
            await poller.poll_once()
            assert gauge("sesd_ses_tenants_listed") == 30
            assert gauge("sesd_ses_tenants_mapped") == 0
    restarted = _pipeline()
    restarted.ledger.accounts.restore(ledger.accounts.snapshot(), {TARGET})
    status = restarted.ledger.accounts.status[TARGET]
    assert (status.tenants_listed, status.tenant_map_at) == (None, NOW + 300)


async def test_a_broken_list_is_said_to_resume_where_it_stopped() -> None:
    """A poll whose third page of statuses is throttled (429, each try) and whose walk
    of resources fails (500, each try) at t12: the log's hints say the next poll resumes the list at
    the page it stopped at and the walk at the tenant it reached, as it does; not that
    it "tries again", which reads as starting over."""
    clock = Clock()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.page = 10
        for i in range(30):
            tenants.add(f"t{i:02d}")
        async with tenant_poller(tenants, _pipeline(), clock, recommendations=False) as poller:
            tenants.script = [200, 200, *THROTTLED, 200, 200, 200, *[200] * 12, *FAILED]
            with capture_logs() as logs:
                await poller.poll_once()
    hints = {r["api"]: r["hint"] for r in logs if r["event"] == "sesd.account.poll_failed"}
    assert hints == {
        "list_reputation_entities":
            "throttled: the next poll resumes the list at the page it stopped at",
        "list_tenant_resources": "the next poll resumes the walk at the tenant it reached",
    }  # fmt: skip


async def test_a_throttled_call_is_asked_again_at_the_pace_not_sooner() -> None:
    """30 tenants, 10 a page, a call a second. SES throttles the second page of
    statuses three times running (429), then answers. Each call reaches SES at least a
    second after the one before, the refused ones and their repeats included (the SDK
    of the daemon's tenant clients does not ask again by itself, inside the pace: the
    poller does, at the pace); the fourth try is answered and the pass completes in
    that poll: every status read, every tenant's resources mapped, no failure counted."""
    clock = Clock()
    pipeline = _pipeline()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.page, tenants.clock = 10, clock
        for i in range(30):
            tenants.add(f"t{i:02d}", ("CONFIGURATION_SET", f"set-{i:02d}"))
        tenants.pause("t25", "The bounce rate exceeded 15.0%.")
        async with tenant_poller(
            tenants, pipeline, clock, recommendations=False, pace=1.0, sleep=clock.sleep
        ) as poller:
            tenants.script = [200, 429, 429, 429]
            await poller.poll_once()
    gaps = [later - sooner for sooner, later in itertools.pairwise(tenants.arrived)]
    assert min(gaps) >= 1.0, gaps
    assert tenants.asked[1:5] == [("ListReputationEntities", {"NextToken": "10"})] * 4
    assert tenants.calls == {
        "ListReputationEntities": 3 + 3, "ListTenants": 3, "ListTenantResources": 30
    }  # fmt: skip
    assert pipeline.ledger.accounts.errors == {}
    assert len(pipeline.ledger.tenant_status.status) == 30
    assert pipeline.ledger.tenant_status.status[("default", REGION, "t25")].paused
    assert len(pipeline.ledger.tenant_map.arns) == 30


@pytest.mark.timeout(120)  # 2,200 calls through botocore: slow on a loaded machine
async def test_a_two_thousand_tenant_account_is_read_in_full_at_one_call_a_second() -> None:
    """2,000 tenants, 100 a page, SES allowing each API one call a second; requests
    reach it unevenly (0.2 s, then at once, in turn). The last tenant (page 20) is
    paused and has a finding. Polls every 5 minutes, a call a second after the last
    answer: no call is refused; the first poll reads every status and finding (t01999
    pages at once), then walks the resources until the next poll is due; the walk goes
    on over the polls after (statuses read in full at each) and maps every tenant's
    resources in 9 polls (about 2,430 s: 2,209 calls, 1.1 s each)."""
    clock = Clock()
    pipeline = _pipeline()
    statuses = pipeline.ledger.tenant_status
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.page, tenants.rate, tenants.clock = 100, 1.0, clock
        tenants.transit, tenants.advance = (0.2, 0.0), clock.advance
        for i in range(2000):
            tenants.add(f"t{i:05d}", ("CONFIGURATION_SET", f"set-{i:05d}"))
        last = tenants.tenants["t01999"]
        tenants.pause("t01999", "The bounce rate exceeded 15.0%.")
        last.impact = "HIGH"
        last.findings.append(("BOUNCE", "HIGH", "The bounce rate exceeded 15.0%"))
        async with tenant_poller(
            tenants, pipeline, clock, recommendations=True, pace=1.0, sleep=clock.sleep
        ) as poller:
            polls = 0
            while len(pipeline.ledger.tenant_map.arns) < 2000 and polls < 12:
                started = clock.now
                await poller.poll_once()
                polls += 1
                if polls == 1:
                    status = statuses.status[("default", REGION, "t01999")]
                    assert (status.paused, status.findings[0][0]) == (True, "BOUNCE")
                    assert len(statuses.status) == 2000
                    assert pipeline.ledger.tenant_map.arns == {}  # the walk goes on
                done = clock.now - NOW
                clock.now = max(clock.now, started + 300)  # as run() waits for the next
    assert tenants.refused == 0
    assert pipeline.ledger.accounts.errors == {}
    assert polls == 9
    assert tenants.calls["ListReputationEntities"] == 20 * 9
    assert tenants.calls["ListTenantResources"] == 2000
    # 2,000 calls for the resources, 20 for the tenants, each poll's 21 for the statuses:
    # each a second after the last answer, and 0.1 s on its way on average.
    calls = sum(tenants.calls.values())
    assert calls == 2000 + 20 + 9 * 21
    assert calls * 1.1 - 5 <= done <= calls * 1.1 + 5, done
    assert max(clock.waited) <= 1.0


async def test_an_account_that_does_not_answer_holds_up_no_other() -> None:
    """Two accounts' tenants, polled in one round: SES does not answer the first
    account's first call (held). The second account's statuses and resources are read
    all the same, within that round (each account has its own limits, and its own
    share of the round's time); once the first is answered, the round ends."""
    pipeline = _pipeline()
    async with LocalTenants(ACCOUNT, REGION) as slow, LocalTenants("210987654321", REGION) as ok:
        slow.add("acme")
        ok.add("globex", ("CONFIGURATION_SET", "globex-set"))
        slow.held.add("ListReputationEntities")
        session = get_session()
        async with (
            session.create_client(
                "sesv2", region_name=REGION, endpoint_url=slow.url,
                aws_access_key_id="testing", aws_secret_access_key="testing",
                config=tenant_config(),
            ) as slow_ses,
            session.create_client(
                "sesv2", region_name=REGION, endpoint_url=ok.url,
                aws_access_key_id="testing", aws_secret_access_key="testing",
                config=tenant_config(),
            ) as ok_ses,
        ):  # fmt: skip

            async def client_for(service: str, target: tuple[str, str]) -> Any:
                return slow_ses if target[0] == "slow" else ok_ses

            ledger = pipeline.ledger
            mapped = anyio.Event()

            def on_change() -> None:
                if ledger.tenant_map.arns:
                    mapped.set()

            poller = TenantPoller(
                [("slow", REGION), ("ok", REGION)], client_for, ledger.accounts,
                ledger.tenant_map, ledger.tenant_status, every=300, recommendations=True,
                clock=lambda: NOW, on_change=on_change,
            )  # fmt: skip
            async with anyio.create_task_group() as group:
                group.start_soon(poller.poll_once)
                with anyio.fail_after(20):
                    await mapped.wait()
                    # Asked before the other account was read, though it may reach the
                    # held endpoint after that on a busy machine.
                    await slow.holding.wait()
                assert ("ok", REGION, "globex") in ledger.tenant_status.status
                assert slow.calls == {"ListReputationEntities": 1}
                slow.close()
    assert ("slow", REGION, "acme") in ledger.tenant_status.status


async def test_a_list_whose_pages_never_end_is_given_up_and_started_over() -> None:
    """An endpoint that is not quite SES (a proxy's bug) answers each page of the
    statuses with the token it was asked with: the same page, for ever. The poll does
    not read it for ever (nor hold the memory of every page, nor the other polls behind
    it): the list is counted failed, logged once with a hint, and a tenant it does not
    name is not forgotten (the list was never read to its end); the walk of resources
    goes on. The next poll asks for the first page again, not the looping token."""
    clock = Clock()
    pipeline = _pipeline()
    statuses = pipeline.ledger.tenant_status
    kept = ("default", REGION, "kept")
    statuses.polled(kept, TenantStatus(sending="DISABLED", aws="DISABLED"), NOW - 600)
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.page = 10
        for i in range(20):
            tenants.add(f"t{i:02d}", ("CONFIGURATION_SET", f"set-{i:02d}"))
        tenants.endless.add("ListReputationEntities")
        async with tenant_poller(
            tenants, pipeline, clock, recommendations=False, pace=1.0, sleep=clock.sleep
        ) as poller:
            with capture_logs() as logs, anyio.fail_after(30):
                await poller.poll_once()
            asked = tenants.calls["ListReputationEntities"]
            assert asked <= 3, asked  # the first page, then the token it named, again
            assert kept in statuses.status
            assert len(pipeline.ledger.tenant_map.arns) == 20
            assert pipeline.ledger.accounts.errors == {
                ("default", REGION, "list_reputation_entities", "EndlessList"): 1
            }
            failed = [e for e in logs if e["event"] == "sesd.account.poll_failed"]
            assert len(failed) == 1
            assert "started over" in failed[0]["hint"]
            before = len(tenants.asked)
            with anyio.fail_after(30):
                await poller.poll_once()
            assert _first(tenants, before, "ListReputationEntities") == {}


async def test_a_tenant_name_ses_could_not_have_given_maps_nothing() -> None:
    """ListTenants names a tenant no SES would (markup, spaces, 300 characters: an
    endpoint that is not quite SES; tenant names are written by the platform's users).
    Events name tenants only as SES spells them; the map must not either: that
    tenant's resources are not mapped to it (its mail counts as unknown), no call is
    spent on its resources, and the valid tenants' resources are mapped as usual."""
    clock = Clock()
    pipeline = _pipeline()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("acme", ("CONFIGURATION_SET", "set-acme"))
        for odd in ("<b>x</b> &amp;", "a" * 300, ""):
            tenants.add(odd, ("CONFIGURATION_SET", f"set-{len(odd)}"))
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            await poller.poll_once()
    assert pipeline.ledger.accounts.errors == {}
    where = f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set"
    assert pipeline.ledger.tenant_map.arns == {f"{where}/set-acme": "acme"}
    assert [body for op, body in tenants.asked if op == "ListTenantResources"] == [
        {"TenantName": "acme"}
    ]


async def test_a_list_of_ever_new_empty_pages_is_given_up_at_the_page_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past its last tenant, the statuses' list goes on naming a next page, empty, each
    with a token never seen before: no token repeats, so the bound on pages ends it
    (made 5 here, not to ask 10,000 pages). Counted as an endless list, nothing
    forgotten; the next poll starts it over."""
    import sesd.account.tenants

    monkeypatch.setattr(sesd.account.tenants, "MAX_PAGES", 5)
    clock = Clock()
    pipeline = _pipeline()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.page = 10
        for i in range(20):
            tenants.add(f"t{i:02d}", ("CONFIGURATION_SET", f"set-{i:02d}"))
        tenants.bottomless.add("ListReputationEntities")
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            with anyio.fail_after(30):
                await poller.poll_once()
            assert tenants.calls["ListReputationEntities"] == 6  # the first, and 5 more
            assert pipeline.ledger.accounts.errors == {
                ("default", REGION, "list_reputation_entities", "EndlessList"): 1
            }
            assert len(pipeline.ledger.tenant_status.status) == 20
            before = len(tenants.asked)
            await poller.poll_once()
            assert _first(tenants, before, "ListReputationEntities") == {}


async def test_a_tenants_resources_that_never_end_skip_that_tenant_not_the_map() -> None:
    """ListTenantResources answers every page with the token it was asked with (an
    endpoint that is not quite SES). The walk does not ask for a tenant's first page
    again for ever, poll after poll, with the map never replaced: each tenant is given
    up at the repeated token (what was read of it kept), counted and logged, and the
    walk goes on to the next and ends; the map holds every tenant's resources."""
    clock = Clock()
    pipeline = _pipeline()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        for i in range(3):
            tenants.add(f"t{i:02d}", ("CONFIGURATION_SET", f"set-{i:02d}"))
        tenants.endless.add("ListTenantResources")
        async with tenant_poller(
            tenants, pipeline, clock, recommendations=False, pace=1.0, sleep=clock.sleep
        ) as poller:
            with capture_logs() as logs, anyio.fail_after(30):
                await poller.poll_once()
    assert tenants.calls["ListTenantResources"] == 6  # each tenant's page, and again
    assert len(pipeline.ledger.tenant_map.arns) == 3
    assert pipeline.ledger.accounts.errors == {
        ("default", REGION, "list_tenant_resources", "EndlessList"): 3
    }
    skipped = [e for e in logs if e["event"] == "sesd.tenants.tenant_skipped"]
    assert [e["tenant"] for e in skipped] == ["t00", "t01", "t02"]


async def test_a_tenant_deleted_while_the_walk_is_under_way_is_passed_over() -> None:
    """A walk spread over polls (here broken by SES failing at t01, resumed at the next
    poll, one page into t01's resources) meets a tenant deleted since ListTenants
    named it: SES answers its ListTenantResources NotFoundException. The tenant is
    passed over, what was read of it dropped, not the walk given up: an account whose
    tenants come and go more often than a walk takes (40 minutes for 2,000) would else
    start over at every deletion and never replace its map. Nothing is counted as
    failing for it: SES answered, and rightly."""
    clock = Clock()
    pipeline = _pipeline()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.page = 1
        for i in range(3):
            tenants.add(f"t{i:02d}", ("CONFIGURATION_SET", f"set-{i:02d}"))
        # t01's first page is a configuration set t02 shares.
        tenants.tenants["t01"].resources.insert(0, tenants.tenants["t02"].resources[0])
        async with tenant_poller(tenants, pipeline, clock, recommendations=False) as poller:
            # Statuses and tenants, 3 pages each, t00's resources, t01's first page, then
            # its second fails at each try.
            tenants.script = [*[200] * 6, 200, 200, *FAILED]
            await poller.poll_once()
            del tenants.tenants["t01"]
            clock.advance(300)
            with capture_logs() as logs:
                await poller.poll_once()
    assert tenants.calls["ListTenants"] == 3  # its 3 pages once: resumed, not started over
    # set-02 was t01's too: t02's alone once t01 is gone, not shared (unknown).
    assert sorted(pipeline.ledger.tenant_map.arns.values()) == ["t00", "t02"]
    assert pipeline.ledger.accounts.errors == {
        ("default", REGION, "list_tenant_resources", "InternalFailure"): 1
    }
    gone = [e for e in logs if e["event"] == "sesd.tenants.tenant_gone"]
    assert [(e["tenant"], e["log_level"]) for e in gone] == [("t01", "info")]


class _Looping(LocalTenants):
    """An endpoint whose ListTenantResources of the tenant "looping" never ends without
    ever repeating the token it was asked with: its first page names "7", "7" names "8",
    "8" names "7" again (A, B, A...)."""

    async def _answer(self, request: web.Request, operation: str) -> web.Response:
        answer = await LocalTenants._answer(self, request, operation)
        asked = json.loads(await request.read() or b"{}")
        if operation != "ListTenantResources" or asked.get("TenantName") != "looping":
            return answer
        assert isinstance(answer.body, bytes)
        found = json.loads(answer.body)
        found["NextToken"] = "8" if asked.get("NextToken") == "7" else "7"
        return web.json_response(found)


async def test_a_tenants_resources_whose_tokens_loop_skip_that_tenant_not_the_map() -> None:
    """ListTenantResources of one tenant names its pages in a loop (A, B, A: never the
    token it was just asked with). The walk does not go round it until the poll's
    time is up, poll after poll, with the map never replaced: the tenant is given up
    at the token it named before (what was read of it kept), counted and logged, and
    the walk goes on and ends in that poll; the map holds every tenant's resources."""
    clock = Clock()
    pipeline = _pipeline()
    walks = pipeline.ledger.tenant_walks
    async with _Looping(ACCOUNT, REGION) as tenants:
        tenants.add("acme", ("CONFIGURATION_SET", "set-acme"))
        tenants.add("looping", ("CONFIGURATION_SET", "set-looping"))
        tenants.add("zeta", ("CONFIGURATION_SET", "set-zeta"))
        async with tenant_poller(
            tenants, pipeline, clock, recommendations=False, pace=1.0, sleep=clock.sleep,
            walks=walks,
        ) as poller:  # fmt: skip
            with capture_logs() as logs, anyio.fail_after(30):
                await poller.poll_once()
    looping = [b for op, b in tenants.asked if op == "ListTenantResources" and "oop" in str(b)]
    assert [body.get("NextToken") for body in looping] == [None, "7", "8"]
    assert len(pipeline.ledger.tenant_map.arns) == 3
    assert pipeline.ledger.tenant_walks.walks == {}
    assert pipeline.ledger.accounts.errors == {
        ("default", REGION, "list_tenant_resources", "EndlessList"): 1
    }
    skipped = [e for e in logs if e["event"] == "sesd.tenants.tenant_skipped"]
    assert [e["tenant"] for e in skipped] == ["looping"]


class _LongToken(LocalTenants):
    """An endpoint whose ``operation`` names, on the page with "long" in it, a next
    page by a token longer than :data:`MAX_TOKEN`; asked with it, it ends the list."""

    operation = "ListTenantResources"
    token = "t" * (MAX_TOKEN + 1)

    async def _answer(self, request: web.Request, operation: str) -> web.Response:
        asked = json.loads(await request.read() or b"{}")
        if operation == self.operation and asked.get("NextToken") == self.token:
            self.asked.append((operation, asked))
            return web.json_response({"TenantResources" if "Res" in operation else "Tenants": []})
        answer = await LocalTenants._answer(self, request, operation)
        assert isinstance(answer.body, bytes)
        found = json.loads(answer.body)
        if operation == self.operation and "long" in answer.body.decode():
            found["NextToken"] = self.token
        return web.json_response(found)


@pytest.mark.parametrize(
    ("operation", "api"),
    [("ListTenantResources", "list_tenant_resources"), ("ListTenants", "list_tenants")],
)
async def test_a_token_longer_than_any_kept_ends_its_list(operation: str, api: str) -> None:
    """A page names its next by a token of MAX_TOKEN + 1 characters (SES documents no
    bound; an endpoint that is not quite SES). It is neither asked with nor kept (a
    walk saves its token in the state file, whose size limit counts it at its bound):
    its list ends there, counted and logged as one that loops does. A tenant's
    resources are given up and the walk goes on, the map replaced; ListTenants' fails
    the walk, to start over at the next poll."""
    clock = Clock()
    pipeline = _pipeline()
    async with _LongToken(ACCOUNT, REGION) as tenants:
        tenants.operation = operation
        for name in ("acme", "long", "zeta"):
            tenants.add(name, ("CONFIGURATION_SET", f"set-{name}"))
        async with tenant_poller(
            tenants, pipeline, clock, recommendations=False, pace=1.0, sleep=clock.sleep,
            walks=pipeline.ledger.tenant_walks,
        ) as poller:  # fmt: skip
            with capture_logs(), anyio.fail_after(30):
                await poller.poll_once()
    assert [b for _, b in tenants.asked if b.get("NextToken") == tenants.token] == []
    assert pipeline.ledger.accounts.errors == {("default", REGION, api, "EndlessList"): 1}
    assert pipeline.ledger.tenant_walks.walks == {}
    assert len(pipeline.ledger.tenant_map.arns) == (3 if operation == "ListTenantResources" else 0)


async def test_a_tenants_ever_new_pages_are_bounded_across_polls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past its one resource, a tenant's ListTenantResources goes on naming a next page,
    empty, each with a token never seen before, and each call takes 100 s to answer:
    a poll's time is up after two or three of them, so the walk resumes that tenant at
    every poll. The bound on a tenant's pages (made 5 here, not to ask 10,000) counts
    over those polls, not afresh at each: the tenant is given up at its fifth page, in
    the third poll, and the map is replaced with every tenant's resources."""
    import sesd.account.tenant_walk

    monkeypatch.setattr(sesd.account.tenant_walk, "MAX_PAGES", 5)
    clock = Clock()
    pipeline = _pipeline()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.page = 1
        tenants.add("acme", ("CONFIGURATION_SET", "set-acme"))
        tenants.bottomless.add("ListTenantResources")
        tenants.transit, tenants.advance = (100.0,), clock.advance
        async with tenant_poller(
            tenants, pipeline, clock, recommendations=False, walks=pipeline.ledger.tenant_walks
        ) as poller:
            for _ in range(3):
                assert pipeline.ledger.tenant_map.arns == {}
                with anyio.fail_after(30):
                    await poller.poll_once()
    assert tenants.calls["ListTenantResources"] == 5
    assert list(pipeline.ledger.tenant_map.arns.values()) == ["acme"]
    assert pipeline.ledger.tenant_walks.walks == {}
    assert pipeline.ledger.accounts.errors == {
        ("default", REGION, "list_tenant_resources", "EndlessList"): 1
    }


async def test_each_tenants_pages_are_bounded_from_its_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two tenants whose pages never end (the bound made 5): each is given up at its
    own fifth page, the second's count starting from none when the first is done, and
    each warning names what made its pages look endless."""
    import sesd.account.tenant_walk

    monkeypatch.setattr(sesd.account.tenant_walk, "MAX_PAGES", 5)
    pipeline = _pipeline()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.page = 1
        tenants.add("acme", ("CONFIGURATION_SET", "set-acme"))
        tenants.add("globex", ("CONFIGURATION_SET", "set-globex"))
        tenants.bottomless.add("ListTenantResources")
        async with tenant_poller(
            tenants, pipeline, Clock(), recommendations=False, walks=pipeline.ledger.tenant_walks
        ) as poller:
            with capture_logs() as logs, anyio.fail_after(30):
                await poller.poll_once()
    assert tenants.calls["ListTenantResources"] == 10
    skipped = [line for line in logs if line["event"] == "sesd.tenants.tenant_skipped"]
    assert [line["tenant"] for line in skipped] == ["acme", "globex"]
    assert all(line["hint"].startswith("ListTenantResources named ") for line in skipped)
    assert sorted(pipeline.ledger.tenant_map.arns.values()) == ["acme", "globex"]
    assert pipeline.ledger.accounts.errors == {
        ("default", REGION, "list_tenant_resources", "EndlessList"): 2
    }


class _Breaking(LocalTenants):
    """An endpoint whose list ``breaking`` is throttled at every call after its first
    ``answers`` pages of a poll (:meth:`next_poll` starts a poll's count)."""

    breaking = ""
    answers = 3
    answered = 0

    async def _answer(self, request: web.Request, operation: str) -> web.Response:
        answer = await LocalTenants._answer(self, request, operation)
        if operation == self.breaking and answer.status == 200:
            self.answered += 1
            if self.answered >= self.answers:
                self.throttled.add(operation)
        return answer

    def next_poll(self) -> None:
        self.answered = 0
        self.throttled.clear()


@pytest.mark.parametrize(
    ("operation", "api"),
    [
        ("ListReputationEntities", "list_reputation_entities"),
        ("ListRecommendations", "list_recommendations"),
        ("ListTenants", "list_tenants"),
    ],
)
async def test_a_list_of_ever_new_pages_broken_at_each_poll_is_bounded_across_polls(
    monkeypatch: pytest.MonkeyPatch, operation: str, api: str
) -> None:
    """A list goes on naming a next page, each with a token never seen before, and is
    throttled (each try) after three pages a poll: each poll resumes it where the last
    one broke. The bound on its pages (made 5 here, not to ask 10,000) counts over
    those polls, not afresh at each, or such a list would never reach it: the list is
    given up as endless at its sixth page, in the second poll, and the third poll
    starts it over from its first page."""
    import sesd.account.tenants

    monkeypatch.setattr(sesd.account.tenants, "MAX_PAGES", 5)
    clock = Clock()
    pipeline = _pipeline()
    async with _Breaking(ACCOUNT, REGION) as tenants:
        tenants.page, tenants.breaking = 1, operation
        tenants.add("acme", ("CONFIGURATION_SET", "set-acme"))
        tenants.bottomless.add(operation)
        async with tenant_poller(tenants, pipeline, clock, recommendations=True) as poller:
            for _ in range(2):
                tenants.next_poll()
                with anyio.fail_after(30):
                    await poller.poll_once()
            errors = pipeline.ledger.accounts.errors
            assert errors.get(("default", REGION, api, "EndlessList")) == 1, errors
            asked = [body.get("NextToken") for op, body in tenants.asked if op == operation]
            assert asked[-1] == "5"  # the sixth page, the first five counted in the first poll
            tenants.next_poll()
            before = len(tenants.asked)
            with anyio.fail_after(30):
                await poller.poll_once()
            first = _first(tenants, before, operation)
            assert first is not None
            assert "NextToken" not in first


async def test_a_regions_unforeseen_fault_cancels_no_other_regions_poll() -> None:
    """Two regions' tenants polled side by side: eu-west-1's statuses are under way when
    us-east-1's poll meets a fault sesd did not foresee (here KeyError). eu-west-1's
    poll ends and its pause is read; the fault is raised once the round is over, for
    the task's keeper to count and log, rather than cancelling the healthy region's
    poll with it (its pauses unread every round the fault came back)."""
    other = ("default", "us-east-1")
    clock = Clock()
    pipeline = _pipeline()
    ledger = pipeline.ledger
    started, go = anyio.Event(), anyio.Event()
    async with LocalTenants(ACCOUNT, REGION) as tenants:
        tenants.add("t00", ("CONFIGURATION_SET", "set-00"))
        tenants.pause("t00", "The bounce rate exceeded 15.0%.")
        async with get_session().create_client(
            "sesv2", region_name=REGION, endpoint_url=tenants.url,
            aws_access_key_id="testing", aws_secret_access_key="testing",
            config=tenant_config(),
        ) as ses:  # fmt: skip

            class Held:
                """eu-west-1's client: its first list waits for the other's fault."""

                def __getattr__(self, name: str) -> Any:
                    return getattr(ses, name)

                async def list_reputation_entities(self, **kwargs: Any) -> Any:
                    started.set()
                    await go.wait()
                    return await ses.list_reputation_entities(**kwargs)

            class Broken:
                """us-east-1's client: its first list meets the fault."""

                def __getattr__(self, name: str) -> Any:
                    return getattr(ses, name)

                async def list_reputation_entities(self, **kwargs: Any) -> Any:
                    await started.wait()
                    go.set()
                    raise KeyError("a field sesd did not foresee missing")

            async def client_for(service: str, target: tuple[str, str]) -> Any:
                return Held() if target == TARGET else Broken()

            poller = TenantPoller(
                [TARGET, other], client_for, ledger.accounts, ledger.tenant_map,
                ledger.tenant_status, every=300, clock=clock, recommendations=False,
            )  # fmt: skip
            with anyio.fail_after(10), pytest.raises(ExceptionGroup) as raised:
                await poller.poll_once()
    assert raised.value.subgroup(KeyError) is not None
    assert ledger.tenant_status.status[("default", REGION, "t00")].paused
