"""The one error value of the verifiable log: a stable code and a human sentence."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Invalid:
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
