"""Transactions waiting for a block: deduplicated by hash, bounded, in arrival order."""

from itertools import islice

from contracts.tx import Transaction


class MempoolFull(Exception):
    pass


class Mempool:
    def __init__(self, capacity: int, remember: int = 100_000) -> None:
        self.capacity, self.remember = capacity, remember
        self._txs: dict[bytes, Transaction] = {}
        self._committed: dict[bytes, None] = {}
        """Recently committed hashes, oldest first: gossip that arrives after the block (a
        peer's backlog under load) must not fill the pool with work already done."""

    def __len__(self) -> int:
        return len(self._txs)

    def __contains__(self, tx_hash: bytes) -> bool:
        return tx_hash in self._txs

    def add(self, tx: Transaction) -> bool:
        """True if new, False if already waiting; ``MempoolFull`` when at capacity."""
        h = tx.hash
        if h in self._txs or h in self._committed:
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

    def committed(self, hashes: list[bytes]) -> None:
        """Remove what a block committed, and keep refusing it for a while."""
        self.remove(hashes)
        self._committed.update(dict.fromkeys(hashes))
        excess = len(self._committed) - self.remember
        for old in list(islice(self._committed, max(0, excess))):
            del self._committed[old]
