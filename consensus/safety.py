"""The state a validator must have on disk before any message it signed leaves the process.

Own signed messages of the current height and the lock: with these restored, a restarted
validator re-sends what it signed instead of signing anything that conflicts with it. The
prevotes behind its valid block come along, so that it can still justify re-proposing it.
"""

import base64
import json
from dataclasses import dataclass
from typing import Any

from consensus.messages import Message, message_from_json
from signing.canonical import canonical_json


def _b64(b: bytes | None) -> str | None:
    return None if b is None else base64.b64encode(b).decode()


def _unb64(s: Any) -> bytes | None:
    if s is not None and not isinstance(s, str):
        raise ValueError("a block must be base64 text or null")
    return None if s is None else base64.b64decode(s, validate=True)


def _int(d: dict[str, Any], key: str, minimum: int, maximum: int | None = None) -> int:
    v = d[key]
    if type(v) is not int or v < minimum or (maximum is not None and v > maximum):
        raise ValueError(f"{key} must be an integer in range")
    return v


def _messages(value: Any, height: int) -> tuple[Message, ...]:
    if not isinstance(value, list):
        raise ValueError("messages must be a list")
    if not all(isinstance(m, dict) for m in value):
        raise ValueError("a message must be an object")
    msgs = tuple(message_from_json(m) for m in value)
    if any(m.height != height for m in msgs):
        raise ValueError("a message of another height")
    return msgs


@dataclass(frozen=True)
class SafetyState:
    height: int
    round: int
    step: int
    locked_round: int
    locked_block: bytes | None
    valid_round: int
    valid_block: bytes | None
    sent: tuple[Message, ...]
    polka: tuple[Message, ...] = ()
    """The prevotes that justify ``valid_block``: a restarted validator can still show them."""

    def encode(self) -> bytes:
        return canonical_json(
            {
                "height": self.height,
                "round": self.round,
                "step": self.step,
                "locked_round": self.locked_round,
                "locked_block": _b64(self.locked_block),
                "valid_round": self.valid_round,
                "valid_block": _b64(self.valid_block),
                "sent": [m.to_json() for m in self.sent],
                "polka": [m.to_json() for m in self.polka],
            }
        )

    @staticmethod
    def decode(data: bytes) -> "SafetyState":
        """Total: anything that is not a well-formed state raises ValueError."""
        try:
            d = json.loads(data)
            if not isinstance(d, dict):
                raise ValueError("not an object")
            height = _int(d, "height", 1)
            return SafetyState(
                height=height,
                round=_int(d, "round", 0),
                step=_int(d, "step", 0, 2),
                locked_round=_int(d, "locked_round", -1),
                locked_block=_unb64(d["locked_block"]),
                valid_round=_int(d, "valid_round", -1),
                valid_block=_unb64(d["valid_block"]),
                sent=_messages(d["sent"], height),
                polka=_messages(d.get("polka", []), height),
            )
        except (KeyError, TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"not a consensus safety state: {exc!r}") from exc
