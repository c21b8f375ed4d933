"""``shanhe demo``: a narrated Quzhou scenario, checked step by step, on a local cluster.

A Longyou resident moves to Kecheng and transfers the pension relation; an elderly Kaihua
resident gives assisted consent at a counter so that a Jiangshan hospital can read a test
result, then withdraws it and a later read is refused; the resident lists who accessed the
records; at the counter he delegates his health consents to his daughter, who grants and
withdraws one for him from her phone (his log names her); brought in unconscious, his test
result is read under a break-glass, which he sees afterwards; the Longyou medical-insurance bureau issues the mover a proof of insurance (参保证明),
which the Kecheng bureau checks offline, without calling Longyou, and then online for a
revocation; an auditor verifies a transfer's inclusion proof against the quorum-signed
checkpoint.
Residents are synthetic, with well-formed ID numbers that only agency systems ever see.
"""

import hashlib
import json
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from api.client import ApiError, NotVerified, ShanheClient, TxOutcome
from contracts.pension import info_commitments, receipts
from contracts.proofs import CONTENT_FORMAT, CheckedProof
from node.genesis import Genesis
from node.identity import check_digit, pseudonym
from node.keys import read_signer, read_verifiers
from node.network_init import init_network, is_network
from signing.canonical import canonical_json
from tlog.note import Signer, Verifier
from tlog.proof_file import TlogProof, parse_tlog_proof


def _id(first17: str) -> str:
    return first17 + check_digit(first17)


class Demo:
    def __init__(self, net: Path, url: str) -> None:
        self.net, self.url = net, url.rstrip("/")
        self.client = ShanheClient(self.url)
        self.secret = (net / "agencies" / "network-secret").read_bytes()
        self.results: list[tuple[str, bool, str]] = []
        self.elder_key = Signer.generate("resident-elder")  # kept by the resident's own card

    def agency(self, agency_id: str) -> Signer:
        return read_signer(self.net / "agencies" / f"{agency_id}.key")

    def origin(self) -> str:
        """The log an agency checking a proof trusts: the genesis names it (the validators'
        keys may sign other logs too)."""
        return Genesis.load(self.net / "genesis.json").origin

    def send(self, signer: Signer, name: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            tx_hash = self.client.submit(self.client.sign(signer, body, as_name=name))
        except ApiError as exc:
            return {
                "status": "refused",
                "reason": str(exc.problem.get("type", "")).rsplit("/", 1)[-1],
            }
        return self.client.wait(tx_hash)

    def step(self, title: str, check: Callable[[], tuple[bool, str]]) -> bool:
        try:
            ok, detail = check()
        except (httpx.HTTPError, ApiError, NotVerified, KeyError, ValueError, TypeError) as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        self.results.append((title, ok, detail))
        print(f"[{'ok' if ok else 'FAILED'}] {title}: {detail}", flush=True)
        return ok

    def run(self) -> bool:
        now = int(time.time() * 1000)
        longyou, kecheng = self.agency("ssb-330825"), self.agency("ssb-330802")
        kaihua_hosp, jiangshan_hosp = self.agency("hosp-330824"), self.agency("hosp-330881")

        # --- a Longyou resident moves to Kecheng
        worker_id = _id("33082519800214003")
        worker = pseudonym(self.secret, worker_id)  # computed inside the agency system
        worker_key = Signer.generate("resident-worker")
        me = f"resident:{worker}"
        case = f"pension-{secrets.token_hex(4)}"
        print(
            "\nA resident of Longyou (龙游县) has moved to Kecheng (柯城区) and transfers the pension relation."
        )
        self.step(
            "Longyou bureau enrolls the resident (only a keyed pseudonym reaches the log)",
            lambda: self._committed(
                self.send(
                    longyou,
                    longyou.name,
                    {
                        "type": "resident.enroll",
                        "age_class": "adult",
                        "pseudonym": worker,
                        "key": worker_key.verifier().encode(),
                    },
                )
            ),
        )
        self.step(
            "the resident applies for the transfer on the phone",
            lambda: self._committed(
                self.send(
                    worker_key,
                    me,
                    {
                        "type": "pension.apply",
                        "case_id": case,
                        "kind": "inter_area",
                        "from_agency": longyou.name,
                        "to_agency": kecheng.name,
                    },
                )
            ),
        )
        self.step(
            "Kecheng (转入地) accepts and sends the 联系函 (its hash)",
            lambda: self._committed(
                self.send(
                    kecheng,
                    kecheng.name,
                    {"type": "pension.accept", "case_id": case, "letter_commitment": _h("联系函")},
                )
            ),
        )
        # the 信息表's values travel between the bureaus with it; only their commitments are
        # on the log (contracts/pension.py)
        salt = secrets.token_bytes(32)
        table = {"contribution_months": 187, "individual_account_fen": 4_321_000,
                 "pooled_fund_fen": 9_876_500}  # fmt: skip
        info = info_commitments(salt, case, table)
        self.step(
            "Longyou (转出地) clears the account, sends the 信息表 and moves the funds (commitments)",
            lambda: self._committed(
                self.send(
                    longyou,
                    longyou.name,
                    {"type": "pension.transfer_out", "case_id": case, "info_commitments": info},
                )
            ),
        )
        completed: dict[str, Any] = {}
        self.step(
            "Kecheng finishes: what arrived matches the commitments; the resident is told",
            lambda: self._committed(
                completed.update(
                    self.send(
                        kecheng,
                        kecheng.name,
                        {
                            "type": "pension.complete",
                            "case_id": case,
                            "received_commitments": receipts(salt, case, table),
                        },
                    )
                )
                or completed
            ),
        )

        # --- an elderly Kaihua resident at a service counter
        elder_id = _id("33082419380917002")
        elder = pseudonym(self.secret, elder_id)
        print(
            "\nAn 87-year-old resident of Kaihua (开化县) without a smartphone comes to the hospital "
            "counter; he carries a card that holds his key."
        )
        self.step(
            "Kaihua hospital enrolls the resident",
            lambda: self._committed(
                self.send(
                    kaihua_hosp,
                    kaihua_hosp.name,
                    {
                        "type": "resident.enroll",
                        "age_class": "adult",
                        "pseudonym": elder,
                        "key": self.elder_key.verifier().encode(),
                    },
                )
            ),
        )
        assisted = {
            "channel": "counter",
            "operator_id": "kh-counter-07",
            "verification_method": "id_card_reader",
            "verification_result": "verified",
            "form_hash": _h("signed paper consent form"),
        }
        consent_id, share = f"consent-{secrets.token_hex(4)}", f"share-{secrets.token_hex(4)}"
        self.step(
            "assisted consent at the counter, marked as assisted, for Jiangshan hospital to read a test result",
            lambda: self._committed(
                self.send(
                    kaihua_hosp,
                    kaihua_hosp.name,
                    {
                        "type": "consent.grant_assisted",
                        "consent_id": consent_id,
                        "resident": elder,
                        "assisted": assisted,
                        "grantor": {"type": "self"},
                        "basis": {"type": "consent"},
                        "notice": {
                            "hash": hashlib.sha256(b"Jiangshan hospital notice 2026-1").hexdigest(),
                            "version": "jsh-notice-2026-1",
                        },
                        "separate": True,
                        "purpose": "COC",
                        "data_classes": ["test_result"],
                        "source": kaihua_hosp.name,
                        "recipient": jiangshan_hosp.name,
                        "valid_from_ms": now - 60_000,
                        "valid_until_ms": now + 30 * 86_400_000,
                    },
                )
            ),
        )
        self.step(
            "Jiangshan hospital requests the test result",
            lambda: self._committed(
                self.send(
                    jiangshan_hosp,
                    jiangshan_hosp.name,
                    {
                        "type": "health.request",
                        "case_id": share,
                        "resident": elder,
                        "source": kaihua_hosp.name,
                        "data_class": "test_result",
                        "purpose": "COC",
                    },
                )
            ),
        )
        self.step(
            "the counter ties the consent to the request",
            lambda: self._committed(
                self.send(
                    kaihua_hosp,
                    kaihua_hosp.name,
                    {"type": "health.authorize", "case_id": share, "consent_id": consent_id},
                )
            ),
        )
        document = "检验报告 / test result".encode()

        def release() -> tuple[bool, str]:
            deposited = self.client.deposit(share, document, kaihua_hosp, kaihua_hosp.name)
            fields = {k: deposited[k] for k in ("commitment", "locator")}
            body = {"type": "health.release", "case_id": share, **fields}
            ok, detail = self._committed(self.send(kaihua_hosp, kaihua_hosp.name, body))
            return ok, f"{detail}; the document stays encrypted in {deposited['held_by']}'s vault"

        self.step(
            "Kaihua hospital deposits the result in the vault and releases it: only a salted "
            "commitment and a locator go on the log",
            release,
        )
        self.step(
            "Jiangshan hospital reads it (granted, recorded)",
            lambda: self._outcome(
                self.send(
                    jiangshan_hosp, jiangshan_hosp.name, {"type": "health.access", "case_id": share}
                ),
                "granted",
                elder,
            ),
        )
        self.step(
            "Jiangshan hospital fetches the result, sealed to its key, and checks it against the log",
            lambda: (
                self.client.fetch(share, jiangshan_hosp, jiangshan_hosp.name) == document,
                "the document matches its commitment",
            ),
        )
        self.step(
            "the resident withdraws the consent at the counter",
            lambda: self._committed(
                self.send(
                    kaihua_hosp,
                    kaihua_hosp.name,
                    {"type": "consent.withdraw", "consent_id": consent_id, "assisted": assisted},
                )
            ),
        )
        self.step(
            "a later read is refused, and the refusal is recorded",
            lambda: self._outcome(
                self.send(
                    jiangshan_hosp, jiangshan_hosp.name, {"type": "health.access", "case_id": share}
                ),
                "refused",
                elder,
            ),
        )
        self.step(
            "the vault refuses the document too, and that refusal is recorded as well",
            lambda: self._fetch_refused(share, jiangshan_hosp),
        )
        self.step("the resident lists who accessed the records", lambda: self._access_list(elder))

        self._delegation(elder, kecheng, kaihua_hosp, jiangshan_hosp, now)
        self._emergency(elder, jiangshan_hosp, kaihua_hosp, document)
        self._proof_of_insurance(worker, worker_key, now)

        # --- the auditor
        print("\nAn auditor, trusting no single node, checks the transfer's completion.")
        self.step(
            "inclusion proof against the quorum-signed checkpoint",
            lambda: self._audit(int(completed["leaf_index"])),
        )

        print("\n| step | result |\n| --- | --- |")
        for title, ok, _ in self.results:
            print(f"| {title} | {'ok' if ok else 'FAILED'} |")
        return all(ok for _, ok, _ in self.results)

    def _delegation(
        self, father: str, kecheng: Signer, counter: Signer, hospital: Signer, now: int
    ) -> None:
        """一部手机绑定多人: his daughter, enrolled in Kecheng with her own phone, acts for him
        under a delegation recorded at his counter with the signed power of attorney (民法典 art.
        165); every step she takes is in his log with her named (#13 item 3)."""
        print(
            "\n委托 / Delegation: his daughter works in Kecheng (柯城区). At the Kaihua counter, "
            "with a signed power of attorney, he lets her manage his health consents from her phone."
        )
        daughter_key = Signer.generate("resident-daughter")
        daughter = pseudonym(self.secret, _id("33080219690305004"))
        enroll = {"type": "resident.enroll", "age_class": "adult", "pseudonym": daughter,
                  "key": daughter_key.verifier().encode()}  # fmt: skip
        self.step("Kecheng's service hall enrolls the daughter with her own phone's key",
                  lambda: self._committed(self.send(kecheng, kecheng.name, enroll)))  # fmt: skip
        run = secrets.token_hex(4)
        delegation = {
            "type": "delegation.grant_assisted", "delegation_id": f"dlg-{run}",
            "resident": father, "delegate": daughter,
            "actions": ["consent.grant", "consent.withdraw", "health.authorize"],
            "data_classes": ["health_file_summary", "test_result"],
            "valid_until_ms": now + 90 * 86_400_000, "document_hash": _h("委托书 power of attorney"),
            "assisted": {"channel": "counter", "operator_id": "kh-counter-07",
                         "verification_method": "id_card_reader",
                         "verification_result": "verified", "form_hash": _h("委托书 form")},
        }  # fmt: skip
        self.step("at the counter he delegates his health consents to her (90 days, revocable)",
                  lambda: self._committed(self.send(counter, counter.name, delegation)))  # fmt: skip
        me = f"resident:{daughter}"
        consent_id, case = f"consent-{run}", f"share-{run}"
        consent = {
            "type": "consent.grant", "consent_id": consent_id, "grantor": {"type": "proxy"},
            "basis": {"type": "consent"}, "purpose": "COC", "data_classes": ["test_result"],
            "notice": {"hash": _h("Jiangshan hospital notice 2026-1"),
                       "version": "jsh-notice-2026-1"},
            "separate": True, "source": counter.name, "recipient": hospital.name,
            "valid_from_ms": now - 60_000, "valid_until_ms": now + 30 * 86_400_000,
        }  # fmt: skip

        def for_him(body: dict[str, Any]) -> dict[str, Any]:
            try:
                tx = self.client.sign(daughter_key, body, as_name=me, on_behalf_of=father)
                return self.client.wait(self.client.submit(tx))
            except ApiError as exc:
                return {"status": "refused", "reason": exc.problem.get("type", "")}

        self.step("on her phone she consents for him: Jiangshan may read his test result",
                  lambda: self._committed(for_him(consent)))  # fmt: skip
        request = {"type": "health.request", "case_id": case, "resident": father,
                   "source": counter.name, "data_class": "test_result", "purpose": "COC"}  # fmt: skip
        self.step("Jiangshan hospital requests it, and she ties the consent to the request",
                  lambda: self._both(self.send(hospital, hospital.name, request),
                                     for_him({"type": "health.authorize", "case_id": case,
                                              "consent_id": consent_id})))  # fmt: skip

        def out_of_scope() -> tuple[bool, str]:
            apply = {"type": "pension.apply", "case_id": f"pension-{run}", "kind": "inter_area",
                     "from_agency": "ssb-330824", "to_agency": kecheng.name}  # fmt: skip
            outcome = TxOutcome.of(for_him(apply))
            return outcome.reason == "delegation_out_of_scope", str(outcome)

        self.step("a pension application in his name is outside her delegation: rejected",
                  out_of_scope)  # fmt: skip
        self.step("she withdraws the consent for him",
                  lambda: self._committed(for_him({"type": "consent.withdraw",
                                                   "consent_id": consent_id})))  # fmt: skip

        def his_log_names_her() -> tuple[bool, str]:
            hers = [e for e in self._access(father)
                    if e["agent"] == me and e.get("acting_as") == "delegate"]  # fmt: skip
            seen = self.client.access_log(father, daughter_key, reader=daughter)
            return len(hers) >= 3 and len(seen) >= len(hers), (
                f"{len(hers)} entries by his delegate ("
                + ", ".join(str(e["reason"]) for e in hers)
                + "); she reads them too"
            )

        self.step("his access log names her as his delegate for each step", his_log_names_her)

    def _both(self, *statuses: dict[str, Any]) -> tuple[bool, str]:
        checked = [self._committed(s) for s in statuses]
        return all(ok for ok, _ in checked), "; ".join(d for _, d in checked)

    def _emergency(self, elder: str, er: Signer, source: Signer, document: bytes) -> None:
        """Brought in unconscious, the resident's test result is read without his consent
        (PIPL art. 13(1)(4), 民法典 art. 1220), within the break-glass's window and scope; he
        sees it afterwards (art. 18 para 2), and the auditor sees Jiangshan's rate."""
        print(
            "\n急诊 / Emergency: weeks later he is brought unconscious to Jiangshan's emergency "
            "department, which breaks the glass for his test result at Kaihua."
        )
        run = secrets.token_hex(4)
        emergency, case = f"em-{run}", f"em-{run}-tr"
        glass = {"type": "health.emergency", "emergency_id": emergency, "resident": elder,
                 "source": source.name, "data_classes": ["test_result"], "reason": "unconscious"}  # fmt: skip
        self.step("Jiangshan hospital breaks the glass (reason: unconscious), at once in his log",
                  lambda: self._committed(self.send(er, er.name, glass)))  # fmt: skip
        request = {"type": "health.request", "case_id": case, "resident": elder,
                   "source": source.name, "data_class": "test_result", "purpose": "ETREAT",
                   "emergency_id": emergency}  # fmt: skip
        self.step("it opens the case for the one class named, authorized by the break-glass",
                  lambda: self._committed(self.send(er, er.name, request)))  # fmt: skip

        def release_and_read() -> tuple[bool, str]:
            deposited = self.client.deposit(case, document, source, source.name)
            fields = {k: deposited[k] for k in ("commitment", "locator")}
            body = {"type": "health.release", "case_id": case, **fields}
            released, _ = self._committed(self.send(source, source.name, body))
            read = self.send(er, er.name, {"type": "health.access", "case_id": case})
            fetched = self.client.fetch(case, er, er.name) == document
            return released and fetched and self._committed(read)[0], "released, read, fetched"

        self.step("Kaihua releases it and Jiangshan reads it within the window", release_and_read)

        def he_sees_it() -> tuple[bool, str]:
            marked = [(e["action"], e["reason"]) for e in self._access(elder)
                      if e.get("emergency_reason") == "unconscious" and e["outcome"] == "granted"]  # fmt: skip
            want = [("C", "emergency"), ("E", "emergency"), ("R", "emergency")]
            return marked[:3] == want, "; ".join(f"{a}: {r}" for a, r in marked)

        self.step("afterwards he sees each step marked as an emergency access", he_sees_it)

        def report() -> tuple[bool, str]:
            got = self.client.emergency_report(self.agency("audit-330800"), "audit-330800")
            row = next(r for r in got["hospitals"] if r["hospital"] == er.name)
            return row["emergency_reads"] >= 1, (
                f"{er.name}: {row['emergency_reads']} of {row['reads']} reads under break-glass"
            )

        self.step("the auditor sees each hospital's rate of emergency reads", report)

    def _proof_of_insurance(self, worker: str, worker_key: Signer, now: int) -> None:
        """参保证明: issued in Longyou, handed over by the resident as a tlog-proof file, checked
        in Kecheng with the validators' keys alone (a client with no network at all), then
        asked online whether it still stands, before and after the issuer revokes it."""
        longyou_hsa = self.agency("hsa-330825")  # Kecheng needs no key: checks are unsigned
        proof_id = f"pf-330825-{secrets.token_hex(4)}"
        print(
            "\n参保证明：医保市级统筹（浙江省医疗保障条例第十七条），从龙游迁居柯城的参保人无需转移医保关系；"
            "柯城区医保局只需相信龙游的参保记录。\n"
            "Proof of insurance: medical insurance is pooled city-wide, so the mover from Longyou needs no "
            "transfer; Kecheng needs only to trust Longyou's record, without calling Longyou."
        )
        content = {
            "format": CONTENT_FORMAT, "proof_id": proof_id, "resident": worker,
            "issuer": longyou_hsa.name, "scheme": "employee_medical", "period_from": 201507,
            "period_to": 202605, "contribution_months": 128,
            "expires_ms": now + 90 * 86_400_000,
        }  # fmt: skip
        issued: dict[str, Any] = {}

        def issue() -> tuple[bool, str]:
            deposited = self.client.deposit_proof(content, longyou_hsa, longyou_hsa.name)
            body = {"type": "proof.issue", "commitment": deposited["commitment"],
                    **{k: content[k] for k in ("proof_id", "resident", "scheme", "expires_ms")}}  # fmt: skip
            issued.update(self.send(longyou_hsa, longyou_hsa.name, body))
            ok, detail = self._committed(issued)
            return ok, (
                f"{detail}; 证明内容加密存入 {deposited['held_by']} 的保管库 (the content goes "
                "to the resident through the vault; only its salted commitment is on the log)"
            )

        self.step("龙游县医保局出具参保证明 / Longyou's bureau issues the proof", issue)
        keys = read_verifiers(self.net / "verifier-keys.txt")
        quorum = int(self.client.network()["quorum"])
        held: dict[str, Any] = {}

        def fetch() -> tuple[bool, str]:
            got = self.client.proof_content(proof_id, worker_key, worker)  # NotVerified unless
            held.update(got)  # it matches the commitment in her proof.issue entry
            return got["content"] == content and got["status"] == "active", (
                f"{content['contribution_months']} 个月缴费 ({content['period_from']}–"
                f"{content['period_to']}), checked against her entry at leaf {got['leaf_index']}"
            )

        self.step("本人在手机上取回证明内容 / the resident fetches its content", fetch)
        files: dict[str, str] = {}

        def build() -> tuple[bool, str]:
            text = self.client.proof_file(proof_id, worker_key, worker, keys, quorum)
            files["proof"] = text  # kept in memory: the resident's phone, not this disk
            return text.startswith("c2sp.org/tlog-proof@v1\n"), (
                f"C2SP tlog-proof, {len(text)} bytes: entry, inclusion proof, checkpoint "
                f"cosigned by a quorum of {quorum}"
            )

        self.step("本人生成证明文件 / she builds the proof file she hands over", build)
        offline = ShanheClient(http=httpx.Client(transport=httpx.MockTransport(_no_network)))
        checked: list[CheckedProof] = []

        def check_offline() -> tuple[bool, str]:
            result, status = offline.check_proof(
                files["proof"], keys, quorum, origin=self.origin(), online=False, issuer=longyou_hsa.name,
                resident_pseudonym=worker,
            )  # fmt: skip
            checked.append(result)
            return status is None and result.issuer == longyou_hsa.name, (
                f"valid: {result.content['scheme']} by {result.issuer}, entry {result.index} in "
                f"tree {result.checkpoint.size}, cosigned by {len(result.signers)} validators; "
                "no request left the checking client"
            )

        self.step(
            "柯城区医保局离线核验，不联系出具方 / Kecheng checks it offline, with the "
            "validators' keys alone",
            check_offline,
        )
        self.step(
            "改动缴费月数的证明被拒 / a copy with more contribution months is refused",
            lambda: self._forged_refused(offline, files["proof"], keys, quorum),
        )
        self.step(
            "柯城在线查询是否已作废 / Kecheng asks online whether it was revoked: still active",
            lambda: self._proof_status(checked[0], "active"),
        )
        self.step(
            "龙游作废该证明（已重新出具） / Longyou revokes it (superseded)",
            lambda: self._committed(
                self.send(
                    longyou_hsa,
                    longyou_hsa.name,
                    {"type": "proof.revoke", "proof_id": proof_id, "reason": "superseded"},
                )
            ),
        )
        self.step(
            "离线仍然有效，在线报告已作废 / offline it still holds; online Kecheng is told it "
            "was revoked",
            lambda: self._revoked_online(offline, files["proof"], keys, quorum),
        )

    def _forged_refused(
        self, offline: ShanheClient, text: str, keys: list[Verifier], quorum: int
    ) -> tuple[bool, str]:
        """The same file with its content edited (more contribution months) fails offline."""
        parsed = parse_tlog_proof(text)
        if not isinstance(parsed, TlogProof) or parsed.extra is None:
            return False, "the proof file does not parse"
        extra = json.loads(parsed.extra)
        extra["content"]["contribution_months"] += 3  # within the period
        forged = replace(parsed, extra=canonical_json(extra)).encode()
        try:
            offline.check_proof(forged, keys, quorum, origin=self.origin(), online=False)
        except NotVerified as exc:
            return "commitment_mismatch" in str(exc), f"refused: {exc}"
        return False, "a forged proof was accepted"

    def _proof_status(self, checked: CheckedProof, want: str) -> tuple[bool, str]:
        """The one question asked of a node: public, answered only for the proof's commitment
        (the serial number alone tells nothing)."""
        deadline = time.monotonic() + 10
        while True:  # the node asked may be a block behind the one that revoked it
            status = self.client.proof_status(str(checked.content["proof_id"]), checked.commitment)
            if status["status"] == want or time.monotonic() > deadline:
                reason = f" ({status['revoked_reason']})" if status.get("revoked_reason") else ""
                return status[
                    "status"
                ] == want, f"{status['status']}{reason}, issuer {status['issuer']}"
            time.sleep(0.2)

    def _revoked_online(
        self, offline: ShanheClient, text: str, keys: list[Verifier], quorum: int
    ) -> tuple[bool, str]:
        result, _ = offline.check_proof(text, keys, quorum, origin=self.origin(), online=False)
        ok, detail = self._proof_status(result, "revoked")
        return ok, f"offline: valid (it cannot know); online: {detail}"

    @staticmethod
    def _committed(status: dict[str, Any]) -> tuple[bool, str]:
        """Applied: committed, and what it asked for done (not refused by the rules)."""
        if status.get("status") == "refused":  # at admission
            return False, f"refused ({status.get('reason')})"
        outcome = TxOutcome.of(status)
        return outcome.applied, str(outcome)

    def _outcome(self, status: dict[str, Any], want: str, resident: str) -> tuple[bool, str]:
        """A read is always committed: applied when granted, refused (with the reason) when
        not; the resident's access log says the same."""
        if status.get("status") != "committed":
            return False, str(status)
        outcome = TxOutcome.of(status)
        last = self._access(resident)[-1]
        reason = f" ({last['reason']})" if last["reason"] else ""
        agrees = (outcome.outcome == "applied") == (want == "granted") and (
            outcome.reason == last["reason"]
        )
        return last["outcome"] == want and agrees, (
            f"{last['outcome']}{reason}, on the log at leaf {status['leaf_index']} "
            f"(outcome {outcome.outcome})"
        )

    def _access(self, resident: str) -> list[dict[str, Any]]:
        return self.client.access_log(resident, self.elder_key)

    def _fetch_refused(self, share: str, hospital: Signer) -> tuple[bool, str]:
        try:
            self.client.fetch(share, hospital, hospital.name)
        except ApiError as exc:
            return exc.status == 403, f"{exc.status}: {exc.problem.get('detail')}"
        return False, "the document was delivered after the withdrawal"

    def _access_list(self, resident: str) -> tuple[bool, str]:
        want = [
            ("E", "hosp-330824", "granted"),
            ("R", "hosp-330881", "granted"),
            ("R", "hosp-330881", "granted"),  # the case file, read before the fetch (node)
            ("R", "hosp-330881", "refused"),
            ("R", "hosp-330881", "granted"),  # the case file again
            ("R", "hosp-330881", "refused"),  # the vault's refusal, recorded by the node
        ]
        deadline = time.monotonic() + 10
        while True:  # the node's record of the vault refusal takes a block to commit
            seen = [(e["action"], e["agent"], e["outcome"]) for e in self._access(resident)]
            if len(seen) >= len(want) or time.monotonic() > deadline:
                return seen == want, "; ".join(f"{a} by {g}: {o}" for a, g, o in seen)
            time.sleep(0.2)

    def _audit(self, leaf_index: int) -> tuple[bool, str]:
        keys = read_verifiers(self.net / "verifier-keys.txt")
        quorum = int(self.client.network()["quorum"])
        deadline = time.monotonic() + 20
        checkpoint, opened = self.client.checkpoint(keys, quorum)
        while checkpoint.size <= leaf_index:  # cosignatures of the newest head may still travel
            if time.monotonic() > deadline:
                return False, f"no quorum checkpoint covering leaf {leaf_index}"
            time.sleep(0.2)
            checkpoint, opened = self.client.checkpoint(keys, quorum)
        # the entry itself is read by the auditor agency, signed: the log's content is not
        # public (pseudonymized data is personal information); proof and checkpoint are
        auditor = self.agency("audit-330800")
        anonymous = ShanheClient(self.url)
        try:
            anonymous._get(f"/v1/entries/{leaf_index}")
            return False, "the entry was served to an unsigned caller"
        except ApiError as exc:
            if exc.status != 401:
                return False, f"an unsigned caller got {exc.status}, not 401"
        self.client.entry(
            leaf_index, checkpoint, auditor, auditor.name
        )  # NotVerified unless proven
        signers = len(opened.valid_signers)
        return (
            True,
            f"leaf {leaf_index} in tree {checkpoint.size}, cosigned by {signers} validators; "
            "the entry read by the audit bureau with a signed request (unsigned: 401)",
        )


def _no_network(request: httpx.Request) -> httpx.Response:
    """The offline checker's transport: any request at all fails the step."""
    raise httpx.ConnectError(f"offline: {request.method} {request.url} was attempted")


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def run_demo(data_dir: Path, node_url: str | None, base_port: int = 8700) -> int:
    proc = None
    if node_url is None:
        if not is_network(data_dir):
            init_network(data_dir, 4, base_port=base_port)
        proc = subprocess.Popen([sys.executable, "-m", "node.cli", "cluster", "up", "--data-dir", str(data_dir)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # fmt: skip
        node_url = f"http://127.0.0.1:{base_port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{node_url}/healthz", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
    try:
        demo = Demo(data_dir, node_url)
        return 0 if demo.run() else 1
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            proc.wait(30)
