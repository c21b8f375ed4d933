"""The state a validator must have on disk before any message it signed leaves the process.

Own signed messages of the current height and the lock: with these restored, a restarted
validator re-sends what it signed instead of signing anything that conflicts with it. The
prevotes behind its valid block come along, so that it can still justify re-proposing it.
When the WAL cannot tell all it signed, ``double_sign_guard`` says from which height on it
may sign again (the spirit of CometBFT's ``double_sign_check_height``).
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
    sign_from_height: int = 0
    """The validator signs nothing below this height (``double_sign_guard``); kept on disk so
    that a restart in the middle of a guarded height does not lift the guard."""

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
                "sign_from_height": self.sign_from_height,
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
                sign_from_height=_int({"sign_from_height": 0, **d}, "sign_from_height", 0),
            )
        except (KeyError, TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"not a consensus safety state: {exc!r}") from exc


def double_sign_guard(last: SafetyState | None, tip: int, tail_damaged: bool) -> tuple[int, str]:
    """The height from which a validator restarting at ``tip + 1`` may sign, and why not before.

    ``last`` is its WAL's last intact record, ``tail_damaged`` says a damaged final record was
    cut. A record is written at the machine's height, which is the database's tip + 1 at the
    time, so with the database never going back:

    - no record while the database holds blocks: a lost WAL, and the validator may have signed
      at ``tip + 1``;
    - a record above ``tip + 1``: the database went back (restored from an older copy), and the
      validator may have signed up to that height;
    - a damaged final record was cut: it may have been fsync'd and its messages sent, at
      ``tip + 1`` or, if the WAL is ahead of the database, one above its last intact record;
    - a record at or below ``tip``: stale and safe to ignore. Every signed message is persisted
      before it is sent, in an append-only file whose last record wins, so a message signed at
      ``tip + 1`` would have left a record at ``tip + 1`` after it; heights up to ``tip`` are
      decided, and the machine never signs below its height.

    A guard persisted by an earlier start (``last.sign_from_height``) stays in force.
    Heights below the result are followed (votes counted, certificates adopted), never signed.
    """
    sign_from = last.sign_from_height if last is not None else 0
    why = "a guard set at an earlier start" if sign_from > tip + 1 else ""
    if tail_damaged:
        ahead = last is not None and last.height > tip + 1
        may_have = last.height + 1 if last is not None and ahead else tip + 1
        why = "a damaged final WAL record was cut: it may have been sent"
    elif last is None and tip > 0:
        may_have = tip + 1
        why = f"the WAL is missing or empty while the database holds blocks up to {tip}"
    elif last is not None and last.height > tip + 1:
        may_have = last.height
        why = (
            f"the WAL reached height {last.height} but the database only holds blocks up to "
            f"{tip}: was it restored from an older copy?"
        )
    else:
        may_have = 0
    return max(sign_from, may_have + 1), why
