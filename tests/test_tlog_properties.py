"""The stored layout and the verifiers against a naive recursive RFC 9162 reference."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests import reference
from tests.memtree import MemTree, numbered_leaves
from tlog import layout
from tlog.hashing import leaf_hash
from tlog.verify import (
    consistency_proof_length,
    inclusion_proof_length,
    verify_consistency,
    verify_inclusion,
)

MAX = 300
LEAVES = numbered_leaves(MAX, "p-")
TREE = MemTree(LEAVES)


def test_every_root_up_to_max_matches_reference() -> None:
    for n in range(1, MAX + 1):
        assert TREE.root(n) == reference.mth(LEAVES[:n]), n


def test_frontier_root_matches_stored_root_and_reloads() -> None:
    frontier = layout.Frontier()
    for n, leaf in enumerate(LEAVES, 1):
        frontier.append(leaf_hash(leaf))
        assert frontier.root() == TREE.root(n)
        assert layout.Frontier.load(n, TREE.read) == frontier


def test_every_proof_up_to_64_matches_reference() -> None:
    for n in range(1, 65):
        for m in range(n):
            assert TREE.inclusion(m, n) == reference.path(m, LEAVES[:n])
        for m in range(1, n):
            assert TREE.consistency(m, n) == reference.proof(m, LEAVES[:n])


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(1, MAX))
    return n, draw(st.integers(0, n - 1))


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(2, MAX))
    return draw(st.integers(1, n - 1)), n


@settings(max_examples=300, deadline=None)
@given(size_and_index())
def test_inclusion_proof_matches_reference_and_verifies(case: tuple[int, int]) -> None:
    n, m = case
    proof = TREE.inclusion(m, n)
    assert proof == reference.path(m, LEAVES[:n])
    assert len(proof) == inclusion_proof_length(m, n)
    assert verify_inclusion(m, n, leaf_hash(LEAVES[m]), proof, TREE.root(n)) is None


@settings(max_examples=300, deadline=None)
@given(two_sizes())
def test_consistency_proof_matches_reference_and_verifies(case: tuple[int, int]) -> None:
    m, n = case
    proof = TREE.consistency(m, n)
    assert proof == reference.proof(m, LEAVES[:n])
    assert len(proof) == consistency_proof_length(m, n)
    assert verify_consistency(m, n, TREE.root(m), TREE.root(n), proof) is None


def _shape(m: int, n: int) -> list[bool]:
    """For each hash of the path of leaf m in a tree of size n: does it stand to the left?"""
    return [lo < m for lo, _ in layout.inclusion_ranges(m, n)]


def _consistency_shape(m: int, n: int) -> list[bool]:
    return [lo < m for lo, _ in layout.consistency_ranges(m, n)]


def _flips(hashes: list[bytes]) -> list[list[bytes]]:
    """Every proof that differs from ``hashes`` in exactly one bit."""
    out = []
    for i, h in enumerate(hashes):
        for bit in range(len(h) * 8):
            mutated = bytearray(h)
            mutated[bit // 8] ^= 1 << (bit % 8)
            out.append([*hashes[:i], bytes(mutated), *hashes[i + 1 :]])
    return out


def _flip_all(h: bytes) -> list[bytes]:
    return [p[0] for p in _flips([h])]


@pytest.mark.parametrize(("m", "n"), [(0, 1), (0, 7), (5, 8), (6, 7), (12, 13), (100, 257)])
def test_inclusion_rejects_every_mutation(m: int, n: int) -> None:
    leaf, root, proof = leaf_hash(LEAVES[m]), TREE.root(n), TREE.inclusion(m, n)
    assert verify_inclusion(m, n, leaf, proof, root) is None
    for bad in _flips(proof):
        assert verify_inclusion(m, n, leaf, bad, root) is not None
    for bad_leaf in _flip_all(leaf):
        assert verify_inclusion(m, n, bad_leaf, proof, root) is not None
    for bad_root in _flip_all(root):
        assert verify_inclusion(m, n, leaf, proof, bad_root) is not None
    for other in range(n + 2):
        if other != m:
            assert verify_inclusion(other, n, leaf, proof, root) is not None
    for size in range(1, 2 * n + 2):
        if size != n:
            # RFC 9162 paths do not bind the size: where the path has the same shape the same root
            # comes out, and only the signed checkpoint ties that root to its size.
            same_shape = m < size and _shape(m, size) == _shape(m, n)
            assert (verify_inclusion(m, size, leaf, proof, root) is None) == same_shape
    if proof:
        assert verify_inclusion(m, n, leaf, proof[:-1], root) is not None
        assert verify_inclusion(m, n, leaf, proof[1:], root) is not None
    assert verify_inclusion(m, n, leaf, [*proof, proof[0] if proof else leaf], root) is not None
    assert verify_inclusion(m, n, leaf, [root, *proof], root) is not None
    if proof:
        assert verify_inclusion(m, n, leaf, [proof[0][:31], *proof[1:]], root) is not None


@pytest.mark.parametrize(("m", "n"), [(1, 2), (1, 8), (3, 7), (4, 8), (6, 13), (7, 8), (100, 257)])
def test_consistency_rejects_every_mutation(m: int, n: int) -> None:
    r1, r2, proof = TREE.root(m), TREE.root(n), TREE.consistency(m, n)
    assert verify_consistency(m, n, r1, r2, proof) is None
    for bad in _flips(proof):
        assert verify_consistency(m, n, r1, r2, bad) is not None
    for bad_root in _flip_all(r1):
        assert verify_consistency(m, n, bad_root, r2, proof) is not None
    for bad_root in _flip_all(r2):
        assert verify_consistency(m, n, r1, bad_root, proof) is not None
    for size in range(0, 2 * n + 2):
        if size != m:
            assert verify_consistency(size, n, r1, r2, proof) is not None
        if size != n:
            same_shape = m < size and _consistency_shape(m, size) == _consistency_shape(m, n)
            assert (verify_consistency(m, size, r1, r2, proof) is None) == same_shape
    assert verify_consistency(m, n, r1, r2, proof[:-1]) is not None
    assert verify_consistency(m, n, r1, r2, proof[1:]) is not None
    assert verify_consistency(m, n, r1, r2, [*proof, proof[0]]) is not None
    assert verify_consistency(m, n, r1, r2, [r1, *proof]) is not None
    assert verify_consistency(n, m, r2, r1, proof) is not None


def test_consistency_from_empty_tree_is_refused() -> None:
    empty = reference.mth([])
    err = verify_consistency(0, 3, empty, TREE.root(3), [])
    assert err is not None and err.code == "size_zero"
    err = verify_consistency(0, 0, empty, empty, [])
    assert err is not None and err.code == "size_zero"


def test_hashes_of_wrong_length_are_refused() -> None:
    proof = TREE.inclusion(2, 5)
    err = verify_inclusion(2, 5, leaf_hash(LEAVES[2])[:31], proof, TREE.root(5))
    assert err is not None and err.code == "bad_hash_length"
    err = verify_consistency(3, 3, b"x" * 12, b"x" * 12, [])
    assert err is not None and err.code == "bad_hash_length"


def test_pymerkle_agrees_on_roots_and_inclusion_paths() -> None:
    """A second, independent oracle (GPLv3+, used only here)."""
    from pymerkle import InmemoryTree

    oracle = InmemoryTree(algorithm="sha256")
    for leaf in LEAVES[:130]:
        oracle.append_entry(leaf)
    for n in range(1, 131):
        assert oracle.get_root(n) == TREE.root(n)
    for n, m in [(1, 0), (5, 2), (64, 63), (130, 77)]:
        path = oracle.prove_inclusion(m + 1, n).path[1:]
        assert path == TREE.inclusion(m, n)
