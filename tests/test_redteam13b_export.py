"""Red team, issue 13 (b): one Byzantine validator forging a resident's copy (PIPL art. 45)
that ``check_export`` accepts, and inputs that make it raise instead of answering Invalid.
Each test replays the attack on the contract-level world of ``tests/test_rights.py``: the
forging node holds a validator key, so it signs whatever it changed."""

import base64
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from contracts.export import check_export, sign
from contracts.rules import Applied
from tests.contract_world import World, ok
from tests.memtree import MemTree
from tests.test_rights import KEYS, ME, ORIGIN, OTHER, P1, P2, VALIDATORS, export_of, verify, w
from tests.test_rights import with_case as with_case
from tlog.errors import Invalid

__all__ = ["w"]  # the fixture


def _base(w: World) -> dict[str, Any]:
    with_case(w)
    ok(w.submit(ME, {"type": "rights.copy_request", "request_id": "copy-1"}))
    return export_of(w)


def _code(result: Any) -> str | None:
    return result.code if isinstance(result, Invalid) else None


def _index(w: World, tx_hash: str) -> int:
    applied = [tx.hash.hex() for tx, o in w.outcomes if isinstance(o, Applied)]
    return applied.index(tx_hash)


def _entry(w: World, i: int) -> dict[str, Any]:
    """Entry ``i`` with its inclusion proof in the tree of the whole log (export_of's)."""
    size, tree = len(w.log), MemTree(list(w.log))
    return {"index": i, "data": base64.b64encode(w.log[i]).decode(),
            "hashes": [base64.b64encode(x).decode() for x in tree.inclusion(i, size)]}  # fmt: skip


def _forged(export: dict[str, Any]) -> Any:
    return verify(sign(export, VALIDATORS[1]), resident=P1)


def test_an_export_of_her_under_another_residents_copy_request_fails(w: World) -> None:
    """P1's copy served as the answer to P2's own copy request: ``request.by`` names P2, so
    P2's request entry, signed by P2 for herself, passed as the asker's."""
    _base(w)
    ok(w.submit(OTHER, {"type": "rights.copy_request", "request_id": "copy-2"}))
    export = copy.deepcopy(export_of(w)["export"])
    i = _index(w, w.get("rights/copy/copy-2")["tx_hash"])
    export["entries"].append(_entry(w, i))
    export["request"] = {"request_id": "copy-2", "by": P2, "index": i}
    assert _code(_forged(export)) == "no_request"


def test_an_old_export_does_not_answer_a_new_request(w: World) -> None:
    """Re-using the export served for copy-1 as the answer to copy-2: the verifier names the
    request whose answer it checks."""
    old = _base(w)
    ok(w.submit(ME, {"type": "rights.copy_request", "request_id": "copy-2"}))
    assert _code(verify(old, resident=P1, request_id="copy-1")) is None
    assert _code(verify(old, resident=P1, request_id="copy-2")) == "no_request"


def test_an_access_entry_or_enrollment_of_another_resident_fails(w: World) -> None:
    """Items of another resident passed off as hers: an access-log entry (its value names its
    resident in ``on_behalf_of``, not ``resident``), and P2's enrollment record."""
    _base(w)
    ok(w.submit("hosp-330881", {"type": "health.request", "case_id": "s-2", "resident": P2,
                                "source": "hosp-330824", "data_class": "test_result",
                                "purpose": "COC"}))  # fmt: skip
    export = copy.deepcopy(export_of(w)["export"])
    last = len(w.log) - 1
    export["entries"].append(_entry(w, last))
    stranger: dict[str, Any] = {"kind": "access", "id": "99", "entries": [last],
                "value": {"seq": 0, "action": "R", "agent": "hosp-330881", "on_behalf_of": P2,
                          "entity": "s-2", "data_class": "test_result", "purpose": "COC",
                          "consent_id": None, "outcome": "refused", "reason": "x",
                          "recorded_ms": 0, "height": 1}}  # fmt: skip
    forged = copy.deepcopy(export)
    forged["items"].append(stranger)
    assert _code(_forged(forged)) == "wrong_resident"
    stripped = copy.deepcopy(export)  # the same without its resident
    stranger["value"].pop("on_behalf_of")
    stripped["items"].append(stranger)
    assert _code(_forged(stripped)) == "wrong_resident"
    # P2's enrollment: its entry names P2, and the node calls the item P2's id
    enrolled = next(
        i for i, raw in enumerate(w.log) if b"resident.enroll" in raw and P2.encode() in raw
    )
    other = copy.deepcopy(export)
    other["entries"].append(_entry(w, enrolled))
    other["items"].append({"kind": "enrollment", "id": P2, "value": w.get(f"resident/{P2}"),
                           "entries": [enrolled]})  # fmt: skip
    assert _code(_forged(other)) == "wrong_resident"


def test_duplicate_items_or_entries_fail(w: World) -> None:
    """Two values for one record (her consent both active and withdrawn), or one entry twice."""
    signed = _base(w)
    export = copy.deepcopy(signed["export"])
    item = next(i for i in export["items"] if i["kind"] == "consent")
    export["items"].append(
        {**copy.deepcopy(item), "value": {**item["value"], "status": "withdrawn"}}
    )
    assert _code(_forged(export)) == "duplicate_item"
    twice = copy.deepcopy(signed["export"])
    twice["entries"].append(copy.deepcopy(twice["entries"][0]))
    assert _code(_forged(twice)) == "duplicate_entry"


def _odd(signed: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for path, value in ((("items", 0, "entries"), [[0]]), (("items", 0, "entries"), [{"a": 1}]),
                        (("request", "by"), ["x"]), (("request", "request_id"), {"x": 1}),
                        (("items", 0, "value"), [1]), (("request", "by"), {"a": 1})):  # fmt: skip
        e = copy.deepcopy(signed["export"])
        target: Any = e
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        out.append(e)
    return out


def test_odd_shapes_answer_invalid_never_raise(w: World, tmp_path: Path) -> None:
    """A Byzantine node signs whatever it likes: an unhashable entry index, a list or object
    where a string is; each is an Invalid, not a TypeError, and the CLI says invalid."""
    signed = _base(w)
    for export in _odd(signed):
        result = check_export(sign(export, VALIDATORS[1]), KEYS, 3, origin=ORIGIN)
        assert isinstance(result, Invalid), (export["request"], result)
    keys = tmp_path / "keys"
    keys.write_text("\n".join(k.encode() for k in KEYS) + "\n")
    file = tmp_path / "export.json"
    file.write_text(json.dumps(sign(_odd(signed)[0], VALIDATORS[1])))
    run = subprocess.run([sys.executable, "-m", "node.cli", "verify", "export", str(file),
                          "--verifier-keys", str(keys), "--quorum", "3", "--origin", ORIGIN],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
