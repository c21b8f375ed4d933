"""Every transaction type of the current contract version, by name."""

from contracts import access_log, anchor, consent, governance, health, pension, residents
from contracts.rules import Rule

CONTRACT_VERSION = 2
"""2: validator nodes record the reads they refuse at their API (``access.refused``)."""

RULES: dict[str, Rule] = {
    **anchor.RULES,
    **residents.RULES,
    **consent.RULES,
    **health.RULES,
    **pension.RULES,
    **governance.RULES,
    **access_log.RULES,
}
