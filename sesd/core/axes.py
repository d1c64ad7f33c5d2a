"""The axes sesd counts and alerts along, by their Prometheus label names: a module
of their own, so that what only names an axis (a figure's wording, ``sesd status``)
loads none of the windows that count along them (sesd.core.scopes)."""

from __future__ import annotations

from typing import Final

__all__ = ["ACCOUNT", "DOMAIN", "PROVIDER", "TENANT"]

DOMAIN: Final = "domain"
PROVIDER: Final = "provider"
TENANT: Final = "tenant"
#: Alerts of an (account, region) (rules on account health): not a scope of windows.
ACCOUNT: Final = "account"
