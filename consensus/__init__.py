"""Tendermint-style BFT consensus as a pure state machine (no sockets, clocks, threads or DB).

``Tendermint`` takes inputs (``start``, ``receive``, ``timeout``, ``txs_available``,
``commit_certificate``, ``advance``, ``rebroadcast``) and returns a ``Ready``. The driver
(``node.driver`` in production, ``tests.sim`` in simulation) must handle each Ready in order:

1. If ``ready.persist`` is set, write it durably (``consensus.wal`` framing, fsync) BEFORE
   sending any message of this Ready: it holds every message this validator signed at the
   current height and its lock. If the write fails, send none of them. On restart, pass the
   last intact record as ``restored``; the machine then re-sends what it signed and never
   signs a conflicting vote or proposal. Where the WAL cannot tell what was signed (lost, cut
   at a damaged record, ahead of the database), pass ``sign_from_height`` from
   ``consensus.safety.double_sign_guard``; damage followed by intact records: do not start.
2. Send ``ready.messages`` to every other validator (they are signed; the transport adds
   sender authentication).
3. Schedule ``ready.timeouts``; when one fires, call ``timeout`` with it. Stale ones are ignored.
4. If ``ready.decision`` is set, durably store the block with its commit certificate and
   apply it, THEN call ``advance()``. Consensus does not move to the next height before that.
5. Keep and forward ``ready.evidence`` (conflicting signed messages) for a later block.
6. ``ready.lagging`` names peers at lower heights: send them stored blocks and certificates.
   ``ready.behind`` is a height others have reached: fetch the missing blocks, verify their
   certificates and feed them through ``commit_certificate``.

Call ``rebroadcast`` when consensus has made no progress (height, round, step) for a while:
the protocol assumes messages are eventually delivered. Calling it on a fixed tick regardless
re-sends large proposals to peers that already hold them and slows a loaded network down.
"""
