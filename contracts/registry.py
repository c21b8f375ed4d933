"""Every transaction type of the current contract version, by name."""

from contracts import access_log, anchor, consent, governance, health, pension, residents
from contracts.rules import Rule

CONTRACT_VERSION = 3
"""2: validator nodes record the reads they refuse at their API (``access.refused``).
3: governance re-checks a change when it applies (a refused proposal is closed as such),
counts approvals only from agencies that still govern, and rotates validator keys; the
genesis carries the consensus parameters. An old chain replayed under 3 could differ."""

RULES: dict[str, Rule] = {
    **anchor.RULES,
    **residents.RULES,
    **consent.RULES,
    **health.RULES,
    **pension.RULES,
    **governance.RULES,
    **access_log.RULES,
}
