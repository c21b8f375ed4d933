"""Keyed pseudonyms for residents, computed by agency systems, never by the log.

HMAC-SHA256 of the 18-digit ID number under the network secret held by agencies: a plain hash
of an ID number is brute-forceable (about 10^11 candidates), a keyed one is not without the key.
"""

import hashlib
import hmac
import os
from pathlib import Path

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"


def check_digit(first17: str) -> str:
    """GB 11643 check character of an ID number's first 17 digits."""
    return CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def valid_id_number(id_number: str) -> bool:
    return (
        len(id_number) == 18
        and id_number[:17].isdigit()
        and id_number[17] == check_digit(id_number[:17])
    )


def pseudonym(network_secret: bytes, id_number: str) -> str:
    if not valid_id_number(id_number):
        raise ValueError("not a well-formed 18-digit ID number (GB 11643 check digit)")
    return hmac.new(network_secret, id_number.encode(), hashlib.sha256).hexdigest()


def write_network_secret(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(32))
