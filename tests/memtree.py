"""An in-memory stored tree (the same layout the database uses) for pure tests."""

from tlog import layout
from tlog.hashing import leaf_hash


class MemTree:
    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self.hashes: dict[int, bytes] = {}
        frontier = layout.Frontier()
        for leaf in leaves:
            self.hashes.update(frontier.append(leaf_hash(leaf)))

    def read(self, indexes: object) -> list[bytes]:
        return [self.hashes[i] for i in indexes]  # type: ignore[attr-defined]

    def root(self, size: int) -> bytes:
        return layout.tree_hash(size, self.read)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return layout.inclusion_proof(index, size, self.read)

    def consistency(self, first: int, second: int) -> list[bytes]:
        return layout.consistency_proof(first, second, self.read)


def numbered_leaves(n: int, prefix: str = "leaf-") -> list[bytes]:
    return [f"{prefix}{i}".encode() for i in range(n)]
