"""The ``shanhe`` command. Exit codes: 0 ok/valid, 1 invalid or failed, 2 usage error."""

import argparse
import base64
import binascii
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from contracts.governance import quorum as governance_quorum
from node.keys import KeyFileError, read_verifiers
from tlog.checkpoint import CheckpointError, verify_checkpoint
from tlog.hashing import leaf_hash
from tlog.note import NoteError, Verifier
from tlog.verify import verify_consistency, verify_inclusion


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise argparse.ArgumentTypeError(f"not standard base64: {text!r}") from exc


def _proof(text: str) -> list[bytes]:
    return [] if text == "" else [_b64(part) for part in text.split(",")]


def _hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not hex: {text!r}") from exc


def _verdict(error: object | None, ok: str) -> int:
    if error is None:
        print(ok)
        return 0
    print(f"invalid: {error}", file=sys.stderr)
    return 1


def _cmd_verify_inclusion(args: argparse.Namespace) -> int:
    if args.leaf_file is not None:
        try:
            leaf = leaf_hash(Path(args.leaf_file).read_bytes())
        except OSError as exc:
            print(f"error: cannot read {args.leaf_file}: {exc.strerror}", file=sys.stderr)
            return 2
    else:
        leaf = args.leaf_hash
    err = verify_inclusion(args.index, args.size, leaf, args.proof, args.root)
    return _verdict(err, f"valid: leaf {args.index} is in the tree of size {args.size}")


def _cmd_verify_consistency(args: argparse.Namespace) -> int:
    err = verify_consistency(args.first, args.second, args.first_root, args.second_root, args.proof)
    return _verdict(
        err, f"valid: the tree of size {args.second} extends the one of size {args.first}"
    )


def _read_inputs(keys: str, file: str, what: str) -> tuple[list[Verifier], bytes] | int:
    """The verifier keys and the file a ``verify`` command checks, or its exit code: 2 for a
    bad key file (the operator's setup), 1 for an input that cannot be read (it is invalid)."""
    try:
        return read_verifiers(Path(keys)), Path(file).read_bytes()
    except KeyFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"invalid: cannot read {what} {file}: {exc}", file=sys.stderr)
        return 1


def _text(data: bytes, what: str, file: str) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        print(f"invalid: cannot read {what} {file}: {exc}", file=sys.stderr)
        return None


def _cmd_verify_checkpoint(args: argparse.Namespace) -> int:
    read = _read_inputs(args.keys, args.file, "checkpoint")
    if isinstance(read, int):
        return read
    verifiers, data = read
    if (note := _text(data, "checkpoint", args.file)) is None:
        return 1
    result = verify_checkpoint(note, verifiers, args.quorum)
    if isinstance(result, NoteError | CheckpointError):
        return _verdict(result, "")
    checkpoint, opened = result
    return _verdict(
        None,
        f"valid: {checkpoint.origin} size {checkpoint.size} "
        f"root {base64.b64encode(checkpoint.root).decode()} "
        f"signed by {len(opened.valid_signers)} ({', '.join(opened.valid_signers)})",
    )


def _cmd_verify_export(args: argparse.Namespace) -> int:
    """A resident's copy checked offline (``contracts.export.check_export``)."""
    from contracts.export import CheckedExport, check_export

    read = _read_inputs(args.verifier_keys, args.file, "export")
    if isinstance(read, int):
        return read
    verifiers, data = read
    quorum = args.quorum or governance_quorum(len(verifiers))
    result = check_export(data, verifiers, quorum, origin=args.origin, resident=args.resident,
                          request_id=args.request_id)  # fmt: skip
    if not isinstance(result, CheckedExport):
        return _verdict(result, "")
    e = result.export
    print(
        f"valid: copy {e['request']['request_id']} of resident {e['resident'][:12]}…, "
        f"{result.items} items from {result.entries} entries, signed by {result.signer}; "
        f"entries proven in {result.checkpoint.origin} size {result.checkpoint.size}, "
        f"cosigned by {len(result.cosigners)} of quorum {quorum}; item values are served "
        f"by {result.signer} (derived from the entries)"
    )
    return 0


def _cmd_verify_proof(args: argparse.Namespace) -> int:
    """A proof of insurance checked offline (``contracts.proofs.check_proof_file``); with
    ``--node``, also asked whether it was revoked since (exit 1 if it was)."""
    import time

    from contracts.proofs import CheckedProof, check_proof_file

    read = _read_inputs(args.verifier_keys, args.file, "proof")
    if isinstance(read, int):
        return read
    verifiers, data = read
    if (text := _text(data, "proof", args.file)) is None:
        return 1
    quorum = args.quorum or governance_quorum(len(verifiers))
    now = args.now_ms if args.now_ms is not None else int(time.time() * 1000)
    result = check_proof_file(text, verifiers, quorum, now, origin=args.origin,
                              issuer=args.issuer, resident_pseudonym=args.resident)  # fmt: skip
    if not isinstance(result, CheckedProof):
        return _verdict(result, "")
    c = result.content
    print(
        f"valid: proof {c['proof_id']} by {result.issuer}: {c['scheme']} for resident "
        f"{c['resident'][:12]}…, insured {c['period_from']}-{c['period_to']}, "
        f"{c['contribution_months']} contribution months, expires at {c['expires_ms']} ms; "
        f"entry {result.index} in {result.checkpoint.origin} size {result.checkpoint.size}, "
        f"cosigned by {len(result.signers)} of quorum {quorum} ({', '.join(result.signers)})"
    )
    if args.node is None:
        print("offline: whether it was revoked since is known only online (--node URL)")
        return 0
    import httpx

    from api.client import ApiError, ShanheClient

    try:
        status = ShanheClient(args.node).proof_status(str(c["proof_id"]), result.commitment)
    except ApiError as exc:
        print(f"invalid: {args.node} knows no such proof: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"error: cannot ask {args.node}: {exc}", file=sys.stderr)
        return 2
    if status["status"] != "active":
        reason = status.get("revoked_reason") or status["status"]
        print(f"invalid: proof_{status['status']}: {reason} (online, {args.node})",
              file=sys.stderr)  # fmt: skip
        return 1
    print(f"online: active at {args.node}")
    return 0


def _cmd_log_audit(args: argparse.Namespace) -> int:
    from node.audit import audit_log
    from node.db import open_database

    try:
        verifiers = read_verifiers(Path(args.keys)) if args.keys else []
    except KeyFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.db.startswith("sqlite") and not Path(args.db.split(":///", 1)[-1]).is_file():
        print(f"error: no database file at {args.db}", file=sys.stderr)
        return 2
    engine = open_database(args.db, create=False)
    try:
        with engine.connect() as conn:
            report = audit_log(conn, verifiers, args.quorum)
    except SQLAlchemyError as exc:
        print(f"audit failed: cannot read the log: {type(exc).__name__}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if report.ok:
        print(report.message)
        return 0
    print(f"audit failed: {report.message}", file=sys.stderr)
    return 1


def _cmd_init(args: argparse.Namespace) -> int:
    from node.network_init import init_network

    try:
        configs = init_network(
            Path(args.out), args.nodes, args.chain_id, args.base_port, args.host, args.peer_url,
            args.public_name,
        )  # fmt: skip
    except (FileExistsError, ValueError, KeyError, IndexError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"network {args.chain_id} with {args.nodes} validators in {args.out}")
    for path in configs:
        print(f"  {path}")
    print(f"auditors' keys: {Path(args.out) / 'verifier-keys.txt'}")
    return 0


def _governance_steps(node_url: str, proposal_id: str, action: str, subject: dict[str, str]) -> str:
    """The two commands that put a validator change through governance, ready to paste."""
    import shlex

    subject_json = shlex.quote("validator=" + json.dumps(subject, separators=(",", ":")))
    return (
        f"  a governance agency proposes it (its approval counts):\n"
        f"    shanhe tx governance.propose --node {node_url} --key AGENCY.key \\\n"
        f"      --set proposal_id={proposal_id} --set action={action} --set-json {subject_json}\n"
        f"  more governance agencies approve it, until more than two thirds of them have:\n"
        f"    shanhe tx governance.approve --node {node_url} --key AGENCY.key "
        f"--set proposal_id={proposal_id} --wait\n"
    )


def _cmd_validator_keygen(args: argparse.Namespace) -> int:
    from api.tx_cli import keygen
    from node.network_init import VALIDATOR_NAME

    if not VALIDATOR_NAME.match(args.name):
        print("error: --name: 1-64 letters, digits or ._-", file=sys.stderr)
        return 2
    return keygen(args.name, Path(args.out))


def _cmd_validator_join(args: argparse.Namespace) -> int:
    from node.keys import KeyFileError
    from node.network_init import join_network

    peers: dict[str, str] = {}
    for pair in args.peer:
        peer_name, sep, url = pair.partition("=")
        if not sep or not peer_name or not url:
            print(f"error: --peer takes NAME=URL, got {pair!r}", file=sys.stderr)
            return 2
        peers[peer_name] = url
    out = Path(args.out)
    try:
        joined = join_network(
            Path(args.genesis), peers, out, args.name, args.host, args.port, args.url
        )
    except (OSError, ValueError, KeyError, TypeError, KeyFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    name = joined.verifier.split("+", 1)[0]
    print(f"validator {name}: config {joined.config}, verifier key {joined.verifier}")
    print("next:")
    print(f"  start it; it follows and catches up by block sync:\n"
          f"    shanhe node run --config {joined.config}")  # fmt: skip
    subject = {"name": name, "key": joined.verifier, "url": joined.url}
    print(
        _governance_steps(
            next(iter(sorted(peers.values()))), f"add-{name}", "add_validator", subject
        ),
        end="",
    )
    print("  from the height after the block that applies it, it proposes and votes")
    return 0


def _cmd_validator_rotate_key(args: argparse.Namespace) -> int:
    from node.genesis import NodeConfig
    from node.keys import KeyFileError
    from node.network_init import next_key

    config_path = Path(args.config)
    try:
        config = NodeConfig.load(config_path)
        target = config.path(config.next_key_file)
        if target.exists():
            raise ValueError(f"{target} exists; keys are never overwritten")
        verifier = next_key(config_path)
    except (OSError, ValueError, KeyError, TypeError, KeyFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    name = verifier.split("+", 1)[0]
    print(f"next key of {name}: {config.path(config.next_key_file)}, verifier key {verifier}")
    print("next:")
    node_url = f"http://{config.host}:{config.port}"
    subject = {"name": name, "key": verifier}
    print(
        _governance_steps(
            node_url, f"rotate-{name}-{verifier.split('+')[1]}", "rotate_validator_key", subject
        ),
        end="",
    )
    print("  the running node signs with the next key from the height after the block that "
          "applies it (no restart); keep both key files until then")  # fmt: skip
    return 0


def _cmd_node_run(args: argparse.Namespace) -> int:
    from node.runner import run_node

    return run_node(Path(args.config), args.db_url)


def _cmd_cluster_up(args: argparse.Namespace) -> int:
    from node.cluster import cluster_up

    return cluster_up(Path(args.data_dir), args.nodes, args.base_port)


def _cmd_tx_anchor(args: argparse.Namespace) -> int:
    from api.tx_cli import submit_anchor

    return submit_anchor(args.node, Path(args.key), args.sha256, args.nonce)


def _cmd_tx_typed(args: argparse.Namespace) -> int:
    from api.tx_cli import submit_typed

    return submit_typed(
        args.node, Path(args.key), args.tx_type, args.set, args.set_json, args.as_name, args.wait
    )


def _cmd_request(args: argparse.Namespace) -> int:
    from api.tx_cli import signed_request

    data = Path(args.data_file) if args.data_file else None
    return signed_request(args.node, Path(args.key), args.as_name, args.method, args.path, data)


def _cmd_vault(args: argparse.Namespace) -> int:
    from api.tx_cli import vault_deposit, vault_fetch

    if args.vault_command == "deposit":
        return vault_deposit(args.node, Path(args.key), args.case_id, Path(args.file), args.release)
    return vault_fetch(args.node, Path(args.key), args.case_id, Path(args.out))


def _cmd_proof_file(args: argparse.Namespace) -> int:
    from api.tx_cli import proof_file

    return proof_file(args.node, Path(args.key), args.as_name, args.proof_id,
                      Path(args.verifier_keys), args.quorum, Path(args.out))  # fmt: skip


def _cmd_pseudonym(args: argparse.Namespace) -> int:
    from api.tx_cli import resident_pseudonym

    return resident_pseudonym(Path(args.secret), args.id_number)


def _cmd_keygen(args: argparse.Namespace) -> int:
    from api.tx_cli import keygen

    return keygen(args.name, Path(args.out))


def _cmd_audit(args: argparse.Namespace) -> int:
    from api.audit import run_audit

    try:
        keys = read_verifiers(Path(args.keys))
    except KeyFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    quorum = args.quorum or 2 * len(keys) // 3 + 1
    return run_audit(args.node, keys, quorum, Path(args.state))


def _cmd_demo(args: argparse.Namespace) -> int:
    from api.demo import run_demo

    return run_demo(Path(args.data_dir), args.node, args.base_port)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shanhe", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    verify = commands.add_parser("verify", help="check proofs and checkpoints offline")
    kinds = verify.add_subparsers(dest="kind", required=True)

    inc = kinds.add_parser("inclusion", help="an entry is in the log")
    leaf = inc.add_mutually_exclusive_group(required=True)
    leaf.add_argument("--leaf-hash", type=_hex, help="RFC 9162 leaf hash, hex")
    leaf.add_argument("--leaf-file", help="file holding the exact leaf bytes")
    inc.add_argument("--index", type=int, required=True)
    inc.add_argument("--size", type=int, required=True)
    inc.add_argument("--root", type=_b64, required=True)
    inc.add_argument("--proof", type=_proof, required=True, help="B64[,B64...]; '' if empty")
    inc.set_defaults(func=_cmd_verify_inclusion)

    con = kinds.add_parser("consistency", help="the log only grew")
    con.add_argument("--first", type=int, required=True)
    con.add_argument("--second", type=int, required=True)
    con.add_argument("--first-root", type=_b64, required=True)
    con.add_argument("--second-root", type=_b64, required=True)
    con.add_argument("--proof", type=_proof, required=True, help="B64[,B64...]; '' if empty")
    con.set_defaults(func=_cmd_verify_consistency)

    chk = kinds.add_parser("checkpoint", help="a quorum of known keys signed a tree head")
    chk.add_argument("--file", required=True, help="the signed checkpoint note")
    chk.add_argument("--keys", required=True, help="verifier keys, one a line")
    chk.add_argument("--quorum", type=int, required=True)
    chk.set_defaults(func=_cmd_verify_checkpoint)

    prf = kinds.add_parser("proof", help="a proof of insurance (C2SP tlog-proof file)")
    prf.add_argument("file", help="the .tlog-proof file the resident handed over")
    prf.add_argument("--verifier-keys", required=True, help="validators' keys, one a line")
    prf.add_argument("--quorum", type=int, help="cosignatures needed (default: 2n/3+1)")
    prf.add_argument(
        "--origin",
        required=True,
        help="the log's origin line the checkpoint must carry (the genesis names it)",
    )
    prf.add_argument("--issuer", help="the bureau that must have issued it")
    prf.add_argument("--resident", help="the pseudonym it must be about")
    prf.add_argument("--now-ms", type=int, help="check expiry at this time (default: now)")
    prf.add_argument("--node", help="also ask this node whether it was revoked (online)")
    prf.set_defaults(func=_cmd_verify_proof)

    exp = kinds.add_parser("export", help="a resident's copy (PIPL art. 45), as a node signed it")
    exp.add_argument("file", help="the export (JSON) the node served")
    exp.add_argument("--verifier-keys", required=True, help="validators' keys, one a line")
    exp.add_argument("--quorum", type=int, help="cosignatures needed (default: 2n/3+1)")
    exp.add_argument("--origin", required=True, help="the log's origin line (the genesis names it)")
    exp.add_argument("--resident", help="the pseudonym it must be about")
    exp.add_argument("--request-id", help="the copy request it must answer")
    exp.set_defaults(func=_cmd_verify_export)

    log = commands.add_parser("log", help="operate on a node's log database")
    log_commands = log.add_subparsers(dest="log_command", required=True)
    audit = log_commands.add_parser("audit", help="recompute every stored hash and check it")
    audit.add_argument("--db", required=True, help="SQLAlchemy URL of the node database")
    audit.add_argument("--keys", help="verifier keys to check the latest checkpoint's signatures")
    audit.add_argument("--quorum", type=int, default=1)
    audit.set_defaults(func=_cmd_log_audit)

    init = commands.add_parser("init", help="create keys, genesis and node configs")
    init.add_argument("--nodes", type=int, default=4)
    init.add_argument("--out", required=True)
    init.add_argument("--chain-id", default="shanhe-quzhou-dev")
    init.add_argument("--base-port", type=int, default=8700)
    init.add_argument("--host", default="127.0.0.1", help="address each node listens on")
    init.add_argument(
        "--peer-url",
        default="http://{host}:{port}",
        help="how nodes reach each other; {host}, {port}, {i} are filled in",
    )
    init.add_argument(
        "--public-name",
        action="append",
        default=[],
        metavar="TEMPLATE",
        help="another host[:port] or URL clients reach each node by, e.g. "
        "'https://node{i}.example' (repeatable): signed requests must name one of a node's "
        "names; its peer URL's and, for a loopback or wildcard --host, 127.0.0.1:{port} and "
        "localhost:{port} are always among them",
    )
    init.set_defaults(func=_cmd_init)

    node = commands.add_parser("node", help="run one validator node")
    node_commands = node.add_subparsers(dest="node_command", required=True)
    run = node_commands.add_parser("run", help="run the node of a config file")
    run.add_argument("--config", required=True)
    run.add_argument("--db-url", help="SQLAlchemy URL of the node database (overrides config)")
    run.set_defaults(func=_cmd_node_run)

    validator = commands.add_parser(
        "validator", help="a validator joining a running network, or rotating its key"
    )
    validator_commands = validator.add_subparsers(dest="validator_command", required=True)
    vkeygen = validator_commands.add_parser(
        "keygen", help="a new validator key (file mode 0600); prints its verifier key"
    )
    vkeygen.add_argument("--name", required=True, help="the validator's name")
    vkeygen.add_argument("--out", required=True, help="key file to create (e.g. DIR/node.key)")
    vkeygen.set_defaults(func=_cmd_validator_keygen)
    join = validator_commands.add_parser(
        "join", help="config, key and genesis of a validator joining a running network"
    )
    join.add_argument("--genesis", required=True, help="the network's genesis.json")
    join.add_argument(
        "--peer", action="append", default=[], metavar="NAME=URL",
        help="a running validator to sync from (repeat; the genesis validators' URLs)",
    )  # fmt: skip
    join.add_argument("--out", required=True, help="the new node's directory")
    join.add_argument("--name", help="validator name (needed unless DIR/node.key exists)")
    join.add_argument("--host", default="127.0.0.1", help="address it listens on")
    join.add_argument("--port", type=int, default=8700)
    join.add_argument("--url", help="where the others reach it (default http://HOST:PORT)")
    join.set_defaults(func=_cmd_validator_join)
    rotate = validator_commands.add_parser(
        "rotate-key", help="make this node's next key; prints the governance change to apply"
    )
    rotate.add_argument("--config", required=True, help="the node's config.json")
    rotate.set_defaults(func=_cmd_validator_rotate_key)

    cluster = commands.add_parser("cluster", help="a local cluster of node processes")
    cluster_commands = cluster.add_subparsers(dest="cluster_command", required=True)
    up = cluster_commands.add_parser("up", help="start (and init if needed) a local cluster")
    up.add_argument("--nodes", type=int, default=4)
    up.add_argument("--data-dir", default="data")
    up.add_argument("--base-port", type=int, default=8700)
    up.set_defaults(func=_cmd_cluster_up)

    auditor = commands.add_parser(
        "audit", help="check every node's checkpoint, consistency and forks"
    )
    auditor.add_argument(
        "--node", action="append", required=True, help="node URL (repeat for each)"
    )
    auditor.add_argument("--keys", required=True, help="validators' verifier keys, one a line")
    auditor.add_argument("--quorum", type=int, help="default: more than two thirds of the keys")
    auditor.add_argument("--state", default="shanhe-audit.json", help="last audited head")
    auditor.set_defaults(func=_cmd_audit)

    demo = commands.add_parser("demo", help="a narrated Quzhou scenario on a local cluster")
    demo.add_argument("--data-dir", default="demo-data", help="network directory (keys, agencies)")
    demo.add_argument("--node", help="URL of a running node of that network (default: start one)")
    demo.add_argument("--base-port", type=int, default=8700)
    demo.set_defaults(func=_cmd_demo)

    tx = commands.add_parser("tx", help="sign and submit transactions")
    tx_commands = tx.add_subparsers(dest="tx_command", required=True)
    anchor = tx_commands.add_parser("anchor", help="anchor a document hash on the log")
    anchor.add_argument("--node", required=True, help="base URL of any node")
    anchor.add_argument("--key", required=True, help="agency key file")
    anchor.add_argument("--sha256", required=True, help="hex SHA-256 of the document")
    anchor.add_argument("--nonce", help="unique per agency (default: random)")
    anchor.set_defaults(func=_cmd_tx_anchor)
    from contracts.registry import RULES  # the CLI offers exactly the types the contracts know

    for tx_type in sorted(set(RULES) - {"anchor"}):
        typed = tx_commands.add_parser(
            tx_type, help=f"sign and submit a {tx_type} transaction (fields: docs/domain.md)"
        )
        typed.add_argument("--node", required=True, help="base URL of any node")
        typed.add_argument("--key", required=True, help="key file of the signer")
        typed.add_argument(
            "--as", dest="as_name", help="signer name if not the key's (resident:<pseudonym>)"
        )
        typed.add_argument("--set", action="append", default=[], metavar="FIELD=TEXT")
        typed.add_argument("--set-json", action="append", default=[], metavar="FIELD=JSON")
        typed.add_argument(
            "--wait",
            action="store_true",
            help="wait for the outcome and print it; exit 1 unless applied (refused or rejected)",
        )
        typed.set_defaults(func=_cmd_tx_typed, tx_type=tx_type)

    request = commands.add_parser("request", help="one RFC 9421-signed HTTP request (a read)")
    request.add_argument("path", help="path and query, e.g. /v1/residents/<p>/access?limit=10")
    request.add_argument("--node", required=True, help="base URL of any node")
    request.add_argument("--key", required=True, help="key file of the caller")
    request.add_argument("--as", dest="as_name", help="key id if not the key's name")
    request.add_argument("--method", default="GET", choices=["GET", "PUT"])
    request.add_argument("--data-file", help="request body (PUT of a payload)")
    request.set_defaults(func=_cmd_request)

    vault = commands.add_parser("vault", help="health-record documents in a node's vault")
    vault_commands = vault.add_subparsers(dest="vault_command", required=True)
    deposit = vault_commands.add_parser("deposit", help="the source hospital deposits a document")
    fetch = vault_commands.add_parser("fetch", help="the recipient fetches and checks it")
    for sub in (deposit, fetch):
        sub.add_argument("case_id", help="the health sharing case")
        sub.add_argument("--node", required=True, help="the node that holds the vault")
        sub.add_argument("--key", required=True, help="the hospital's key file")
        sub.set_defaults(func=_cmd_vault)
    deposit.add_argument("--file", required=True, help="the document")
    deposit.add_argument(
        "--release", action="store_true", help="then submit health.release with its commitment"
    )
    fetch.add_argument("--out", required=True, help="where to write the checked document")

    proof = commands.add_parser("proof", help="a resident's proof of insurance (参保证明)")
    proof_commands = proof.add_subparsers(dest="proof_command", required=True)
    pfile = proof_commands.add_parser(
        "file", help="the resident builds the tlog-proof file she hands another agency"
    )
    pfile.add_argument("proof_id", help="the proof's serial number")
    pfile.add_argument("--node", required=True, help="base URL of any node")
    pfile.add_argument("--key", required=True, help="the resident's key file")
    pfile.add_argument("--as", dest="as_name", help="resident:<pseudonym> if not the key's name")
    pfile.add_argument("--verifier-keys", required=True, help="validators' keys, one a line")
    pfile.add_argument("--quorum", type=int, help="cosignatures needed (default: 2n/3+1)")
    pfile.add_argument("--out", required=True, help="where to write the .tlog-proof file")
    pfile.set_defaults(func=_cmd_proof_file)

    pseud = commands.add_parser("pseudonym", help="a resident's pseudonym from an ID number")
    pseud.add_argument("id_number", help="18-character resident ID number (GB 11643)")
    pseud.add_argument("--secret", required=True, help="the network secret file (agencies)")
    pseud.set_defaults(func=_cmd_pseudonym)

    keygen = commands.add_parser("keygen", help="a new Ed25519 signing key (file mode 0600)")
    keygen.add_argument("--name", required=True, help="key name (agency id, resident:<p>, ...)")
    keygen.add_argument("--out", required=True, help="key file to create")
    keygen.set_defaults(func=_cmd_keygen)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
