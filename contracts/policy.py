"""Consent policy: genesis parameters that rules read from state (``policy/consent``), so that
every node applies the same limits and a network may choose its own."""

from dataclasses import dataclass
from typing import Any

from contracts.state import StateView

DAY_MS = 86_400_000
POLICY_KEY = "policy/consent"


@dataclass(frozen=True)
class ConsentPolicy:
    assisted_max_ms: int = 30 * DAY_MS
    """How long after it is recorded an assisted consent (taken at a counter) may last at
    most: a resident who cannot check it on a phone should not find it running for years."""
    self_max_ms: int = 365 * DAY_MS
    """The same for a consent the resident signs themself."""
    emergency_window_ms: int = DAY_MS
    """How long a break-glass (``health.emergency``, PIPL art. 13(1)(4)) lets its hospital
    open, receive and read cases: an emergency is over within it, or it is not an emergency
    any more and the resident (or her family) can be asked."""

    def to_json(self) -> dict[str, int]:
        return {"assisted_max_ms": self.assisted_max_ms, "self_max_ms": self.self_max_ms,
                "emergency_window_ms": self.emergency_window_ms}  # fmt: skip

    @staticmethod
    def from_json(d: Any) -> "ConsentPolicy":
        """Raises ``ValueError`` on anything but positive integers for known names."""
        if not isinstance(d, dict):
            raise ValueError("consent_policy must be an object")
        defaults = ConsentPolicy().to_json()
        if unknown := set(d) - set(defaults):
            raise ValueError(f"unknown consent policy parameters: {', '.join(sorted(unknown))}")
        values = {**defaults, **d}
        if not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values.values()
        ):
            raise ValueError("consent policy parameters are positive integers (milliseconds)")
        return ConsentPolicy(**values)


def consent_policy(state: StateView) -> ConsentPolicy:
    """The policy in state; the defaults for a state that holds none (or a malformed one,
    which genesis never writes)."""
    try:
        return ConsentPolicy.from_json(state.get(POLICY_KEY))
    except ValueError:
        return ConsentPolicy()


RIGHTS_KEY = "policy/rights"


@dataclass(frozen=True)
class RightsPolicy:
    """The genesis's parameters of residents' requests (``contracts/rights.py``)."""

    correction_working_days: int = 15
    """Working days an agency has to decide a correction (PIPL art. 46, art. 50). No statute
    sets the number for it: 15 is this network's choice, the pension stages' rhythm
    (国办发〔2009〕66号 art. 8), shorter than the 20 working days of a disclosure request
    (政府信息公开条例 art. 33) and the 30 days GB/T 35273-2020 §8.7 recommends."""

    def to_json(self) -> dict[str, int]:
        return {"correction_working_days": self.correction_working_days}

    @staticmethod
    def from_json(d: Any) -> "RightsPolicy":
        """Raises ``ValueError`` on anything but an integer of 1-60 days for known names."""
        if not isinstance(d, dict) or set(d) - {"correction_working_days"}:
            raise ValueError("rights_policy takes correction_working_days only")
        days = d.get("correction_working_days", RightsPolicy.correction_working_days)
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 60:
            raise ValueError("correction_working_days is an integer of 1-60")
        return RightsPolicy(days)


def rights_policy(state: StateView) -> RightsPolicy:
    """The policy in state; the defaults for a state that holds none."""
    try:
        return RightsPolicy.from_json(state.get(RIGHTS_KEY))
    except ValueError:
        return RightsPolicy()
