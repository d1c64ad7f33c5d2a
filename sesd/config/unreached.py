"""What a log line says of an endpoint nothing answers at (a connection refused, a host
not found, a connect timed out): the endpoint tried, and which setting chose it, so an
endpoint_url on a wrong port is seen as such, not read as AWS's trouble. One wording
for every client: SQS's receive and checks, the account health and tenant polls."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Final
from urllib.parse import urlparse

from botocore.exceptions import EndpointConnectionError

from sesd.config.aws import endpoint_of_url, region_of_url
from sesd.core.shown_urls import shown_origin
from sesd.core.text import clean

__all__ = ["CLOUDWATCH", "SES", "SES_TENANTS", "SQS", "Chooser", "unreached"]


@dataclass(frozen=True, slots=True)
class Chooser:
    """What chooses a client's endpoint, as a hint names it."""

    #: The service as people name it (SQS, SES, CloudWatch).
    service: str
    #: sesd's settings of its endpoint, the one that wins first.
    settings: tuple[str, ...]
    #: botocore's variable of the service's own endpoint (AWS_ENDPOINT_URL_ and its
    #: service id), read before $AWS_ENDPOINT_URL when no setting gives one.
    variable: str
    #: Whose region the SDK's own endpoint is: "the queue's", "the account's".
    whose: str
    #: The region an endpoint of AWS's for the service names (None: not AWS's host).
    region_of: Callable[[str], str | None]
    #: The endpoint, when AWS's but not its region's public one (a VPC endpoint, FIPS,
    #: dual-stack): a setting chose it (the SDK chooses only the public one by itself).
    special: Callable[[str], str | None]


#: The DNS suffixes of AWS's partitions, as botocore's partitions.json gives them: a
#: region's public and FIPS hosts (aws and aws-us-gov, aws-cn, aws-eusc and the
#: isolated ones), and its dual-stack hosts. China's dual-stack hosts are not api.aws:
#: read as no host of AWS's, one was told a setting's, "a local CloudWatch".
_SUFFIX: Final = (
    r"amazonaws\.com|amazonaws\.com\.cn|amazonaws\.eu|c2s\.ic\.gov|sc2s\.sgov\.gov"
    r"|cloud\.adc-e\.uk|csp\.hci\.ic\.gov"
)
_DUAL_SUFFIX: Final = (
    r"api\.aws|api\.amazonwebservices\.com\.cn|api\.amazonwebservices\.eu|api\.aws\.ic\.gov"
    r"|api\.aws\.scloud|api\.cloud-aws\.adc-e\.uk|api\.aws\.hci\.ic\.gov"
)
#: A service's hosts at AWS: public and FIPS (NAME[-fips].REGION.amazonaws.com),
#: dual-stack (NAME[-fips].REGION.api.aws), an interface VPC endpoint
#: (vpce-ID.NAME.REGION.vpce.amazonaws.com); each in every partition.
_HOST: Final = (
    rf"(?:{{0}}(?P<fips>-fips)?\.(?P<a>[a-z0-9-]+)\.(?:(?:{_SUFFIX})|(?P<dual>{_DUAL_SUFFIX})))"
    rf"|(?:vpce-[a-z0-9-]+\.{{0}}\.(?P<vpce>[a-z0-9-]+)\.vpce\.(?:{_SUFFIX}))"
)


def _found(name: str, url: str) -> re.Match[str] | None:
    host = (urlparse(url).hostname or "").lower()
    return re.fullmatch(_HOST.format(re.escape(name)), host)


def _region(name: str, url: str) -> str | None:
    found = _found(name, url)
    return None if found is None else found.group("a") or found.group("vpce")


def _special(name: str, url: str) -> str | None:
    found = _found(name, url)
    if found is None or not (found.group("vpce") or found.group("fips") or found.group("dual")):
        return None
    return url


#: SQS's hosts include the legacy REGION.queue.amazonaws.com (sesd.config.aws).
SQS: Final = Chooser(
    "SQS", ("[aws] endpoint_url",), "AWS_ENDPOINT_URL_SQS", "the queue's",
    region_of_url, endpoint_of_url,
)  # fmt: skip
SES: Final = Chooser(
    "SES", ("[account_health] ses_endpoint_url", "[aws] endpoint_url"),
    "AWS_ENDPOINT_URL_SESV2", "the account's",
    partial(_region, "email"), partial(_special, "email"),
)  # fmt: skip
#: The tenant polls' SES: the same service, chosen by [tenants]' own setting first.
SES_TENANTS: Final = replace(SES, settings=("[tenants] endpoint_url", "[aws] endpoint_url"))
CLOUDWATCH: Final = Chooser(
    "CloudWatch", ("[account_health] cloudwatch_endpoint_url", "[aws] endpoint_url"),
    "AWS_ENDPOINT_URL_CLOUDWATCH", "the account's",
    partial(_region, "monitoring"), partial(_special, "monitoring"),
)  # fmt: skip


def unreached(exc: BaseException, chooser: Chooser, named: str = "") -> str | None:
    """What a log line says of ``exc`` when nothing answered at its endpoint: the
    endpoint tried and which setting chose it (``named``: what chose it, when no
    setting did: a queue's URL naming a VPC endpoint); None for other errors."""
    if not isinstance(exc, EndpointConnectionError):
        return None
    endpoint = str(exc.kwargs.get("endpoint_url", ""))
    shown = clean(shown_origin(endpoint), 300)  # no password, no token in a query
    first, *rest = chooser.settings
    # An endpoint_url given to the client wins over botocore's variables.
    chain = ", ".join([*rest, f"${chooser.variable}"])
    if named:
        whose = named
    elif chooser.region_of(endpoint) is None:
        # The SDK chooses only AWS's hosts by itself: another is a setting's.
        whose = (
            f"the endpoint {first} (else {chain} or $AWS_ENDPOINT_URL) gives: check its "
            f"host and port, and that what serves there (a local {chooser.service}) runs"
        )
    elif chooser.special(endpoint):
        # AWS's, but not the region's public host: a setting chose it, not the region.
        whose = (
            f"the endpoint {first} (else {chain}, $AWS_ENDPOINT_URL or "
            "$AWS_USE_FIPS_ENDPOINT) gives (a VPC endpoint, FIPS or dual-stack): check "
            "that this network reaches it (DNS, a security group, a proxy)"
        )
    else:
        whose = (
            f"{chooser.service}'s endpoint for {chooser.whose} region: check that this "
            "network reaches it (DNS, a firewall, $HTTPS_PROXY)"
        )
    return f"nothing answers at {shown}, {whose}"
