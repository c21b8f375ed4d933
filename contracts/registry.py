"""Every transaction type of contract version 1, by name."""

from contracts import anchor, consent, governance, health, pension, residents
from contracts.rules import Rule

CONTRACT_VERSION = 1

RULES: dict[str, Rule] = {
    **anchor.RULES,
    **residents.RULES,
    **consent.RULES,
    **health.RULES,
    **pension.RULES,
    **governance.RULES,
}
