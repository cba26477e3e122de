"""Secrets at rest (keys, webhook URLs): MultiFernet ciphertext, an HMAC fingerprint, rotation."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from sqlalchemy import select

from database import db
from extensions import instance_secret


class Vault:
    """Encrypts with the first Fernet key, decrypts with any (so keys can be rotated)."""

    def __init__(self, fernet_keys: list[str], fingerprint_secret: str):
        if not fernet_keys:
            raise ValueError("at least one Fernet key is needed")
        self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in fernet_keys])
        self._secret = fingerprint_secret.encode()

    def encrypt(self, text: str) -> bytes:
        """Ciphertext for a key (authenticated, timestamped by Fernet)."""
        return self._fernet.encrypt(text.encode())

    def decrypt(self, token: bytes) -> str:
        """The key again; raises InvalidToken when no configured key can open it."""
        return self._fernet.decrypt(token).decode()

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt under the first key."""
        return self._fernet.rotate(token)

    def fingerprint(self, text: str) -> str:
        """HMAC-SHA256 of a key: equal keys give equal fingerprints, nothing else leaks."""
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()


def fernet_keys(app: Flask) -> list[str]:
    """RELAYDASH_FERNET_KEYS (comma-separated), else one generated into instance/ (0600)."""
    configured = app.config.get("FERNET_KEYS")
    if isinstance(configured, str):
        configured = [k for k in configured.split(",") if k.strip()]
    if configured:
        return list(configured)
    path = Path(app.instance_path) / "fernet_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode())
    return [path.read_text().strip()]


# (model, ciphertext columns) of every table holding Fernet ciphertext, for rotation.
ENCRYPTED: list[tuple[type, tuple[str, ...]]] = []


def encrypted(*columns: str):
    """Class decorator: register a model's ciphertext columns so rotation covers them."""

    def register(model: type) -> type:
        ENCRYPTED.append((model, columns))
        return model

    return register


def rotate_all() -> int:
    """Re-encrypt every registered ciphertext under the first key, in one transaction."""
    rows = 0
    for model, columns in ENCRYPTED:
        for row in db.session.scalars(select(model)):
            for column in columns:
                token = getattr(row, column)
                if token:
                    setattr(row, column, vault().rotate(token))
            rows += 1
    db.session.commit()
    return rows


def init_app(app: Flask) -> None:
    """Build the vault once per app."""
    secret = app.config.get("FINGERPRINT_SECRET") or instance_secret(
        app.instance_path, "fingerprint_secret"
    )
    app.extensions["vault"] = Vault(fernet_keys(app), secret)


def vault() -> Vault:
    """The current app's vault."""
    return current_app.extensions["vault"]


__all__ = ["InvalidToken", "Vault", "encrypted", "init_app", "rotate_all", "vault"]
