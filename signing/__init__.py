"""Canonical bytes and Ed25519 signatures over them, shared by consensus and contracts (pure)."""
