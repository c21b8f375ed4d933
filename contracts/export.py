"""A resident's copy (PIPL art. 45): what the network holds about her, as one signed export that
anyone holding the validators' keys checks offline, and what it proves.

**Proven**: the entries. Every item names the log entries (exact RFC 8785 transaction bytes)
that wrote it (``contracts/provenance.py``); the export carries each entry with its RFC 9162
inclusion proof to a checkpoint cosigned by a quorum of the validators, of the log the
verifier names (``origin``). So the transactions about her, who signed them and when, are
proven, as a C2SP tlog-proof proves one entry (``tlog/proof_file.py``).

**Served**: the items' values, the state those entries left: her enrollment record,
consents, cases, proofs of insurance, requests and access-log entries as the node holds them
(as recorded: a status that depends on the time, a consent past its validity, is as the
record says). They are derived by the contracts from the entries and are signed by the node
that served them (its validator key): the node answers for them, and an auditor replaying the
log can hold it to them. Offline, ``check_export`` checks the node's signature, that every
item names entries that are in the export, that each of those entries is about the item (it
names it, or the resident, or is a governance change applied to every open case), that each
is included in the quorum checkpoint, that every item is hers, and that the copy request
itself is one of the entries, signed by her or by the resident who asked for her.

**Not in it**: health payloads (documents) stay with the source and in the vault; the
export lists each released case's commitment and source as the pointer (``payloads``).
Proof-of-insurance contents, which she may read, are in it sealed to the key of whoever asked
(``sealed_contents``), and the SDK checks each against its commitment.

Pure: building from values the node read, signing with a key given, checking with keys given.
"""

import base64
import binascii
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from contracts.erasure import records
from contracts.state import StateView
from signing.bounded_json import JsonRefused, Limits, decode
from signing.canonical import NotCanonicalizable, canonical_json
from tlog.checkpoint import Checkpoint, verify_checkpoint
from tlog.errors import Invalid
from tlog.hashing import leaf_hash
from tlog.note import Signer, Verifier
from tlog.verify import verify_inclusion

FORMAT = "shanhe-copy-export-v1"
DOMAIN = b"shanhe-copy-export-v1\n"
"""What the node's signature covers: this, then RFC 8785 of the export."""
KINDS = {"consent/": "consent", "share/": "health_case", "pension/": "pension_case",
         "proof/": "proof", "rights/copy/": "copy_request",
         "rights/correction/": "correction", "emergency/": "emergency",
         "basis/": "statutory_basis"}  # fmt: skip
"""Her records by where they live, and the kind an export calls them."""
MAX_EXPORT_BYTES = 64 * 1024 * 1024
LIMITS = Limits(max_bytes=MAX_EXPORT_BYTES, max_depth=16, max_items=4_000_000)
ENTRY_LIMITS = Limits(max_bytes=32 * 1024, max_depth=32, max_items=1024)
PROVEN = (
    "entries: each item's log entries, exact bytes, included in the quorum-cosigned checkpoint. "
    "served: each item's value, the state those entries left, signed by this node."
)


@dataclass(frozen=True)
class Item:
    kind: str
    """enrollment, consent, health_case, pension_case, proof, copy_request, correction,
    emergency, statutory_basis, access."""
    id: str
    key: str
    value: Any
    txs: tuple[str, ...]
    """Hex hashes of the transactions that wrote it, oldest first."""


def items(state: StateView, pseudonym: str, derived: dict[str, list[str]]) -> list[Item]:
    """Everything the state holds about the resident, each with the transactions that wrote
    it (``provenance.derivations``): enrollment, her records, her access log."""
    found: list[Item] = []

    def add(kind: str, ident: str, key: str) -> None:
        value = state.get(key)
        if value is not None:
            found.append(Item(kind, ident, key, value, tuple(derived.get(key, ()))))

    add("enrollment", pseudonym, f"resident/{pseudonym}")
    for key in records(state, pseudonym):
        prefix = next((p for p in KINDS if key.startswith(p)), None)
        if prefix is not None:
            add(KINDS[prefix], key.removeprefix(prefix), key)
    count = state.get(f"access_count/{pseudonym}") or 0
    assert isinstance(count, int)
    for seq in range(count):
        add("access", str(seq), f"access/{pseudonym}/{seq:012d}")
    return found


def payload_pointers(found: Iterable[Item]) -> list[dict[str, Any]]:
    """Health payloads are not in the copy: where each released one is (its case, class,
    source and commitment); the document is the source's record, and in the vault."""
    return [
        {"case_id": i.id, "data_class": i.value.get("data_class"), "source": i.value["source"],
         "commitment": i.value["commitment"], "held": "source and vault"}
        for i in found
        if i.kind == "health_case" and isinstance(i.value.get("commitment"), str)
    ]  # fmt: skip


def build(
    *, origin: str, resident: str, request: dict[str, Any], found: list[Item],
    leaf_index: Callable[[str], int | None], leaf: Callable[[int], bytes],
    inclusion: Callable[[int], list[bytes]], checkpoint: str, height: int, generated_ms: int,
    sealed_contents: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The unsigned export. ``leaf_index`` maps a transaction hash to its log index (None:
    not on the log, which cannot be for an applied one), ``inclusion`` a leaf index to its
    proof in the checkpoint's tree. Raises ``ValueError`` when an entry is past the
    checkpoint (the caller waits for a newer one)."""
    indexes: dict[str, int] = {}
    for item in found:
        for tx in item.txs:
            if tx not in indexes:
                index = leaf_index(tx)
                if index is None:
                    raise ValueError(f"transaction {tx} is not on the log")
                indexes[tx] = index
    request_index = indexes.get(request["tx_hash"], leaf_index(request["tx_hash"]))
    if request_index is None:
        raise ValueError("the copy request is not on the log")
    wanted = sorted({*indexes.values(), request_index})
    entries = [{"index": i, "data": _b64(leaf(i)), "hashes": [_b64(h) for h in inclusion(i)]}
               for i in wanted]  # fmt: skip
    return {
        "format": FORMAT,
        "origin": origin,
        "resident": resident,
        "request": {
            "request_id": request["request_id"],
            "by": request.get("by"),
            "index": request_index,
        },
        "height": height,
        "generated_ms": generated_ms,
        "proven": PROVEN,
        "items": [
            {
                "kind": i.kind,
                "id": i.id,
                "value": i.value,
                "entries": sorted({indexes[t] for t in i.txs}),
            }
            for i in found
        ],
        "entries": entries,
        "checkpoint": checkpoint,
        "payloads": payload_pointers(found),
        "sealed_contents": sealed_contents or {},
    }


def sign(export: dict[str, Any], signer: Signer) -> dict[str, Any]:
    """The export signed by a validator's key: Ed25519 over ``DOMAIN`` ‖ RFC 8785(export)."""
    signature = signer.sign(DOMAIN + canonical_json(export))
    return {"export": export, "signer": signer.name, "signature": _b64(signature)}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# ----------------------------------------------------------------------- the offline check
@dataclass(frozen=True)
class CheckedExport:
    export: dict[str, Any]
    signer: str
    """The validator whose key signed it (it answers for the served values)."""
    checkpoint: Checkpoint
    cosigners: tuple[str, ...]
    items: int
    entries: int


def _bad(code: str, message: str) -> Invalid:
    return Invalid(code, message)


def _strings(value: Any) -> set[str]:
    found: set[str] = set()
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            found.add(current)
        elif isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return found


def _names(item: dict[str, Any], resident: str) -> set[str]:
    """What an entry about the item names (any one suffices): its id (an access entry's: its
    entity; a break-glass's: also its cases, whose reads it counts), or the resident (her enrollment, by a ``resident.*`` type; her log; her erasure
    ending a record)."""
    value = item.get("value")
    entity = value.get("entity") if isinstance(value, dict) else None
    own = entity if item.get("kind") == "access" else item.get("id")
    cases = value.get("cases") if isinstance(value, dict) else None
    if item.get("kind") == "emergency" and isinstance(cases, dict):  # a read of its case
        return {str(own), resident, *(str(c) for c in cases.values())}
    return {str(own), resident}


def _about(body: dict[str, Any], item: dict[str, Any], resident: str) -> bool:
    said = _strings(body) | {str(body.get("signer", "")).removeprefix("resident:")}
    if body.get("type") == "governance.approve":
        return True  # a calendar set for every open case's deadline: names none of them
    if item.get("kind") == "enrollment" and not str(body.get("type")).startswith("resident."):
        return False  # only her enrollment, re-keying and erasure write that record
    names = _names(item, resident)
    if item.get("kind") not in ("enrollment", "access") and body.get("type") != "resident.erase":
        names.discard(resident)
    return bool(names & said)


def _opened(entry: Any, size: int, root: bytes) -> tuple[int, dict[str, Any]] | Invalid:
    if not isinstance(entry, dict) or set(entry) != {"index", "data", "hashes"}:
        return _bad("malformed_export", "an entry is {index, data, hashes}")
    index, hashes = entry["index"], entry["hashes"]
    if not isinstance(index, int) or not isinstance(hashes, list):
        return _bad("malformed_export", "an entry's index is an integer, its hashes a list")
    try:
        data = base64.b64decode(str(entry["data"]), validate=True)
        proof = [base64.b64decode(str(h), validate=True) for h in hashes]
    except (binascii.Error, ValueError):
        return _bad("malformed_export", f"entry {index}: not base64")
    err = verify_inclusion(index, size, leaf_hash(data), proof, root)
    if err is not None:
        return _bad("not_included", f"entry {index}: {err}")
    envelope = decode(data, ENTRY_LIMITS)
    body = envelope.get("body") if isinstance(envelope, dict) else None
    if not isinstance(body, dict):
        return _bad("malformed_export", f"entry {index} is not a transaction")
    return index, body


def _whose(item: dict[str, Any], who: str) -> bool:
    """The item is hers by its own value: her enrollment is keyed by her pseudonym, an
    access-log entry names her in ``on_behalf_of``, every other record in ``resident``
    (a value without it is no record of hers: a node that strips it forges one)."""
    value, kind = item.get("value"), item.get("kind")
    if not isinstance(value, dict):
        return False
    if kind == "enrollment":
        return item.get("id") == who
    return value.get("on_behalf_of" if kind == "access" else "resident") == who


def _request_problem(body: Any, request: dict[str, Any], who: str) -> str | None:
    """None if ``body`` is the copy request the export answers: of this id, for her (signed
    by her for herself, or by ``by`` on her behalf, never another's request for her own)."""
    if not isinstance(body, dict) or body.get("type") != "rights.copy_request":
        return "the copy request is not among the proven entries"
    if body.get("request_id") != request.get("request_id"):
        return "the entry is another copy request"
    by = request.get("by")
    if by is not None and not isinstance(by, str):
        return "the asker is a pseudonym"
    principal = body.get("on_behalf_of", str(body.get("signer")).removeprefix("resident:"))
    signer = f"resident:{by}" if by else f"resident:{who}"
    if principal != who or body.get("signer") != signer:
        return "the copy request is another resident's, or not by the one named"
    return None


def check_export(
    signed: Any, verifiers: Iterable[Verifier], quorum: int, *, origin: str,
    resident: str | None = None, request_id: str | None = None,
) -> CheckedExport | Invalid:  # fmt: skip
    """Check a copy offline with the validators' keys and the log's origin (as ``shanhe verify
    proof`` checks a proof), ``resident`` if given being whose copy it must be, and
    ``request_id`` the request it must answer (an old export answers no new request). Each
    failure is an ``Invalid`` with a stable code. Pure: total over anything a node signs."""
    keys = list(verifiers)
    if isinstance(signed, (bytes, str)):
        signed = decode(signed.encode() if isinstance(signed, str) else signed, LIMITS)
        if isinstance(signed, JsonRefused):
            return _bad("malformed_export", signed.message)
    if not isinstance(signed, dict) or set(signed) != {"export", "signer", "signature"}:
        return _bad("malformed_export", "an export is {export, signer, signature}")
    export = signed["export"]
    if not isinstance(export, dict) or export.get("format") != FORMAT:
        return _bad("malformed_export", f"not a {FORMAT}")
    node = next((k for k in keys if k.name == signed["signer"]), None)
    if node is None:
        return _bad("unknown_signer", f"{signed['signer']!r} is not a validator key given")
    try:
        message = DOMAIN + canonical_json(export)
        signature = base64.b64decode(str(signed["signature"]), validate=True)
    except (NotCanonicalizable, binascii.Error, ValueError):
        return _bad("malformed_export", "the export cannot be canonicalized or the signature read")
    if not node.verify(message, signature):
        return _bad("bad_signature", f"not signed by {node.name}: changed since it was served")
    checked = verify_checkpoint(str(export.get("checkpoint")), keys, quorum)
    if isinstance(checked, Invalid):
        return checked
    checkpoint, opened = checked
    if checkpoint.origin != origin:
        return _bad("wrong_origin", f"the checkpoint is of {checkpoint.origin!r}, not {origin!r}")
    who = export.get("resident")
    if not isinstance(who, str) or (resident is not None and who != resident):
        return _bad("wrong_resident", "the copy is about another resident")
    bodies: dict[int, dict[str, Any]] = {}
    raw_entries = export.get("entries")
    raw_items = export.get("items")
    if not isinstance(raw_entries, list) or not isinstance(raw_items, list):
        return _bad("malformed_export", "items and entries are lists")
    for entry in raw_entries:
        got = _opened(entry, checkpoint.size, checkpoint.root)
        if isinstance(got, Invalid):
            return got
        if got[0] in bodies:
            return _bad("duplicate_entry", f"entry {got[0]} is in the export twice")
        bodies[got[0]] = got[1]
    seen: set[tuple[str, str]] = set()
    for item in raw_items:
        if not isinstance(item, dict) or not isinstance(item.get("entries"), list):
            return _bad("malformed_export", "an item is {kind, id, value, entries}")
        if not isinstance(item.get("kind"), str) or not isinstance(item.get("id"), str):
            return _bad("malformed_export", "an item's kind and id are strings")
        if (item["kind"], item["id"]) in seen:
            return _bad("duplicate_item", f"{item['kind']} {item['id']} is in the export twice")
        seen.add((item["kind"], item["id"]))
        if not _whose(item, who):
            return _bad("wrong_resident", f"item {item.get('id')} is another resident's")
        if not item["entries"]:
            return _bad("unproven_item", f"{item.get('kind')} {item.get('id')} names no entry")
        for index in item["entries"]:
            if not isinstance(index, int) or isinstance(index, bool):
                return _bad("malformed_export", "an item's entries are log indexes")
            if index not in bodies:
                return _bad("missing_entry", f"{item.get('kind')} {item.get('id')}: entry "
                            f"{index} is not in the export")  # fmt: skip
            if not _about(bodies[index], item, who):
                return _bad("entry_not_of_item", f"entry {index} is not about "
                            f"{item.get('kind')} {item.get('id')}")  # fmt: skip
    request = export.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("index"), int):
        return _bad("no_request", "the export names no copy request")
    if not isinstance(request.get("request_id"), str) or (
        request_id is not None and request["request_id"] != request_id
    ):
        return _bad("no_request", f"the export answers another request than {request_id}")
    why = _request_problem(bodies.get(request["index"]), request, who)
    if why is not None:
        return _bad("no_request", why)
    return CheckedExport(export, node.name, checkpoint, opened.valid_signers, len(raw_items),
                         len(bodies))  # fmt: skip
