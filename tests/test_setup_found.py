"""``sesd setup`` on what a user (or an older setup) left: an event destination of its
own name, an encrypted queue, a subscription with a filter. SES's configuration sets
are the fake's (tests/fake_ses.py: moto keeps one event destination a set and cannot
update one); SNS and SQS are moto's."""

from __future__ import annotations

import re
import uuid

from aiohttp import web

from sesd.commands.demo.localhttp import LocalServer
from sesd.commands.demo.localsqs import LocalSqs
from sesd.commands.provision import EVENT_TYPES, SetupOptions, run_setup
from tests.fake_ses import FakeSes
from tests.test_setup_partial import passed_on


class SesApart(LocalServer):
    """One endpoint for setup's three clients: what SES signed goes to the fake, the
    rest (SNS, SQS) to moto's server."""

    def __init__(self, ses: str, upstream: str) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self._ses, self._upstream = ses, upstream

    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/{tail:.*}", self._forward)

    async def _forward(self, request: web.Request) -> web.Response:
        signed = request.headers.get("Authorization", "")
        ses = re.search(r"Credential=[^/]+/[^/]+/[^/]+/ses/", signed)
        to = self._ses if ses else self._upstream
        return await passed_on(request, to, await request.read())


async def test_an_event_destination_keeps_the_types_the_user_added(local_sqs: LocalSqs) -> None:
    """The user turned on open and click events in setup's event destination (sesd
    counts them) and lost Bounce: a second run puts Bounce back and keeps open and
    click, rather than taking them away as "what differs"; a third run changes
    nothing. One that publishes every type setup asks for, and more, is left alone."""
    name = f"e{uuid.uuid4().hex[:8]}"
    async with FakeSes() as ses, SesApart(ses.url, local_sqs.url) as endpoint:
        options = SetupOptions(name=name, endpoint_url=endpoint.url)
        await run_setup(options)
        (destination,) = ses.configuration_sets[name].values()
        assert set(destination["MatchingEventTypes"]) == set(EVENT_TYPES)
        kept = [t for t in EVENT_TYPES if t != "bounce"]
        destination["MatchingEventTypes"] = [*kept, "open", "click"]

        again = await run_setup(options)
        changed = [(action, kind) for action, kind, _ in again.steps if action != "found"]
        assert changed == [("updated", "SES event destination (SNS)")]
        (destination,) = ses.configuration_sets[name].values()
        assert set(destination["MatchingEventTypes"]) == {*EVENT_TYPES, "open", "click"}
        assert not (await run_setup(options)).changed


async def test_an_event_destination_turned_off_or_elsewhere_is_put_right(
    local_sqs: LocalSqs,
) -> None:
    """setup's event destination disabled, or sending to another topic: a run turns it
    back on, to setup's topic, and reports it updated (SES's update call, which moto
    lacks, answered as SES answers it)."""
    name = f"o{uuid.uuid4().hex[:8]}"
    async with FakeSes() as ses, SesApart(ses.url, local_sqs.url) as endpoint:
        options = SetupOptions(name=name, endpoint_url=endpoint.url)
        await run_setup(options)
        (destination,) = ses.configuration_sets[name].values()
        topic = destination["SNSDestination"]["TopicARN"]
        destination["Enabled"] = False
        destination["SNSDestination"]["TopicARN"] = "arn:aws:sns:us-east-1:123456789012:other"

        again = await run_setup(options)
        changed = [(action, kind) for action, kind, _ in again.steps if action != "found"]
        assert changed == [("updated", "SES event destination (SNS)")]
        (destination,) = ses.configuration_sets[name].values()
        assert destination["Enabled"] is True
        assert destination["SNSDestination"]["TopicARN"] == topic
        assert not (await run_setup(options)).changed
