"""Where a payload lies, bound to the case it was deposited for.

A vault locator is derived from the case, its resident, its source hospital and the payload's
salted commitment: ``vault:`` ‖ hex SHA-256(domain ‖ RFC 8785 of the four). So a release whose
locator was not made for its own case is visible to every validator without the vault, and a
locator copied from another case's release entry (they are public) names that other case and
no other (``contracts/health.py``). The vault stores the same four beside each item and checks
them before it delivers (``node/vault.py``).
"""

import hashlib

from signing.canonical import canonical_json

PREFIX = "vault:"
_DOMAIN = b"shanhe-vault-locator-v1\n"


def derive(case_id: str, resident: str, source: str, commitment: str) -> str:
    """The one locator a payload of this case, with this commitment, may have. Pure."""
    binding = {"case_id": case_id, "resident": resident, "source": source, "commitment": commitment}
    return PREFIX + hashlib.sha256(_DOMAIN + canonical_json(binding)).hexdigest()
