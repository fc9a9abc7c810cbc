"""Secrets at rest: device keys encrypted (AES-GCM), passwords argon2, tokens SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

DEVICE_KEY_LEN = 16  # 128-bit HMAC keys: the fob's truncated tag is the weaker link anyway
_NONCE_LEN = 12
_TAG_LEN = 8  # protocol/tag.py TAG_LEN
_hasher = PasswordHasher()


# How long an opened device key stays in memory: a busy fob's frames do not each pay an AES-GCM
# open, and a key read from a restored or tampered row is not believed for ever.
KEY_TTL_S = 600.0
MAX_OPEN_KEYS = 200_000  # a fleet's worth; beyond it the oldest are dropped first
_DIRECTION_BYTES = (b"U", b"D")  # protocol/tag.py: the byte the tag covers before the frame


class OpenedKey:
    """A device key opened from its sealed row: the bytes, and the HMAC state after each
    direction's byte, so a frame's tag costs one copy and one update (protocol/tag.py gives the
    same tags from scratch). Zeroed when the device is revoked."""

    __slots__ = ("key", "expires", "_states")

    def __init__(self, key: bytes, expires: float) -> None:
        self.key = bytearray(key)
        self.expires = expires
        self._states: tuple[hmac.HMAC, ...] | None = tuple(
            hmac.new(self.key, d, hashlib.sha256) for d in _DIRECTION_BYTES
        )

    def tag(self, direction: int, signed: bytes) -> bytes:
        if self._states is None:
            raise InvalidTag("the device's key was revoked")
        h = self._states[direction].copy()
        h.update(signed)
        return h.digest()[:_TAG_LEN]

    def zero(self) -> None:
        self._states = None
        self.key[:] = bytes(len(self.key))


class KeyBox:
    """Encrypts device keys under a key derived from the master secret; the device id is bound
    as associated data so a ciphertext cannot be moved to another device's row."""

    def __init__(self, master_key: str, clock: Callable[[], float] = time.monotonic) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"vigil device keys v1"
        ).derive(master_key.encode())
        self._aead = AESGCM(derived)
        self._clock = clock
        # device id -> (its sealed key, opened): the ciphertext is checked on every use, so a
        # re-provisioned device (a new ciphertext) never reuses its old key.
        self._open: dict[int, tuple[bytes, OpenedKey]] = {}

    def seal(self, device_id: int, key: bytes) -> bytes:
        nonce = os.urandom(_NONCE_LEN)
        return nonce + self._aead.encrypt(nonce, key, device_id.to_bytes(4, "big"))

    def opened(self, device_id: int, sealed: bytes) -> OpenedKey:
        """The device's key, opened at most once per KEY_TTL_S. Raises InvalidTag when the
        sealed key will not open (a tampered row, a restore under another master key)."""
        now = self._clock()
        hit = self._open.get(device_id)
        if hit is not None and hit[0] == sealed and hit[1].expires > now:
            return hit[1]
        key = self._aead.decrypt(
            sealed[:_NONCE_LEN], sealed[_NONCE_LEN:], device_id.to_bytes(4, "big")
        )
        opened = OpenedKey(key, now + KEY_TTL_S)
        # An expired or replaced key is dropped, not zeroed: a batch on another thread may
        # still be verifying with it. Revocation (forget) zeroes.
        self._open.pop(device_id, None)
        self._open[device_id] = (sealed, opened)
        while len(self._open) > MAX_OPEN_KEYS:
            self._open.pop(next(iter(self._open)), None)
        return opened

    def open(self, device_id: int, sealed: bytes) -> bytes:
        return bytes(self.opened(device_id, sealed).key)

    def forget(self, device_id: int) -> None:
        """The device was revoked: zero its key in memory now."""
        hit = self._open.pop(device_id, None)
        if hit is not None:
            hit[1].zero()


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
