"""``shanhe demo``: a narrated Quzhou scenario, checked step by step, on a local cluster.

A Longyou resident moves to Kecheng and transfers the pension relation; an elderly Kaihua
resident gives assisted consent at a counter so that a Jiangshan hospital can read a test
result, then withdraws it and a later read is refused; the resident lists who accessed the
records; an auditor verifies a transfer's inclusion proof against the quorum-signed checkpoint.
Residents are synthetic, with well-formed ID numbers that only agency systems ever see.
"""

import hashlib
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from api.client import ApiError, NotVerified, ShanheClient, TxOutcome
from contracts.pension import info_commitments
from node.identity import check_digit, pseudonym
from node.keys import read_signer, read_verifiers
from node.network_init import init_network, is_network
from tlog.note import Signer


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
        info = info_commitments(
            secrets.token_bytes(32),
            case,
            {"contribution_months": 187, "individual_account_fen": 4_321_000,
             "pooled_fund_fen": 9_876_500},
        )  # fmt: skip
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
                        {"type": "pension.complete", "case_id": case, "received_commitments": info},
                    )
                )
                or completed
            ),
        )

        # --- an elderly Kaihua resident at a service counter
        elder_id = _id("33082419380917002")
        elder = pseudonym(self.secret, elder_id)
        print(
            "\nAn 87-year-old resident of Kaihua (开化县) without a smartphone comes to the hospital counter."
        )
        self.step(
            "Kaihua hospital enrolls the resident",
            lambda: self._committed(
                self.send(
                    kaihua_hosp,
                    kaihua_hosp.name,
                    {
                        "type": "resident.enroll",
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
