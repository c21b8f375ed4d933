"""A naive RFC 9162 §2.1 reference, straight from the recursive definitions, for property tests."""

from tlog.hashing import EMPTY_ROOT, leaf_hash, node_hash
from tlog.layout import largest_power_of_two_below


def mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hash(leaves[0])
    k = largest_power_of_two_below(n)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return [*subproof(m, leaves[:k], complete), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def proof(m: int, leaves: list[bytes]) -> list[bytes]:
    return subproof(m, leaves, True)
