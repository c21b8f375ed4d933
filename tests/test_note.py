"""Signed notes and checkpoints against Go's sumdb/note known answers."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tlog.checkpoint import Checkpoint, CheckpointError, parse_checkpoint, verify_checkpoint
from tlog.note import NoteError, Signer, Verifier, open_note, sign_note, verify_note

NEUMANN_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
NEUMANN_NOTE = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_go_documentation_known_answer() -> None:
    opened = verify_note(NEUMANN_NOTE, [Verifier.parse(NEUMANN_KEY)], 1)
    assert not isinstance(opened, NoteError)
    assert opened.valid_signers == ("PeterNeumann",)
    assert verify_note(
        NEUMANN_NOTE.replace("answer", "Answer"), [Verifier.parse(NEUMANN_KEY)], 1
    ) == NoteError("no_quorum", "0 valid signatures of known keys, quorum is 1")


def test_keys_round_trip_go_encodings(note_vectors: Any) -> None:
    signers = [Signer.parse(k) for k in note_vectors["signer_keys"]]
    assert [s.encode() for s in signers] == note_vectors["signer_keys"]
    assert [s.verifier().encode() for s in signers] == note_vectors["verifier_keys"]
    assert [Verifier.parse(k).encode() for k in note_vectors["verifier_keys"]] == note_vectors[
        "verifier_keys"
    ]


def test_signing_reproduces_go_signatures(note_vectors: Any) -> None:
    signers = [Signer.parse(k) for k in note_vectors["signer_keys"]]
    first = note_vectors["vectors"][0]["note"]
    body = first[: first.index("\n\n") + 1]
    assert sign_note(body, signers) == first


def test_every_go_vector(note_vectors: Any) -> None:
    verifiers = [Verifier.parse(k) for k in note_vectors["verifier_keys"]]
    assert len(note_vectors["vectors"]) >= 10
    for v in note_vectors["vectors"]:
        result = verify_checkpoint(v["note"], verifiers, v["quorum"])
        assert (not isinstance(result, NoteError | CheckpointError)) == v["valid"], v["why"]
        opened = open_note(v["note"], verifiers)
        assert not isinstance(opened, NoteError)
        assert list(opened.valid_signers) == v.get("valid_signers", []), v["why"]


@pytest.mark.parametrize(
    "bad",
    [
        "example/log\n1\n\n",  # no signature lines
        "example/log\n1\n",  # no blank line
        "example/log\n1\n\n— node-a AAAA\n",  # signature too short
        "example/log\n1\n\n- node-a AAAAAAAA\n",  # wrong dash
        "example/log\n1\n\n— node-a !!!!\n",  # not base64
        "example/log\x01\n1\n\n— node-a AAAAAAAA\n",  # control character
        "example/log\n1\n\n— node-a AAAAAAAA",  # no final newline
    ],
)
def test_malformed_notes_are_errors(bad: str) -> None:
    result = open_note(bad, [])
    assert isinstance(result, NoteError) and result.code == "malformed_note"


@pytest.mark.parametrize(
    "bad_key",
    [
        "",
        "name+deadbeef",
        "na me+deadbeef+AY5N4cpsD6+GtyyaFuSBbHPkZ7rksJDpQxwM3nc/BKTB",
        "node-330800+60e6b03f+AY5N4cpsD6+GtyyaFuSBbHPkZ7rksJDpQxwM3nc/BKTB",  # wrong key id
        "node-330800+60e6b03e+Ao5N4cpsD6+GtyyaFuSBbHPkZ7rksJDpQxwM3nc/BKTB",  # wrong algorithm
        "node-330800+60e6b03e+AY5N4cpsD6+GtyyaFuSBbHPkZ7rksJDpQxwM3nc/BK",  # short key
    ],
)
def test_malformed_verifier_keys_are_refused(bad_key: str) -> None:
    with pytest.raises(ValueError):
        Verifier.parse(bad_key)


def test_a_bad_signature_from_a_known_key_is_not_counted() -> None:
    a, b = Signer.generate("node-a"), Signer.generate("node-b")
    body = Checkpoint("example/log", 3, bytes(32)).body()
    forged = sign_note(body, [a]) + sign_note(body.replace("3", "4"), [b]).split("\n\n")[1]
    opened = open_note(forged, [a.verifier(), b.verifier()])
    assert not isinstance(opened, NoteError)
    assert opened.valid_signers == ("node-a",) and opened.invalid_signers == ("node-b",)


@given(
    origin=st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1),
    size=st.integers(0, 2**63 - 1),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(
        st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1),
        max_size=3,
    ),
)
def test_checkpoint_round_trips(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    cp = Checkpoint(origin, size, root, tuple(extensions))
    assert parse_checkpoint(cp.body()) == cp


@pytest.mark.parametrize(
    "body",
    [
        "origin\n12\n",
        "\n12\nz3Y6BByBzu8VeKYIP3XGG+8uABTyo+aDqX/Pylvn8Zo=\n",
        "origin\n012\nz3Y6BByBzu8VeKYIP3XGG+8uABTyo+aDqX/Pylvn8Zo=\n",
        "origin\n-1\nz3Y6BByBzu8VeKYIP3XGG+8uABTyo+aDqX/Pylvn8Zo=\n",
        "origin\n12\nz3Y6BByBzu8VeKYIP3XGG+8uABTyo+aDqX/Pylvn8Z=\n",
        "origin\n12\nAAAA\n",
        "origin\n12\nz3Y6BByBzu8VeKYIP3XGG+8uABTyo+aDqX/Pylvn8Zo=",
    ],
)
def test_malformed_checkpoints_are_errors(body: str) -> None:
    assert isinstance(parse_checkpoint(body), CheckpointError)
