"""Secrets at rest: device keys encrypted (AES-GCM), passwords argon2, tokens SHA-256."""

from __future__ import annotations

import hashlib
import os
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DEVICE_KEY_LEN = 16  # 128-bit HMAC keys: the fob's truncated tag is the weaker link anyway
_NONCE_LEN = 12
_hasher = PasswordHasher()


class KeyBox:
    """Encrypts device keys under a key derived from the master secret; the device id is bound
    as associated data so a ciphertext cannot be moved to another device's row."""

    def __init__(self, master_key: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"vigil device keys v1"
        ).derive(master_key.encode())
        self._aead = AESGCM(derived)
        self._cache: dict[bytes, bytes] = {}

    def seal(self, device_id: int, key: bytes) -> bytes:
        nonce = os.urandom(_NONCE_LEN)
        return nonce + self._aead.encrypt(nonce, key, device_id.to_bytes(4, "big"))

    def open(self, device_id: int, sealed: bytes) -> bytes:
        # Ingest opens the same key thousands of times a second; the ciphertext is the cache key
        # so a re-provisioned device (new ciphertext) never reuses an old key.
        cached = self._cache.get(sealed)
        if cached is None:
            cached = self._aead.decrypt(
                sealed[:_NONCE_LEN], sealed[_NONCE_LEN:], device_id.to_bytes(4, "big")
            )
            self._cache[sealed] = cached
        return cached


def new_device_key() -> bytes:
    return secrets.token_bytes(DEVICE_KEY_LEN)


def new_token(prefix: str) -> str:
    return prefix + "_" + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # Tokens are 256-bit random: a fast hash is enough (no dictionary to attack), and lookup by
    # hash keeps the plaintext out of the database.
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
