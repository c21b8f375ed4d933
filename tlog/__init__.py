"""The verifiable log, pure: RFC 9162 Merkle hashing, proofs, C2SP signed notes and checkpoints.

Nothing here does I/O; storage lives in ``node.logstore``. Modelled on Go's ``sumdb/tlog`` and
``sumdb/note`` and on transparency-dev/merkle, whose known answers the tests use.
"""
