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
    return None if s is None else base64.b64decode(str(s), validate=True)


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
        d = json.loads(data)
        return SafetyState(
            height=int(d["height"]),
            round=int(d["round"]),
            step=int(d["step"]),
            locked_round=int(d["locked_round"]),
            locked_block=_unb64(d["locked_block"]),
            valid_round=int(d["valid_round"]),
            valid_block=_unb64(d["valid_block"]),
            sent=tuple(message_from_json(m) for m in d["sent"]),
            polka=tuple(message_from_json(m) for m in d.get("polka", [])),
        )
