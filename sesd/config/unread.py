"""Keys given a value that nothing reads: a section left off by its own switch.
``[tenants]`` is off unless ``enabled = true``: its other keys, written as if that
turned it on, would be taken without a word and no tenant counted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sesd.config.sections import TenantsConfig

if TYPE_CHECKING:
    from sesd.config import Config

__all__ = ["unread_warnings"]


def unread_warnings(config: Config) -> list[str]:
    """A warning naming the keys of ``[tenants]`` given other than their defaults while
    it is not enabled, on the first of them (a key left at its default cannot be told
    from one not written: a rule on tenants is refused the same, by its own check)."""
    tenants = config.tenants
    if tenants.enabled:
        return []
    default = TenantsConfig()
    given = [
        key
        for key in TenantsConfig.__struct_encode_fields__
        if key != "enabled" and getattr(tenants, key) != getattr(default, key)
    ]
    if not given:
        return []
    keys = " and ".join([", ".join(given[:-1]), given[-1]] if len(given) > 1 else given)
    return [
        f"tenants.{given[0]}: [tenants] is not enabled (enabled = false, the default), so "
        f"{keys} {'are' if len(given) > 1 else 'is'} read by nothing: no tenant is counted, "
        "nor what SES says of it polled; set enabled = true"
    ]
