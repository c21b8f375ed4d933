"""``shanhe keygen`` and ``shanhe tx ...``: make keys, build, sign and submit transactions
through the client SDK (one subcommand per registered transaction type)."""

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from api.client import ApiError, NotVerified, ShanheClient, TxOutcome
from node.keys import KeyFileError, read_signer, read_verifiers, write_signer
from tlog.note import Signer


class FieldError(ValueError):
    pass


def keygen(name: str, out: Path) -> int:
    """A new Ed25519 key (file mode 0600, never overwritten); prints the verifier key, which
    is what ``resident.enroll``, ``governance.*`` and auditors' key files take."""
    try:
        signer = Signer.generate(name)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        write_signer(out, signer)
    except FileExistsError:
        print(f"error: {out} exists; keys are never overwritten", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write {out}: {exc.strerror}", file=sys.stderr)
        return 2
    print(signer.verifier().encode())
    return 0


def fields(strings: list[str], json_values: list[str]) -> dict[str, Any]:
    """``--set k=v`` gives strings; ``--set-json k=<JSON>`` gives numbers, lists, objects."""
    out: dict[str, Any] = {}
    for pair in strings:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise FieldError(f"--set takes key=value, got {pair!r}")
        out[key] = value
    for pair in json_values:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise FieldError(f"--set-json takes key=<JSON>, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError as exc:
            raise FieldError(f"--set-json {key}: not JSON: {exc.msg}") from exc
    return out


class UsageError(Exception):
    """Exit 2: a key, file or argument the command cannot use."""


def _signer(path: Path) -> Signer:
    try:
        return read_signer(path)
    except KeyFileError as exc:
        raise UsageError(str(exc)) from exc


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


def _run(node_url: str, command: Callable[[ShanheClient], int]) -> int:
    """One exit-code convention for every command that talks to a node: 0 done, 1 refused,
    unreachable or not verified (reason on stderr), 2 usage."""
    try:
        return command(ShanheClient(node_url))
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ApiError as exc:
        print(f"refused: {exc}", file=sys.stderr)
    except NotVerified as exc:
        print(f"invalid: {exc}", file=sys.stderr)
    except httpx.HTTPError as exc:
        print(f"error: cannot reach {node_url}: {exc}", file=sys.stderr)
    return 1


def submit(
    node_url: str, key_path: Path, body: dict[str, Any], as_name: str | None, wait: bool
) -> int:
    """Sign ``body`` (type and fields; chain id, signer and nonce are added) and submit it.
    Prints the transaction hash last on stdout. With ``wait``, first its final status (JSON)
    and its outcome: exit 0 only if it was applied; 1 if the rules refused it (it is on the
    log, recorded as refused), rejected it, or it is still pending at the timeout."""

    def command(client: ShanheClient) -> int:
        tx_hash = client.submit(client.sign(_signer(key_path), body, as_name))
        if not wait:
            print(f"submitted, tx {tx_hash}")
            return 0
        status = client.wait(tx_hash)
        print(json.dumps(status))
        outcome = TxOutcome.of(status)
        print(f"{outcome}, tx {tx_hash}")
        if not outcome.applied:
            print(f"not applied: {outcome}", file=sys.stderr)
        return 0 if outcome.applied else 1

    return _run(node_url, command)


def signed_request(
    node_url: str, key_path: Path, as_name: str | None, method: str, target: str,
    data_file: Path | None,
) -> int:  # fmt: skip
    """``shanhe request``: one RFC 9421-signed request (what curl cannot sign); prints the
    response body, and a problem on stderr with exit 1."""

    def command(client: ShanheClient) -> int:
        signer = _signer(key_path)
        body = _read(data_file) if data_file else b""
        path, _, query = target.partition("?")
        print(client.signed(method, path, signer, as_name or signer.name, body, query).text)
        return 0

    return _run(node_url, command)


def vault_deposit(
    node_url: str, key_path: Path, case_id: str, document: Path, release: bool
) -> int:
    """``shanhe vault deposit``: prints the JSON with the locator and commitment that go into
    ``health.release``; with ``release``, submits that transaction too and waits for it."""

    def command(client: ShanheClient) -> int:
        signer = _signer(key_path)
        deposited = client.deposit(case_id, _read(document), signer, signer.name)
        print(json.dumps(deposited))
        if not release:
            return 0
        body = {"type": "health.release", "case_id": case_id}
        body |= {k: deposited[k] for k in ("commitment", "locator")}
        return submit(node_url, key_path, body, None, wait=True)

    return _run(node_url, command)


def vault_fetch(node_url: str, key_path: Path, case_id: str, out: Path) -> int:
    """``shanhe vault fetch``: the document, opened with the key and checked against its
    commitment on the log, written to ``out``."""

    def command(client: ShanheClient) -> int:
        signer = _signer(key_path)
        document = client.fetch(case_id, signer, signer.name)
        out.write_bytes(document)
        print(f"{len(document)} bytes, matching the commitment on the log, written to {out}")
        return 0

    return _run(node_url, command)


def proof_file(
    node_url: str, key_path: Path, as_name: str | None, proof_id: str, verifier_keys: Path,
    quorum: int | None, out: Path,
) -> int:  # fmt: skip
    """``shanhe proof file``: the resident's proof of insurance as the C2SP tlog-proof file she
    hands another agency (``ShanheClient.proof_file``: her content, checked against her entry,
    its inclusion proof and a checkpoint cosigned by ``quorum`` of the keys), written to
    ``out``; ``shanhe verify proof`` checks it offline."""

    def command(client: ShanheClient) -> int:
        signer = _signer(key_path)
        keyid = as_name or signer.name
        if not keyid.startswith("resident:"):
            raise UsageError("the proof file is the resident's: --as resident:<pseudonym>")
        try:
            keys = read_verifiers(verifier_keys)
        except KeyFileError as exc:
            raise UsageError(str(exc)) from exc
        needed = quorum or 2 * len(keys) // 3 + 1
        text = client.proof_file(proof_id, signer, keyid.removeprefix("resident:"), keys, needed)
        out.write_text(text)
        print(f"proof {proof_id}: {len(text)} bytes, checked at quorum {needed}, written to {out}")
        return 0

    return _run(node_url, command)


def resident_pseudonym(secret_path: Path, id_number: str) -> int:
    """``shanhe pseudonym``: what an agency system computes from an ID number (HMAC under the
    network secret); the ID number itself never leaves the agency."""
    from node.identity import pseudonym, valid_id_number

    if not valid_id_number(id_number):
        print("error: not a valid 18-character resident ID number", file=sys.stderr)
        return 2
    try:
        secret = secret_path.read_bytes()
    except OSError as exc:
        print(f"error: cannot read {secret_path}: {exc.strerror}", file=sys.stderr)
        return 2
    print(pseudonym(secret, id_number))
    return 0


def submit_anchor(node_url: str, key_path: Path, sha256: str, nonce: str | None) -> int:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        print("error: --sha256 takes 64 lowercase hex digits", file=sys.stderr)
        return 2
    body = {"type": "anchor", "sha256": sha256, **({"nonce": nonce} if nonce else {})}
    return submit(node_url, key_path, body, None, wait=False)


def submit_typed(
    node_url: str,
    key_path: Path,
    tx_type: str,
    strings: list[str],
    json_values: list[str],
    as_name: str | None,
    wait: bool,
) -> int:
    try:
        body = fields(strings, json_values)
    except FieldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    reserved = {"type", "chain_id", "signer"} & body.keys()
    if reserved:
        print(f"error: {', '.join(sorted(reserved))} are set by the CLI", file=sys.stderr)
        return 2
    return submit(node_url, key_path, {"type": tx_type, **body}, as_name, wait)
