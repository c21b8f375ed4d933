"""Offline verification of RFC 9162 inclusion and consistency proofs.

Pure functions that need nothing but the proof: what an auditor runs. Errors are values: each
function returns ``None`` when the proof holds, or a ``ProofError`` with a stable code.
"""

from collections.abc import Sequence

from tlog.errors import Invalid
from tlog.hashing import HASH_SIZE, node_hash

ProofError = Invalid
"""Why a proof does not hold (the log's shared error value)."""


def _bad_hashes(**named: bytes | Sequence[bytes]) -> ProofError | None:
    for name, value in named.items():
        values = [value] if isinstance(value, bytes) else list(value)
        for i, h in enumerate(values):
            if len(h) != HASH_SIZE:
                where = name if isinstance(value, bytes) else f"{name}[{i}]"
                return ProofError("bad_hash_length", f"{where} is {len(h)} bytes, want {HASH_SIZE}")
    return None


def inclusion_proof_length(index: int, size: int) -> int:
    """Length of the audit path of leaf ``index`` in a tree of ``size`` (0 <= index < size)."""
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_length(first: int, second: int) -> int:
    """Length of the consistency proof from ``first`` to ``second`` (0 < first < second)."""
    shift = ((first & -first).bit_length()) - 1
    total = inclusion_proof_length(first - 1, second) - shift
    return total if first == 1 << shift else total + 1


def _is_odd(n: int) -> bool:
    return n & 1 == 1


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes | ProofError:
    """RFC 9162 §2.1.3.2: the root that ``proof`` implies for the leaf, or why there is none."""
    if not 0 <= index < size:
        return ProofError("index_out_of_range", f"leaf index {index} not in tree of size {size}")
    if err := _bad_hashes(leaf_hash=leaf_hash, proof=proof):
        return err
    want = inclusion_proof_length(index, size)
    if len(proof) != want:
        return ProofError("wrong_proof_length", f"proof has {len(proof)} hashes, want {want}")
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if _is_odd(fn) or fn == sn:
            r = node_hash(p, r)
            while not _is_odd(fn) and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> ProofError | None:
    if err := _bad_hashes(root=root):
        return err
    got = root_from_inclusion_proof(index, size, leaf_hash, proof)
    if isinstance(got, ProofError):
        return got
    if got != root:
        return ProofError("root_mismatch", "the proof leads to a different root")
    return None


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> ProofError | None:
    """RFC 9162 §2.1.4.2. A proof from the empty tree is meaningless and refused."""
    if first <= 0:
        return ProofError("size_zero", "consistency proofs start from a non-empty tree")
    if second < first:
        return ProofError("size_order", f"second size {second} is smaller than first {first}")
    if err := _bad_hashes(first_root=first_root, second_root=second_root, proof=proof):
        return err
    if first == second:
        if proof:
            return ProofError("wrong_proof_length", "equal sizes need an empty proof")
        if first_root != second_root:
            return ProofError("root_mismatch", "equal sizes with different roots")
        return None
    want = consistency_proof_length(first, second)
    if len(proof) != want:
        return ProofError("wrong_proof_length", f"proof has {len(proof)} hashes, want {want}")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while _is_odd(fn):
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if _is_odd(fn) or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not _is_odd(fn) and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if fr != first_root:
        return ProofError("first_root_mismatch", "the proof does not lead to the first root")
    if sr != second_root:
        return ProofError("root_mismatch", "the proof does not lead to the second root")
    return None
