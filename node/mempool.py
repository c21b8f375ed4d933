"""Transactions waiting for a block: deduplicated by hash, bounded, in arrival order."""

from contracts.tx import Transaction


class MempoolFull(Exception):
    pass


class Mempool:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._txs: dict[bytes, Transaction] = {}

    def __len__(self) -> int:
        return len(self._txs)

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._txs

    def add(self, tx: Transaction) -> bool:
        """True if new, False if already waiting; ``MempoolFull`` when at capacity."""
        h = tx.hash
        if h in self._txs:
            return False
        if len(self._txs) >= self.capacity:
            raise MempoolFull(f"mempool holds {self.capacity} transactions; try again later")
        self._txs[h] = tx
        return True

    def take(self, limit: int) -> list[Transaction]:
        """The oldest ``limit`` transactions, left in place until a block commits them."""
        out: list[Transaction] = []
        for tx in self._txs.values():
            if len(out) >= limit:
                break
            out.append(tx)
        return out

    def remove(self, hashes: list[bytes]) -> None:
        for h in hashes:
            self._txs.pop(h, None)
