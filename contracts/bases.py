"""Statutory bases, kept apart from consents (#13 item 5; PIPL art. 13(1)(3)): an agency
records the statute under which it processes a resident's data to perform its legal duty,
e.g. the pension bureau keeping and transferring her pension relation (社会保险法 art. 19;
国办发〔2009〕66号). Each cites a code of ``vocabulary.STATUTORY_BASES`` (Chinese and English
text there) and the data classes it covers; only an agency of a kind that holds that duty
records it.

A statutory basis is not a consent: no transaction withdraws one (PIPL art. 15 is about
consent), and the resident finds them listed apart from her consents
(``GET /v1/residents/{p}/bases``) and each recorded in her access log (reason
``statutory_basis``, PIPL arts. 17-18: she is told). Her right against one is to restrict or
refuse the processing (PIPL art. 44) or to have the record corrected (art. 46): not built
here; an objection would be its own transaction, decided by the agency with a reason.
"""

from contracts import authority
from contracts.access_log import record_access
from contracts.fields import guarded, require
from contracts.residents import resident
from contracts.rules import Applied, BlockContext, Outcome
from contracts.state import Overlay
from contracts.tx import Transaction
from contracts.vocabulary import STATUTORY_BASES

STATUTORY_BASIS = "statutory_basis"
"""The access-log reason of the entry that tells the resident a basis was recorded."""


def record(state: Overlay, tx: Transaction, ctx: BlockContext) -> Outcome:
    """``basis.record``: the agency that holds the duty records it for an enrolled resident."""
    authority.check(state, tx.type, tx.signer)
    body = tx.body
    citation, classes = body["citation"], sorted(body["data_classes"])
    kind = authority.actor_of(state, tx.signer).kind
    require(
        kind in STATUTORY_BASES[citation][2],
        "not_duty_holder",
        f"{citation} is a duty of a {' or '.join(sorted(STATUTORY_BASES[citation][2]))}",
    )
    who, basis_id = body["resident"], body["basis_id"]
    require(resident(state, who) is not None, "unknown_resident", "resident is not enrolled")
    require(state.get(f"basis/{basis_id}") is None, "duplicate_id", "basis_id is taken")
    state.put(
        f"basis/{basis_id}",
        {"basis_id": basis_id, "resident": who, "type": "statutory", "citation": citation,
         "data_classes": classes, "holder": tx.signer, "recorded_ms": ctx.time_ms,
         "height": ctx.height, "status": "in_force"},
    )  # fmt: skip
    entry = record_access(
        state, who, action="C", agent=tx.signer, entity=basis_id, data_class=",".join(classes),
        purpose="MEMADMIN", consent_id=None, outcome="granted", reason=STATUTORY_BASIS,
        time_ms=ctx.time_ms, height=ctx.height, basis=citation,
    )  # fmt: skip
    event = {"type": "basis_recorded", "basis_id": basis_id, "resident": who,
             "seq": entry["seq"]}  # fmt: skip
    return Applied(tx.encode(), (event,))


RULES = {"basis.record": guarded(record)}
