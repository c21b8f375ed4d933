"""Deterministic transaction rules: pure functions of (state, transaction, block context).

No clock (block time is an input), no randomness, no I/O. A contract reads state through a
``StateView`` and answers with the writes to make and the log leaf to append, or a rejection
with a stable reason code.
"""
