"""Ed25519 signatures over the exact bytes of a record value (docs/contract.md), through libsodium.

The header carries standard base64 with padding. Verification keys are prepared once per terminal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

import nacl.exceptions
import nacl.signing

SIGNATURE_BYTES = 64
CONTENT_TYPE = b"application/json"  # the value's type, in the `content-type` header


class SigningKey:
    """A terminal's private key. Only terminals (and the simulator) hold one; Rekap stores public keys."""

    def __init__(self, seed: bytes) -> None:
        self._key = nacl.signing.SigningKey(seed)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(bytes(nacl.signing.SigningKey.generate()))

    @classmethod
    def derived(cls, secret: bytes, terminal_id: str) -> SigningKey:
        """A reproducible key for simulations and tests: the same secret and id give the same key."""
        return cls(hashlib.sha256(secret + b"\0" + terminal_id.encode()).digest())

    @property
    def seed(self) -> bytes:
        return bytes(self._key)

    @property
    def public_key(self) -> bytes:
        return bytes(self._key.verify_key)

    def sign(self, value: bytes) -> bytes:
        """The `signature` header for `value`: base64 of the 64-byte signature."""
        return base64.b64encode(self.signature(value))

    def signature(self, value: bytes) -> bytes:
        """The 64-byte Ed25519 signature of `value`."""
        return bytes(self._key.sign(value).signature)


def signed_headers(value: bytes, key: SigningKey) -> list[tuple[str, bytes]]:
    """The headers a terminal sends with a form's exact bytes: their content type and their signature."""
    return [("content-type", CONTENT_TYPE), ("signature", key.sign(value))]


class Verifier:
    """Checks signatures made by one public key."""

    __slots__ = ("_key",)

    def __init__(self, public_key: bytes) -> None:
        self._key = nacl.signing.VerifyKey(public_key)

    def verify(self, value: bytes, header: bytes | None) -> bool:
        """Whether `header` (the `signature` header: base64 of 64 bytes) signs `value`."""
        if header is None:
            return False
        try:
            signature = base64.b64decode(header, validate=True)
        except (binascii.Error, ValueError):
            return False
        return self.verify_raw(value, signature)

    def verify_raw(self, value: bytes, signature: bytes) -> bool:
        """Whether the 64 bytes `signature` sign `value`."""
        if len(signature) != SIGNATURE_BYTES:
            return False
        try:
            self._key.verify(value, signature)
        except nacl.exceptions.BadSignatureError:
            return False
        return True


def is_public_key(data: bytes) -> bool:
    """Whether the bytes can be an Ed25519 public key (32 of them, a point libsodium takes)."""
    try:
        nacl.signing.VerifyKey(data)
    except (nacl.exceptions.ValueError, nacl.exceptions.TypeError):
        return False
    return True


# Key files: PEM, as OpenSSL and every crypto library read and write them (RFC 8410). For Ed25519
# the DER around the 32 key bytes is fixed, so no ASN.1 library is needed.
_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")
KEY_BYTES = 32


def private_key_pem(key: SigningKey) -> str:
    return _pem("PRIVATE KEY", _PKCS8_PREFIX + key.seed)


def public_key_pem(public_key: bytes) -> str:
    return _pem("PUBLIC KEY", _SPKI_PREFIX + public_key)


def read_private_key(text: str) -> SigningKey:
    """An Ed25519 private key from PEM (`openssl genpkey -algorithm ed25519` writes one)."""
    return SigningKey(_unpem(text, "PRIVATE KEY", _PKCS8_PREFIX))


def read_public_key(text: str) -> bytes:
    """An Ed25519 public key from PEM, or from base64 of its 32 bytes."""
    if "-----BEGIN" in text:
        return _unpem(text, "PUBLIC KEY", _SPKI_PREFIX)
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ValueError("a public key is a PEM block or the base64 of 32 bytes (Ed25519)")
    return raw


def _pem(label: str, der: bytes) -> str:
    body = base64.b64encode(der).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


def _unpem(text: str, label: str, prefix: bytes) -> bytes:
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    if begin not in text or end not in text:
        raise ValueError(f"not a PEM {label.lower()}")
    body = text.split(begin, 1)[1].split(end, 1)[0]
    try:
        der = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the PEM {label.lower()} is not valid base64") from None
    if len(der) != len(prefix) + KEY_BYTES or not der.startswith(prefix):
        raise ValueError(f"the PEM {label.lower()} is not an Ed25519 key")
    return der[len(prefix) :]
