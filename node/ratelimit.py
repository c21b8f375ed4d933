"""Per-key token buckets: each signer may submit ``rate`` transactions a second, ``burst`` at once."""

import math


class RateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.buckets: dict[str, tuple[float, float]] = {}

    @classmethod
    def per_second(cls, rate: float) -> "RateLimiter":
        """``rate`` a second with a burst of two seconds' worth, as the node's limits are set."""
        return cls(rate, max(1, int(2 * rate)))

    def take(self, key: str, now: float) -> float:
        """0 if allowed (one token taken); else seconds until a token is free."""
        tokens, last = self.buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1:
            self.buckets[key] = (tokens - 1, now)
            return 0.0
        self.buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate

    def wait(self, key: str, now: float) -> float:
        """0 if a token is free now, else seconds until one is; takes nothing."""
        tokens, last = self.buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate


def retry_after(seconds: float) -> int:
    return max(1, math.ceil(seconds))
