"""Contract state: a key-value view, an overlay of pending writes, and the state root."""

import hashlib
from collections.abc import Mapping
from typing import Any, Protocol

from signing.canonical import canonical_json

JSON = Any


class StateView(Protocol):
    def get(self, key: str) -> JSON | None: ...


class Overlay:
    """Writes of the block so far on top of committed state: later transactions see them."""

    def __init__(self, base: StateView) -> None:
        self.base = base
        self.writes: dict[str, JSON] = {}

    def get(self, key: str) -> JSON | None:
        if key in self.writes:
            return self.writes[key]
        return self.base.get(key)

    def put(self, key: str, value: JSON) -> None:
        self.writes[key] = value


class DictState:
    """State held in a dict: genesis, tests and simulations."""

    def __init__(self, data: Mapping[str, JSON] | None = None) -> None:
        self.data = dict(data or {})

    def get(self, key: str) -> JSON | None:
        return self.data.get(key)


def next_state_root(previous: bytes, height: int, writes: Mapping[str, JSON]) -> bytes:
    """Commit to the state by chaining each block's writes onto the previous root.

    Replaying the log from genesis reproduces every root exactly; a changed write anywhere
    changes every later root. (A root that also proves single keys is future work.)
    """
    change = canonical_json({"height": height, "writes": dict(sorted(writes.items()))})
    return hashlib.sha256(
        b"shanhe-state-v1\n" + previous + hashlib.sha256(change).digest()
    ).digest()


GENESIS_STATE_ROOT = hashlib.sha256(b"shanhe-state-v1\ngenesis").digest()
