"""Red team 5, issue #11 item 1: a resident's revoked keys (``previous_keys``) grew without
bound, one per ``resident.rotate_key`` she signs, and every one is tried: by the common checks
for a signature her current key does not verify (``revoked_key`` or ``bad_signature``) and, at
admission, for any transaction naming an erased resident as signer (``erased_signer``). A
hostile resident rotates thousands of times and has herself erased; then anyone, with no key
at all, posts transactions "signed" by her, each costing a node one signature verification per
key she ever had, before any rate limit.

Fix: she signs at most ``MAX_PREVIOUS_KEYS`` rotations (``too_many_keys``); beyond, a counter
re-keys her (assisted, at most once per counter: ``keyed_by``)."""

import hashlib

from contracts.erasure import admission_refusal
from contracts.residents import MAX_PREVIOUS_KEYS
from contracts.rules import Applied, Rejected
from contracts.tx import Transaction, sign_transaction
from tests.contract_world import CHAIN, World, pseudonym_of

VICTIM = pseudonym_of(79)


def test_a_resident_cannot_grow_her_revoked_keys_without_bound() -> None:
    w = World()
    w.enroll(VICTIM)
    me = f"resident:{VICTIM}"
    refused = None
    for generation in range(1, MAX_PREVIOUS_KEYS + 3):
        new = w.resident_key(VICTIM, generation)
        out = w.submit(me, {"type": "resident.rotate_key", "key": new.verifier().encode()})
        if isinstance(out, Rejected):
            refused = out
            break
        assert isinstance(out, Applied), out
        w.keys[me] = new
    assert refused is not None and refused.code == "too_many_keys", refused
    assert len(w.get(f"resident/{VICTIM}")["previous_keys"]) == MAX_PREVIOUS_KEYS
    # a counter still re-keys her (once per counter)
    assisted = {"channel": "counter", "operator_id": "op-0042",
                "verification_method": "id_card_reader", "verification_result": "verified",
                "form_hash": hashlib.sha256(b"signed re-key form").hexdigest()}  # fmt: skip
    out = w.submit("ssb-330802", {"type": "resident.rotate_key", "pseudonym": VICTIM,
                                  "key": w.resident_key(VICTIM, 99).verifier().encode(),
                                  "assisted": assisted})  # fmt: skip
    assert isinstance(out, Applied), out
    w.keys[me] = w.resident_key(VICTIM, 99)
    w.advance(15)
    assert isinstance(w.submit(me, {"type": "resident.erase"}), Applied)
    # a forged transaction "signed" by her costs a node a bounded number of verifications
    tried = 0

    def check(tx: Transaction, key: object) -> bool:
        nonlocal tried
        tried += 1
        return False

    forged = sign_transaction({"chain_id": CHAIN, "signer": me, "nonce": "x", "type":
                               "resident.erase"}, w.resident_key(VICTIM, 1000))  # fmt: skip
    forged = Transaction(forged.body, b"\0" * 64)
    assert admission_refusal(w.state, forged, check) is None
    assert tried <= MAX_PREVIOUS_KEYS + 2, tried
