"""Keys given a value that nothing reads: a section left off by its own switch.
``[tenants]`` is off unless ``enabled = true``: its other keys, written as if that
turned it on, would be taken without a word and no tenant counted. ``[providers]`` and
``[account_health]`` are on unless ``enabled = false``: keys tuned beside that switch
(nameservers, a poll's period) do nothing, which an operator who turned it off for a
while and tuned it meanwhile would not otherwise learn. So do keys beside a switch
within a section that only matter while it is on: ``[account_health]
cloudwatch_endpoint_url`` with ``cloudwatch = false``, ``[state] save_every`` with no
``path``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from sesd.config import Config

__all__ = ["unread_warnings"]

#: Each section with an ``enabled`` switch, and what is not done while it is off.
_SWITCHED: Final = {
    "tenants": "no tenant is counted, nor what SES says of it polled",
    "providers": "no recipient domain's MX is looked up, nor any mailbox provider counted",
    "account_health": "SES's view of no account is polled (SESv2 GetAccount, CloudWatch)",
}
#: Each switch within a section (the section, the key whose false or missing value
#: turns a part off, as a config writes that), the keys read only while that part is
#: on, what is not done, and the other way to make them read.
_INNER: Final = (
    (
        "account_health",
        "cloudwatch",
        "cloudwatch = false",
        ("cloudwatch_endpoint_url",),
        "AWS/SES Reputation.* metrics are not read from CloudWatch",
        "set cloudwatch = true",
    ),
    (
        "state",
        "path",
        "no path (no state file is kept)",
        ("save_every",),
        "nothing is saved, nor restored at a restart",
        "give a path",
    ),
)


def unread_warnings(config: Config) -> list[str]:
    """A warning for each section turned off whose other keys are given other than their
    defaults, naming them, on the first of them (a key left at its default cannot be
    told from one not written: a rule on what the section counts is refused the same,
    by its own check)."""
    found = []
    for name, undone in _SWITCHED.items():
        section = getattr(config, name)
        if section.enabled:
            continue
        default = type(section)()
        given = [
            key
            for key in type(section).__struct_encode_fields__
            if key != "enabled" and getattr(section, key) != getattr(default, key)
        ]
        if not given:
            continue
        keys = " and ".join([", ".join(given[:-1]), given[-1]] if len(given) > 1 else given)
        many = len(given) > 1
        if default.enabled:
            off, fix = "is turned off (enabled = false)", f"remove {'them' if many else 'it'}, or"
        else:
            off, fix = "is not enabled (enabled = false, the default)", ""
        found.append(
            f"{name}.{given[0]}: [{name}] {off}, so {keys} {'are' if many else 'is'} read by "
            f"nothing: {undone}; {fix + ' ' if fix else ''}set enabled = true"
        )
    return found + _inner_warnings(config)


def _inner_warnings(config: Config) -> list[str]:
    """A warning for each key given other than its default beside a switch within its
    section that turns off what the key tunes (a section off altogether is said above)."""
    found = []
    for name, key, switch, keys, undone, fix in _INNER:
        section = getattr(config, name)
        if getattr(section, "enabled", True) is False or getattr(section, key):
            continue
        default = type(section)()
        given = [key for key in keys if getattr(section, key) != getattr(default, key)]
        if not given:
            continue
        many = len(given) > 1
        found.append(
            f"{name}.{given[0]}: [{name}] has {switch}, so {' and '.join(given)} "
            f"{'are' if many else 'is'} read by nothing: {undone}; remove "
            f"{'them' if many else 'it'}, or {fix}"
        )
    return found
