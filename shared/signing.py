"""Signed URLs: an HMAC-SHA256 over the canonical key unlocks sizes off the allow-list.

    ?s=300x200&f=webp&sig=<key id>.<32 hex>

The MAC covers the canonical key of the EXACT request (sizes not snapped), so parameter
order, case and spelling do not matter and one signature names one output. Key ids allow
rotation: the configuration maps ids to secrets (``signing_keys``); sign with the new id,
keep the old one until its URLs are gone. Verification compares in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from shared.errors import SignatureInvalid

SIGNATURE_PARAM = "sig"
MAC_HEX_CHARS = 32  # the first 128 bits of the HMAC-SHA256: plenty against forgery
_SIGNATURE = re.compile(r"([a-z0-9_-]{1,32})\.([0-9a-f]{32})")


def mac(key: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), key.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return digest.hexdigest()[:MAC_HEX_CHARS]


def signature(key: str, key_id: str, secret: str) -> str:
    """The ``sig`` value that signs canonical ``key`` with the secret ``key_id`` names."""
    return f"{key_id}.{mac(key, secret)}"


def verify(key: str, value: str, secrets: dict[str, str]) -> None:
    """Raise SignatureInvalid unless ``value`` signs ``key`` with a known key."""
    match = _SIGNATURE.fullmatch(value)
    if match is None:
        raise SignatureInvalid("malformed")
    secret = secrets.get(match[1])
    if secret is None:
        raise SignatureInvalid("unknown key id")
    if not hmac.compare_digest(mac(key, secret), match[2]):
        raise SignatureInvalid()
