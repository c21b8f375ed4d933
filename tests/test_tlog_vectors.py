"""Known answers from Go's sumdb/tlog and transparency-dev/merkle (see tests/vectors/README.md)."""

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import VECTORS
from tests.memtree import MemTree, numbered_leaves
from tlog import layout
from tlog.hashing import leaf_hash
from tlog.verify import verify_consistency, verify_inclusion

b64 = base64.b64decode


@pytest.fixture(scope="module")
def tree(tlog_vectors: Any) -> MemTree:
    largest = max(
        [int(n) for n in tlog_vectors["roots"]]
        + [v["tree_size"] for v in tlog_vectors["inclusion"]]
        + [v["second"] for v in tlog_vectors["consistency"]]
    )
    return MemTree(numbered_leaves(largest, tlog_vectors["leaf_prefix"]))


def test_roots_match_go_tlog(tree: MemTree, tlog_vectors: Any) -> None:
    assert len(tlog_vectors["roots"]) > 30
    for size, root in tlog_vectors["roots"].items():
        assert tree.root(int(size)) == b64(root), size


def test_stored_hash_count_matches_layout(tree: MemTree) -> None:
    assert len(tree.hashes) == layout.stored_hash_count(len(tree.leaves))


def test_inclusion_proofs_match_go_tlog(tree: MemTree, tlog_vectors: Any) -> None:
    for v in tlog_vectors["inclusion"]:
        proof = [b64(h) for h in v["proof"]]
        assert leaf_hash(tree.leaves[v["leaf_index"]]) == b64(v["leaf_hash"])
        assert tree.inclusion(v["leaf_index"], v["tree_size"]) == proof, v
        err = verify_inclusion(
            v["leaf_index"], v["tree_size"], b64(v["leaf_hash"]), proof, b64(v["root"])
        )
        assert err is None, (v, err)


def test_consistency_proofs_match_go_tlog(tree: MemTree, tlog_vectors: Any) -> None:
    for v in tlog_vectors["consistency"]:
        proof = [b64(h) for h in v["proof"]]
        if v["first"] < v["second"]:
            assert tree.consistency(v["first"], v["second"]) == proof, v
        err = verify_consistency(
            v["first"], v["second"], b64(v["first_root"]), b64(v["second_root"]), proof
        )
        assert err is None, (v, err)


# transparency-dev accepts equal sizes with equal roots of any length; we follow the issue and
# Go's tlog (whose Hash is [32]byte): a root that is not 32 bytes is never valid.
NOT_32_BYTES = {"consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"}


def transparency_dev_cases() -> list[Path]:
    cases = sorted((VECTORS / "transparency-dev").glob("*/*/*.json"))
    assert len(cases) > 100
    return cases


def _b64_list(values: list[str] | None) -> list[bytes]:
    return [b64(h) for h in values or []]


def check_transparency_dev(case: dict[str, Any]) -> object:
    if "leafIdx" in case:
        return verify_inclusion(
            case["leafIdx"],
            case["treeSize"],
            b64(case["leafHash"] or ""),
            _b64_list(case["proof"]),
            b64(case["root"] or ""),
        )
    return verify_consistency(
        case["size1"],
        case["size2"],
        b64(case["root1"] or ""),
        b64(case["root2"] or ""),
        _b64_list(case["proof"]),
    )


@pytest.mark.parametrize(
    "path", transparency_dev_cases(), ids=lambda p: str(p.relative_to(VECTORS / "transparency-dev"))
)
def test_transparency_dev_vectors(path: Path) -> None:
    case = json.loads(path.read_text())
    err = check_transparency_dev(case)
    name = str(path.relative_to(VECTORS / "transparency-dev"))
    if name in NOT_32_BYTES:
        assert err is not None and getattr(err, "code", "") == "bad_hash_length"
    else:
        assert (err is not None) == case["wantErr"], (case["desc"], err)
