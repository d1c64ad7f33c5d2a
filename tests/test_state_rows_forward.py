"""A state file of this format version from a later build that added an item to the
rows of the ledger's stores (a canary's, a pending delay's, an account's): the rows
read as this build's own. The rule for later builds is sesd.runtime.state_alerts';
the alert states' own rows are tested in tests/test_state_forward.py."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from sesd.config import core_settings, parse_config
from sesd.core.ledger import Ledger
from sesd.core.tenants import TenantStatus
from tests import factory as f
from tests.test_ledger import CONFIG, _canonical, _filled

#: Each store saved as rows, by where its rows are in the document.
ROWS: dict[str, Callable[[dict[str, Any]], list[list[Any]]]] = {
    "providers": lambda data: data["providers"],
    "tag_windows": lambda data: data["tag_windows"],
    "pending": lambda data: data["pending"]["pending"],
    "resolved": lambda data: data["pending"]["resolved"],
    "gave_up": lambda data: data["pending"]["gave_up"],
    "refused": lambda data: data["pending"]["refused"],
    "tenant_map": lambda data: data["tenant_map"],
    "canaries": lambda data: data["canaries"],
    "accounts": lambda data: data["accounts"],
    "tenant_status": lambda data: data["tenant_status"],
    "tenant_walks": lambda data: data["tenant_walks"],
}


def _saved() -> dict[str, Any]:
    """A ledger with every store filled, as the state file holds it."""
    ledger = _filled().ledger
    key = ("prod-eu", "eu-west-1", "acme")
    ledger.tenant_status.status[key] = TenantStatus(sending="DISABLED", updated=f.T0 - 9)
    data: dict[str, Any] = msgspec.msgpack.decode(msgspec.msgpack.encode(ledger.snapshot(f.T0)))
    data["pending"]["gave_up"] = [[12345, f.T0 - 100]]
    data["pending"]["refused"] = [[int(f.T0 // 600), 2]]
    return data


def _restored(data: dict[str, Any]) -> Ledger:
    ledger = Ledger(core_settings(parse_config(CONFIG)))
    ledger.restore(data, f.T0)
    return ledger


@pytest.mark.parametrize("store", list(ROWS))
def test_an_item_a_later_build_added_to_a_store_s_rows_is_not_read(store: str) -> None:
    """Each row of ``store`` with an item after those this build saves: restored as
    without it, nothing read into a field this build does not save (a canary's tenth
    item is not its code), rather than the file refused and every window lost."""
    plain = _saved()
    later = copy.deepcopy(plain)
    rows = ROWS[store](later)
    assert rows, f"{store} saved no row to add to"
    for row in rows:
        row.append(["a later build's", 1])
    was, now = _restored(plain), _restored(later)
    assert _canonical(now.snapshot(f.T0)) == _canonical(was.snapshot(f.T0))
    assert now.canary.canaries == was.canary.canaries
    assert now.tenant_status.status == was.tenant_status.status


def _maps(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The maps of the document whose keys the ledger reads by name."""
    windows = [*data["windows"].values(), *(w for _, _, w in data["tag_windows"])]
    windows += [w for scope in data["scopes"].values() for w in scope.values()]
    return [
        data, data["pending"], data["dedup"],
        *windows, *(ring for w in windows for ring in w["rings"]),
        *(row[-1] for key in ("accounts", "tenant_status", "tenant_walks") for row in data[key]),
    ]  # fmt: skip


def test_a_key_a_later_build_added_to_a_map_is_not_read() -> None:
    """A key added to the document, to the pending delays', the duplicate filter's, each
    window's and each ring's maps, and to what an account, a tenant and a walk save:
    restored as without it."""
    plain = _saved()
    later = copy.deepcopy(plain)
    for saved in _maps(later):
        saved["a_later_key"] = [1, "x"]
    was, now = _restored(plain), _restored(later)
    assert _canonical(now.snapshot(f.T0)) == _canonical(was.snapshot(f.T0))
    assert now.tenant_status.status == was.tenant_status.status
    assert now.accounts.status == was.accounts.status
