"""Every transaction type of the current contract version, by name."""

from contracts import (
    access_log,
    acting,
    anchor,
    bases,
    consent,
    delegation,
    emergency,
    erasure,
    governance,
    guardians,
    health,
    pension,
    proofs,
    provenance,
    residents,
    rights,
)
from contracts.rules import BlockContext, Rule
from contracts.state import Overlay

CONTRACT_VERSION = 4
"""2: validator nodes record the reads they refuse at their API (``access.refused``).
3: governance re-checks a change when it applies (a refused proposal is closed as such),
counts approvals only from agencies that still govern, and rotates validator keys; the
genesis carries the consensus parameters. An old chain replayed under 3 could differ.
4: who may sign what is one table (``contracts/authority.py``: assisted steps only by
agencies with the ``counter`` role, for their kind's data classes; ``health.authorize`` only
by the resident or the counter that recorded the consent; auditors change nothing); consents
last at most the genesis policy's maximum (``policy/consent``: assisted 30 days, self 365);
every type has a stateless shape (``contracts/shapes.py``) checked at admission and making a
block invalid: codes instead of free text (purpose, rejection reason, verification method),
no ID or mobile number in any string.
Also in 4: erasure stops processing (``contracts.erasure``): whatever names an erased resident is
refused as ``resident_erased``, and records naming a resident are indexed under them.
Also in 4: only counters enroll; a consent to (or a case authorized for) an agency that set the
resident's key is bounded and marked (``enroller_is_recipient``, ``enroller_is_requester``); a
counter that never set her key re-keys her (``resident.rotate_key`` with ``assisted``); only
hospitals sign ``health.access``; a granted ``health.access`` records its access-log seq in
the case (``read_seq``: the one entry a payload fetch may use).
Also in 4: the working-day calendar is state (``calendar/<year>``: the genesis's, then
governance ``set_calendar``); a pension deadline reaching into a year not set yet is
provisional and recomputed in the block that sets the year (``contracts/calendar.py``).
Also in 4 (#12, before 4 is released): medical-insurance bureaus and primary clinics; a sharing
case's source by its data class; proofs of insurance (``proof.issue``, ``proof.revoke``);
the role ``designated`` (医保定点医疗机构) and test results shared between two designated
hospitals on their statute instead of a consent (``health.authorize`` with ``basis``, signed
by the source: 浙江省医疗保障条例 art. 40), whose access-log entries carry ``basis``.
Also in 4 (#12, before 4 is released): pension transfers as the rules have them: a case
``kind`` (``inter_area``, ``intra_area``, ``scheme_link`` with ``direction``) and the rules it
cites (``basis.rules``); one window per party and step (``pension.confirm`` is gone:
``pension.complete`` carries the received commitments); the 信息表 as one salted commitment
per value (``info_commitments``), no amount in clear; every step a notice in the resident's
access log.
Also in 4 (red team 12b, before 4 is released): governance ``set_agency_roles`` replaces an
existing agency's roles by quorum (``governance`` kept if held, never granted), under the role
rules ``add_agency`` follows (``authority.check_roles``): a ``designated`` role withdrawn stops
the agency's open statutory cases from the next transaction.
Also in 4 (#13 item 5, before 4 is released): a consent says what the resident was shown
(``notice``: code and text hash, PIPL arts. 17, 23, 30) and whether it is separate
(``separate``, required for a health class: art. 29); its record names the recipient's contact
as its agency record (``recipient_contact``); ``health.authorize`` refuses a case whose purpose
is not the consent's (``purpose_mismatch``); ``consent.withdraw`` refuses a statutory basis
(``statutory_basis``).
Also in 4 (#13 item 1, before 4 is released): a resident's copy and correction (PIPL arts. 45,
46, 50): ``rights.copy_request`` (answered by a node's signed export, every item with the log
entries it derives from: ``contracts/provenance.py`` lists them per resident,
``entries/<p>/<n>``, for every applied transaction), ``rights.correct_request`` and the named
agency's ``rights.correct_decide`` (a reason code on refusal, within ``policy/rights``'
working days, late decisions marked ``late``); ``contracts/rights.py``.
Also in 4 (#13 items 2-3, before 4 is released): ``resident.enroll`` carries the age class
(``age_class``; a minor's ``class_ends``); guardianships (``guardian.record``,
``guardian.revoke``) and delegations (``delegation.grant``, ``delegation.grant_assisted``,
``delegation.revoke``); a resident step may carry ``on_behalf_of``, checked by
``contracts.acting.principal`` (an under-14's own signature is ``guardian_required``) and
logged in her access log with ``acting_as``; every block begins with ``begin_block`` (a
minor's class end: her record, her log and her guardians', a minor's guardianship ended at
18).
Also in 4 (#13 item 4, before 4 is released): emergency access (PIPL art. 13(1)(4), 民法典 art.
1220): ``health.emergency`` (break-glass by a hospital, a reason code) opens
``emergency/<id>`` for the policy's ``emergency_window_ms``; ``health.request`` with
``emergency_id`` opens a case AUTHORIZED at once within its scope (classes, source, window:
else refused and recorded, ``out_of_scope``, ``emergency_window_closed``); every step is in
the resident's access log with reason ``emergency`` and ``emergency_reason``; per-hospital,
per-day counters (``hospital_reads/<day>/<hospital>``) for the auditors' rate; governance
``set_emergency_limit`` caps break-glasses a rolling day (``emergency_limit``).
Also in 4 (#13 item 5, before 4 is released): statutory bases are their own record
(``basis.record`` by the agency holding the duty, ``basis/<id>``, a citation code of
``STATUTORY_BASES``), never withdrawn; ``consent.grant`` takes only ``basis.type`` consent.
Also in 4 (red team 13a, before 4 is released): ``begin_block``'s writes at a class end are
listed under the entry they derive from (``provenance.derived``; a guardianship keeps its
``tx_hash``), at most ``guardians.MAX_CLASS_ENDS_PER_BLOCK`` a block (``ages/next``); a ward's
``guardians/<p>`` keeps only those in force; ``class_ends`` is ASCII ``YYYY-MM-DD`` only; a
guardianship or delegation is indexed under the guardian or delegate too (her erasure ends it)."""

RULES: dict[str, Rule] = {
    name: provenance.indexed(erasure.guard(acting.logged(rule)))
    for name, rule in {
        **anchor.RULES,
        **residents.RULES,
        **consent.RULES,
        **health.RULES,
        **emergency.RULES,
        **bases.RULES,
        **pension.RULES,
        **proofs.RULES,
        **governance.RULES,
        **access_log.RULES,
        **erasure.RULES,
        **rights.RULES,
        **guardians.RULES,
        **delegation.RULES,
    }.items()
}


def begin_block(state: Overlay, ctx: BlockContext) -> None:
    """What every block does before its transactions, on every node alike (``node/executor.py``
    and every replay): the age classes that ended since the last block (``guardians``)."""
    guardians.begin_block(state, ctx)
