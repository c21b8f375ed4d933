"""Keyed pseudonyms for residents, computed by agency systems, never by the log.

HMAC-SHA256 of the 18-digit ID number under the network secret held by agencies: a plain hash
of an ID number is brute-forceable (about 10^11 candidates), a keyed one is not without the key.
"""

import hashlib
import hmac
import os
from pathlib import Path

from contracts.personal_data import check_digit, valid_id_number

__all__ = ["check_digit", "pseudonym", "valid_id_number", "write_network_secret"]


def pseudonym(network_secret: bytes, id_number: str) -> str:
    """One pseudonym per person: a check character typed as ``x`` counts as ``X``."""
    if not valid_id_number(id_number):
        raise ValueError("not a well-formed 18-digit ID number (GB 11643 check digit)")
    return hmac.new(network_secret, id_number.upper().encode(), hashlib.sha256).hexdigest()


def write_network_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(32))
