"""Reading the log's content in tests: entries and blocks answer only signed callers with a
role (``api/authz.py`` ``Action.LOG_READ``), here the demo network's audit bureau."""

from pathlib import Path

import httpx

from api.auth import sign_request
from node.keys import read_signer

AUTHORITY = "127.0.0.1:8700"
"""A one-node network's node (``init_network``'s default port): what signatures name."""


def log_get(
    client: httpx.Client, net: Path, path: str, authority: str = AUTHORITY
) -> httpx.Response:
    """GET ``path`` (``/v1/entries/…``, ``/v1/blocks/…``) signed by ``audit-330800``; the
    client must send the Host ``authority`` (a TestClient with that base URL)."""
    auditor = read_signer(net / "agencies" / "audit-330800.key")
    headers = sign_request(auditor, auditor.name, "GET", path, authority=authority)
    return client.get(path, headers=headers)
