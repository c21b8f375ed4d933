"""Where each hash of a growing tree is stored, and which stored hashes a root or proof needs.

The layout is Go's ``sumdb/tlog`` one: every complete subtree hash gets a permanent index, in
the order the hashes become known, so appending never rewrites anything and costs amortized two
hash writes per leaf. A root or a proof of a tree of size n is assembled from O(log n) stored
hashes, read in one batch through a ``HashReader`` (the storage layer's job).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tlog.hashing import node_hash

HashReader = Callable[[Sequence[int]], Sequence[bytes]]
"""Returns the stored hashes at the given indexes, in the same order."""

Range = tuple[int, int]
"""Leaves [lo, hi) of the tree."""


def stored_hash_index(level: int, n: int) -> int:
    """Index of the n-th hash at ``level`` (level 0 holds leaf hashes)."""
    # Level L's n-th hash is written right after level 0's ((n+1) << L) - 1 -th leaf hash; the
    # level-0 leaf k sits after k + k/2 + k/4 + ... = 2k - popcount(k) earlier hashes.
    k = ((n + 1) << level) - 1
    return 2 * k - k.bit_count() + level


def stored_hash_count(size: int) -> int:
    """How many hashes a tree of ``size`` leaves has stored."""
    return 2 * size - size.bit_count()


def largest_power_of_two_below(n: int) -> int:
    """The k of RFC 9162: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def complete_subtrees(lo: int, hi: int) -> list[tuple[int, int]]:
    """Split [lo, hi) into the maximal aligned complete subtrees, as (level, index) pairs.

    Only valid for the ranges RFC 9162 proofs name, whose ``lo`` is aligned to the largest
    subtree that fits: that is the case for every range produced by this module.
    """
    out: list[tuple[int, int]] = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        while lo & ((1 << level) - 1):
            level -= 1
        out.append((level, lo >> level))
        lo += 1 << level
    return out


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees whose hashes form the RFC 9162 §2.1.3.1 inclusion proof, leaf level first."""
    out: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = largest_power_of_two_below(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo = lo + k
    out.reverse()
    return out


def consistency_ranges(first: int, second: int) -> list[Range]:
    """The subtrees whose hashes form the RFC 9162 §2.1.4.1 consistency proof, in proof order."""
    out: list[Range] = []
    lo, hi, m, complete = 0, second, first, True
    while m != hi:
        k = largest_power_of_two_below(hi - lo)
        if m - lo <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo = lo + k
            complete = False
    if not complete:
        out.append((lo, hi))
    out.reverse()
    return out


def _hashes_for_ranges(ranges: Sequence[Range], read: HashReader) -> list[bytes]:
    """Read every stored hash the ranges need in one batch and fold each range into its hash."""
    parts = [complete_subtrees(lo, hi) for lo, hi in ranges]
    indexes = [stored_hash_index(level, n) for part in parts for level, n in part]
    stored = list(read(indexes))
    if len(stored) != len(indexes):
        raise LookupError(f"hash reader returned {len(stored)} of {len(indexes)} hashes")
    out: list[bytes] = []
    pos = 0
    for part in parts:
        chunk = stored[pos : pos + len(part)]
        pos += len(part)
        acc = chunk[-1]
        for h in reversed(chunk[:-1]):
            acc = node_hash(h, acc)
        out.append(acc)
    return out


def tree_hash(size: int, read: HashReader) -> bytes:
    """Root of the first ``size`` leaves (size > 0; the empty root is ``EMPTY_ROOT``)."""
    if size <= 0:
        raise ValueError("tree_hash needs size > 0")
    return _hashes_for_ranges([(0, size)], read)[0]


def inclusion_proof(index: int, size: int, read: HashReader) -> list[bytes]:
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    return _hashes_for_ranges(inclusion_ranges(index, size), read)


def consistency_proof(first: int, second: int, read: HashReader) -> list[bytes]:
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    return _hashes_for_ranges(consistency_ranges(first, second), read)


@dataclass
class Frontier:
    """The right edge of a tree: the complete subtrees of its binary decomposition.

    Appending a leaf to it yields exactly the stored hashes that leaf completes, so a batch of
    appends needs only the O(log n) frontier hashes read once beforehand.
    """

    size: int = 0
    # (level, hash), largest subtree first
    subtrees: list[tuple[int, bytes]] = field(default_factory=list)

    @staticmethod
    def load(size: int, read: HashReader) -> "Frontier":
        parts = complete_subtrees(0, size)
        hashes = read([stored_hash_index(level, n) for level, n in parts])
        return Frontier(size, [(level, h) for (level, _), h in zip(parts, hashes, strict=True)])

    def append(self, leaf: bytes) -> list[tuple[int, bytes]]:
        """Add a leaf hash; return the new (stored index, hash) pairs, in index order."""
        index = self.size
        level, h = 0, leaf
        new = [(stored_hash_index(0, index), h)]
        while self.subtrees and self.subtrees[-1][0] == level:
            _, left = self.subtrees.pop()
            h = node_hash(left, h)
            level += 1
            new.append((stored_hash_index(level, index >> level), h))
        self.subtrees.append((level, h))
        self.size += 1
        return new

    def root(self) -> bytes:
        if not self.subtrees:
            raise ValueError("empty tree")
        acc = self.subtrees[-1][1]
        for _, h in reversed(self.subtrees[:-1]):
            acc = node_hash(h, acc)
        return acc
