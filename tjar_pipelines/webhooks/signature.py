"""Webhook signatures: HMAC-SHA256 of the raw body with the store's secret (§15)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Literal

Encoding = Literal["hex", "base64"]


@dataclass(frozen=True, slots=True)
class SignatureScheme:
    """Where a store puts its signature and how it writes it.

    Attributes:
        header: Request header carrying the signature (``X-Tjar-Signature``).
        prefix: Text before the digest (``sha256=``); may be empty.
        encoding: ``hex`` (lowercase, §15) or ``base64``.
    """

    header: str = "X-Tjar-Signature"
    prefix: str = "sha256="
    encoding: Encoding = "hex"

    def __post_init__(self) -> None:
        if self.encoding not in ("hex", "base64"):
            raise ValueError("signature encoding must be 'hex' or 'base64'")

    def sign(self, secret: str, body: bytes) -> str:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        text = digest.hex() if self.encoding == "hex" else base64.b64encode(digest).decode()
        return self.prefix + text

    def verify(self, secret: str, body: bytes, given: str | None) -> bool:
        """Whether ``given`` is the signature of ``body``, compared in constant time."""
        if not given:
            return False
        given = given.strip()
        if self.encoding == "hex":
            given = given.lower()
            expected = self.sign(secret, body).lower()
        else:
            expected = self.sign(secret, body)
        return hmac.compare_digest(expected.encode(), given.encode())
