"""The validator set: who may vote, how many make a quorum, whose turn it is to propose."""

from dataclasses import dataclass

from tlog.note import Verifier


@dataclass(frozen=True)
class ValidatorSet:
    """Equal-weight validators, in genesis order. Tolerates f = (n - 1) // 3 Byzantine ones."""

    validators: tuple[Verifier, ...]

    def __post_init__(self) -> None:
        names = [v.name for v in self.validators]
        if not names or len(set(names)) != len(names):
            raise ValueError("validator names must be unique and at least one")
        if len({v.public_key for v in self.validators}) != len(names):
            raise ValueError("no two validators may hold the same key")

    @property
    def size(self) -> int:
        return len(self.validators)

    @property
    def quorum(self) -> int:
        """More than two thirds: any two quorums share an honest validator."""
        return 2 * self.size // 3 + 1

    @property
    def weak_quorum(self) -> int:
        """More than one third: at least one of them is honest."""
        return self.size // 3 + 1

    def by_name(self, name: str) -> Verifier | None:
        for v in self.validators:
            if v.name == name:
                return v
        return None

    def proposer(self, height: int, round_: int) -> str:
        """Deterministic round-robin over height and round."""
        return self.validators[(height + round_) % self.size].name
