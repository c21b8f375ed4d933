"""Client SDK: build, sign and submit transactions, and fetch proofs and checkpoints that it
verifies itself, so that agency systems and auditors need not hand-roll any cryptography."""

import base64
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from api.auth import sign_request
from contracts.export import CheckedExport, check_export
from contracts.proofs import CheckedProof, build_extra, check_proof_file
from contracts.tx import Transaction, sign_transaction
from node.vault import commitment, open_delivery
from signing.canonical import canonical_json
from signing.http_signatures import authority_of
from tlog.checkpoint import Checkpoint, verify_checkpoint
from tlog.errors import Invalid
from tlog.hashing import leaf_hash
from tlog.note import OpenedNote, Signer, Verifier
from tlog.proof_file import TlogProof
from tlog.verify import verify_consistency, verify_inclusion


class ApiError(Exception):
    """The node answered with a problem (RFC 9457)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(
            f"{status} {problem.get('type', '')}: {problem.get('detail') or problem.get('title')}"
        )
        self.status, self.problem = status, problem


class NotVerified(Exception):
    """What the node served does not verify: never trust it."""


@dataclass(frozen=True)
class TxOutcome:
    """What became of a transaction: ``applied``; ``refused`` (on the log, but what it asked
    for was refused by the rules, e.g. a read outside a consent, recorded in the resident's
    access log); ``rejected`` (decided in a block, changed nothing); still ``pending``; or
    ``unknown`` (committed, but the node did not say with what outcome)."""

    tx_hash: str
    outcome: str
    reason: str | None = None
    message: str | None = None
    height: int | None = None
    leaf_index: int | None = None

    @property
    def applied(self) -> bool:
        return self.outcome == "applied"

    @staticmethod
    def of(status: dict[str, Any]) -> "TxOutcome":
        """From ``GET /v1/tx/{hash}``'s answer."""
        state = status["status"]
        # an outcome the node does not state is not applied: never report success by default
        outcome = str(status.get("outcome") or "unknown") if state == "committed" else state
        return TxOutcome(
            tx_hash=status["tx_hash"], outcome=outcome, reason=status.get("reason"),
            message=status.get("message"), height=status.get("height"),
            leaf_index=status.get("leaf_index"),
        )  # fmt: skip

    def __str__(self) -> str:
        why = (
            f" ({self.reason}{': ' + self.message if self.message else ''})" if self.reason else ""
        )
        where = f" at height {self.height}" if self.height is not None else ""
        leaf = f", leaf {self.leaf_index}" if self.leaf_index is not None else ""
        return f"{self.outcome}{why}{where}{leaf}"


class ShanheClient:
    def __init__(self, base_url: str = "", http: httpx.Client | None = None) -> None:
        self.http = http or httpx.Client(base_url=base_url.rstrip("/"), timeout=15)
        self._chain_id: str | None = None

    def _get(self, path: str, **params: Any) -> httpx.Response:
        r = self.http.get(path, params=params or None)
        if r.status_code >= 400:
            raise ApiError(
                r.status_code, r.json() if "json" in r.headers.get("content-type", "") else {}
            )
        return r

    def network(self) -> dict[str, Any]:
        result: dict[str, Any] = self._get("/v1/network").json()
        return result

    @property
    def chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = str(self.network()["chain_id"])
        return self._chain_id

    # ------------------------------------------------------------ agencies
    def sign(
        self, signer: Signer, body: dict[str, Any], as_name: str | None = None,
        on_behalf_of: str | None = None,
    ) -> Transaction:  # fmt: skip
        """``on_behalf_of``: the pseudonym of the resident a guardian or a delegate (the
        signer, ``resident:<p>``) acts for; the contracts check the guardianship or delegation
        at the block, and the step is in her access log with the signer named (#13)."""
        acting = {"on_behalf_of": on_behalf_of} if on_behalf_of is not None else {}
        full = {"chain_id": self.chain_id, "signer": as_name or signer.name,
                "nonce": secrets.token_hex(16), **body, **acting}  # fmt: skip
        return sign_transaction(full, signer)

    def submit(self, tx: Transaction) -> str:
        r = self.http.post("/v1/tx", json=tx.to_json())
        if r.status_code != 202:
            raise ApiError(r.status_code, r.json())
        return str(r.json()["tx_hash"])

    def wait(self, tx_hash: str, timeout: float = 30) -> dict[str, Any]:
        """``GET /v1/tx/{hash}``'s answer once it is no longer pending (or at the timeout);
        ``outcome`` reads it."""
        deadline = time.monotonic() + timeout
        while True:
            status: dict[str, Any] = self._get(f"/v1/tx/{tx_hash}").json()
            if status["status"] != "pending" or time.monotonic() > deadline:
                return status
            time.sleep(0.1)

    def outcome(self, tx_hash: str, timeout: float = 30) -> TxOutcome:
        """Wait for the transaction and say what became of it (``TxOutcome.applied``: it did
        what it asked; a committed transaction may still be ``refused``)."""
        return TxOutcome.of(self.wait(tx_hash, timeout))

    def signed(
        self, method: str, path: str, key: Signer, keyid: str, body: bytes = b"", query: str = ""
    ) -> httpx.Response:
        """A request signed with RFC 9421 (``keyid``: agency id, ``resident:<p>`` or
        ``node:<name>``), as every non-public read needs; raises ApiError on a problem."""
        authority = authority_of(str(self.http.base_url))  # the node this request is for
        headers = sign_request(key, keyid, method, path, query, body, authority=authority)
        if body:
            headers["content-type"] = "application/octet-stream"
        r = self.http.request(method, path + (f"?{query}" if query else ""), headers=headers,
                              content=body)  # fmt: skip
        if r.status_code >= 400:
            raise ApiError(
                r.status_code, r.json() if "json" in r.headers.get("content-type", "") else {}
            )
        return r

    def deposit(self, case_id: str, document: bytes, key: Signer, agency: str) -> dict[str, Any]:
        """The source hospital's deposit: returns the locator and salted commitment to put in
        ``health.release``."""
        path = f"/v1/health/cases/{case_id}/payload"
        deposited: dict[str, Any] = self.signed("PUT", path, key, agency, document).json()
        return deposited

    def health_case(self, case_id: str, key: Signer, keyid: str) -> dict[str, Any]:
        """A health case as it stands now, for a party (``keyid``: either hospital or
        ``resident:<p>``): ``status`` is REVOKED or EXPIRED once its consent no longer holds,
        ``recorded_status`` the state its last step left it in."""
        case: dict[str, Any] = self.signed("GET", f"/v1/health/cases/{case_id}", key, keyid).json()
        return case

    def fetch(self, case_id: str, key: Signer, agency: str) -> bytes:
        """The requesting hospital's document, opened with its key and checked against the
        commitment on the log (``NotVerified`` if the node served anything else)."""
        case = self.health_case(case_id, key, agency)
        sealed = self.signed("GET", f"/v1/health/cases/{case_id}/payload", key, agency).json()
        document, salt = open_delivery(base64.b64decode(sealed["sealed"]), key)
        if commitment(salt, document) != case.get("commitment"):
            raise NotVerified(f"payload of {case_id} does not match its commitment on the log")
        return document

    def deposit_proof(self, content: dict[str, Any], key: Signer, agency: str) -> dict[str, Any]:
        """The issuing bureau's deposit of a proof's content: returns the commitment to put
        in ``proof.issue``."""
        path = f"/v1/proofs/{content['proof_id']}/content"
        deposited: dict[str, Any] = self.signed(
            "PUT", path, key, agency, canonical_json(content)
        ).json()
        return deposited

    # ----------------------------------------------------------- residents
    def access_log(
        self, pseudonym: str, key: Signer, reader: str | None = None
    ) -> list[dict[str, Any]]:
        """The resident's access log, the request signed with the resident's key (RFC 9421);
        or with ``reader``'s (a pseudonym: her guardian, or her delegate, who sees the entries
        of her delegated data classes)."""
        path = f"/v1/residents/{pseudonym}/access"
        entries: list[dict[str, Any]] = self.signed(
            "GET", path, key, f"resident:{reader or pseudonym}", query="limit=500"
        ).json()["entries"]
        return entries

    def consents(
        self, pseudonym: str, key: Signer, reader: str | None = None
    ) -> list[dict[str, Any]]:
        """The resident's consents (first page), each with the status in force now; read by
        her, or by ``reader`` (her guardian, or a delegate for consents: her classes only)."""
        path = f"/v1/residents/{pseudonym}/consents"
        page: list[dict[str, Any]] = self.signed(
            "GET", path, key, f"resident:{reader or pseudonym}", query="limit=500"
        ).json()["consents"]
        return page

    def representation(
        self, pseudonym: str, key: Signer, reader: str | None = None
    ) -> dict[str, Any]:
        """Her age class now, her guardians and delegations, and (to herself) whom she acts
        for: ``GET /v1/residents/{p}/representation``."""
        path = f"/v1/residents/{pseudonym}/representation"
        found: dict[str, Any] = self.signed(
            "GET", path, key, f"resident:{reader or pseudonym}"
        ).json()
        return found

    def bases(self, pseudonym: str, key: Signer) -> list[dict[str, Any]]:
        """The statutory bases agencies recorded for the resident (first page), apart from
        her consents: each with its citation code and text; none is withdrawn."""
        path = f"/v1/residents/{pseudonym}/bases"
        page: list[dict[str, Any]] = self.signed(
            "GET", path, key, f"resident:{pseudonym}", query="limit=500"
        ).json()["bases"]
        return page

    # ------------------------------------------------------------ auditors
    def emergency_report(
        self, key: Signer, keyid: str, since: str | None = None, until: str | None = None
    ) -> dict[str, Any]:
        """Break-glasses of a period (YYYY-MM-DD, CST; default the last 30 days) and each
        hospital's rate of emergency reads, highest first: for an auditor or a governance
        agency (``keyid``)."""
        query = "&".join(f"{k}={v}" for k, v in (("since", since), ("until", until)) if v)
        report: dict[str, Any] = self.signed(
            "GET", "/v1/audit/emergencies", key, keyid, query=query
        ).json()
        return report

    def break_glass(
        self, key: Signer, agency: str, emergency_id: str, resident: str, source: str,
        data_classes: Sequence[str], reason: str,
    ) -> TxOutcome:  # fmt: skip
        """A hospital's ``health.emergency`` (PIPL art. 13(1)(4)), submitted and waited for:
        ``refused`` with ``emergency_limit`` past the governance limit."""
        body = {"type": "health.emergency", "emergency_id": emergency_id, "resident": resident,
                "source": source, "data_classes": list(data_classes), "reason": reason}  # fmt: skip
        return self.outcome(self.submit(self.sign(key, body, agency)))

    def proof_content(self, proof_id: str, key: Signer, pseudonym: str) -> dict[str, Any]:
        """The resident's proof: ``content``, ``salt``, ``entry`` (the ``proof.issue`` leaf
        bytes), ``leaf_index`` and ``status``; the content checked against the entry's
        commitment (``NotVerified`` otherwise)."""
        got = self.signed(
            "GET", f"/v1/proofs/{proof_id}/content", key, f"resident:{pseudonym}"
        ).json()
        document, salt = open_delivery(base64.b64decode(got["sealed"]), key)
        entry = base64.b64decode(got["entry"])
        tx = Transaction.from_json(json.loads(entry))
        if tx.type != "proof.issue" or commitment(salt, document) != tx.body.get("commitment"):
            raise NotVerified(f"the content of {proof_id} does not match its entry on the log")
        content = json.loads(document)
        return {**got, "content": content, "salt": salt, "entry": entry}

    def proof_file(
        self, proof_id: str, key: Signer, pseudonym: str, keys: Sequence[Verifier], quorum: int,
        timeout: float = 15,
    ) -> str:  # fmt: skip
        """The C2SP tlog-proof file the resident hands another agency: her proof's entry, its
        inclusion proof and a checkpoint cosigned by ``quorum`` of ``keys`` (waiting up to
        ``timeout`` for one that covers the entry), the content and salt as extra data.
        Checked before it is returned."""
        got = self.proof_content(proof_id, key, pseudonym)
        index, deadline = int(got["leaf_index"]), time.monotonic() + timeout
        while True:
            note = self._get("/v1/checkpoint").text
            checked = verify_checkpoint(note, keys, quorum)
            if not isinstance(checked, Invalid) and checked[0].size > index:
                break
            if time.monotonic() > deadline:
                raise NotVerified(f"no checkpoint cosigned by {quorum} covers leaf {index}")
            time.sleep(0.2)
        checkpoint = checked[0]
        proof = self._get("/v1/proof/inclusion", leaf_index=index, tree_size=checkpoint.size)
        hashes = tuple(base64.b64decode(h) for h in proof.json()["hashes"])
        text = TlogProof(index, hashes, note, build_extra(got["entry"], got["content"],
                                                          got["salt"])).encode()  # fmt: skip
        origin = str(self.network()["origin"])  # a self-check: the verifier names its own
        result = check_proof_file(text, keys, quorum, int(time.time() * 1000), origin=origin)
        if isinstance(result, Invalid):
            raise NotVerified(f"proof file of {proof_id}: {result}")
        return text

    def proof_status(self, proof_id: str, committed: str) -> dict[str, Any]:
        """Whether a proof still stands (``status`` active, revoked or erased): the one thing
        an offline check cannot know. Public; needs the commitment its entry carries."""
        status: dict[str, Any] = self._get(
            f"/v1/proofs/{proof_id}/status", commitment=committed
        ).json()
        return status

    def check_proof(
        self, text: str, keys: Sequence[Verifier], quorum: int, *, origin: str,
        now_ms: int | None = None, online: bool = True, **expect: str,
    ) -> tuple[CheckedProof, dict[str, Any] | None]:  # fmt: skip
        """A proof file checked as ``shanhe verify proof`` checks it (offline:
        ``contracts.proofs.check_proof_file``; ``origin``: the log trusted, as the genesis
        names it; ``expect``: issuer, resident_pseudonym), and, ``online``, this node's word on
        whether it still stands. ``NotVerified`` if it does not hold."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        result = check_proof_file(text, keys, quorum, now, origin=origin, **expect)
        if isinstance(result, Invalid):
            raise NotVerified(str(result))
        if not online:
            return result, None
        return result, self.proof_status(str(result.content["proof_id"]), result.commitment)

    # ------------------------------------------- copies and corrections (PIPL arts. 45-46)
    def request_copy(self, key: Signer, pseudonym: str, request_id: str | None = None) -> str:
        """Sign and submit the resident's ``rights.copy_request``; its id once it is applied
        (``ApiError``/``NotVerified`` otherwise)."""
        request_id = request_id or "copy-" + secrets.token_hex(8)
        body = {"type": "rights.copy_request", "request_id": request_id}
        done = self.outcome(self.submit(self.sign(key, body, f"resident:{pseudonym}")))
        if not done.applied:
            raise NotVerified(f"copy request {request_id}: {done}")
        return request_id

    def copy(
        self, request_id: str, key: Signer, keyid: str, keys: Sequence[Verifier], quorum: int,
        *, origin: str, resident: str | None = None, timeout: float = 15,
    ) -> tuple[CheckedExport, dict[str, Any], dict[str, dict[str, Any]]]:  # fmt: skip
        """The copy for ``request_id`` (``keyid``: the resident, or the resident who asked for
        her), checked as ``verify_export`` checks it (waiting up to ``timeout`` for a
        checkpoint that covers it); with the signed export as served and her proofs'
        contents, opened with ``key`` and each checked against its commitment on the log."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                got = self.signed("GET", f"/v1/rights/copies/{request_id}", key, keyid)
                break
            except ApiError as exc:
                if exc.status != 409 or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        signed: dict[str, Any] = got.json()
        checked = self.verify_export(signed, keys, quorum, origin=origin, resident=resident)
        proofs = {i["id"]: i["value"] for i in checked.export["items"] if i["kind"] == "proof"}
        contents = {}
        for proof_id, box in checked.export["sealed_contents"].items():
            document, salt = open_delivery(base64.b64decode(box), key)
            if proof_id not in proofs or commitment(salt, document) != proofs[proof_id].get(
                "commitment"
            ):
                raise NotVerified(f"the content of {proof_id} does not match its commitment")
            contents[proof_id] = json.loads(document)
        return checked, signed, contents

    @staticmethod
    def verify_export(
        signed: Any, keys: Sequence[Verifier], quorum: int, *, origin: str,
        resident: str | None = None,
    ) -> CheckedExport:  # fmt: skip
        """A copy checked offline (``contracts.export.check_export``: the node's signature,
        the checkpoint's quorum and ``origin``, every entry's inclusion, every item's entries);
        ``NotVerified`` if it does not hold."""
        result = check_export(signed, keys, quorum, origin=origin, resident=resident)
        if isinstance(result, Invalid):
            raise NotVerified(str(result))
        return result

    def correction(self, request_id: str, key: Signer, keyid: str) -> dict[str, Any]:
        """A correction request as it stands (the resident's, or the agency's it names)."""
        found: dict[str, Any] = self.signed(
            "GET", f"/v1/rights/corrections/{request_id}", key, keyid
        ).json()
        return found

    def overdue_corrections(self, key: Signer, agency: str) -> list[dict[str, Any]]:
        """Corrections past their deadline (first page): an auditor's all, an agency's own."""
        page: list[dict[str, Any]] = self.signed(
            "GET", "/v1/rights/overdue", key, agency, query="limit=500"
        ).json()["requests"]
        return page

    # ------------------------------------------------------------ auditors
    def checkpoint(
        self, keys: Sequence[Verifier], quorum: int, tree_size: int | None = None
    ) -> tuple[Checkpoint, OpenedNote]:
        """The checkpoint and which known keys signed it, only if a quorum of them did."""
        params = {} if tree_size is None else {"tree_size": tree_size}
        note = self._get("/v1/checkpoint", **params).text
        result = verify_checkpoint(note, keys, quorum)
        if isinstance(result, Invalid):
            raise NotVerified(f"checkpoint: {result}")
        return result

    def entry(self, leaf_index: int, checkpoint: Checkpoint, key: Signer, keyid: str) -> bytes:
        """The leaf bytes, returned only if they are proven to be in the checkpoint's tree.
        The log's content is read with a signed request by a caller with a role (an agency,
        auditors included, or a validator: ``keyid`` an agency id or ``node:<name>``); the
        proof and the checkpoint are public."""
        entry = self.signed("GET", f"/v1/entries/{leaf_index}", key, keyid).json()
        data = base64.b64decode(entry["data"])
        proof = self._get(
            "/v1/proof/inclusion", leaf_index=leaf_index, tree_size=checkpoint.size
        ).json()
        hashes = [base64.b64decode(h) for h in proof["hashes"]]
        err = verify_inclusion(
            leaf_index, checkpoint.size, leaf_hash(data), hashes, checkpoint.root
        )
        if err is not None:
            raise NotVerified(f"inclusion of leaf {leaf_index}: {err}")
        return data

    def block(self, height: int, key: Signer, keyid: str) -> dict[str, Any]:
        """A committed block with its commit certificate (``GET /v1/blocks/{height}``), read
        as ``entry`` reads leaves: signed, by an agency or a validator."""
        block: dict[str, Any] = self.signed("GET", f"/v1/blocks/{height}", key, keyid).json()
        return block

    def consistent(self, old: Checkpoint, new: Checkpoint) -> None:
        if old.size == new.size:
            if old.root != new.root:
                raise NotVerified(f"fork: two roots for tree size {old.size}")
            return
        proof = self._get("/v1/proof/consistency", first=old.size, second=new.size).json()
        hashes = [base64.b64decode(h) for h in proof["hashes"]]
        err = verify_consistency(old.size, new.size, old.root, new.root, hashes)
        if err is not None:
            raise NotVerified(f"consistency {old.size} -> {new.size}: {err}")
