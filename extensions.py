"""The Flask extension objects, bound to the app by the factory, and instance secrets."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask_babel import Babel
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
htmx = HTMX()
limiter = Limiter(key_func=get_remote_address)
login_manager = LoginManager()


def owner_only_dir(path: str) -> None:
    """Create instance/ mode 0700 (database, secrets): no other local user may list or read it.
    An existing one of ours is tightened too (a git checkout makes it 0755)."""
    directory = Path(path)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = directory.stat()
    # Someone else's directory (a shared deployment) is theirs to set.
    if mode.st_uid == os.getuid() and mode.st_mode & 0o077:
        directory.chmod(0o700)


# The secrets every process and machine must share: sessions and CSRF, stored keys' ciphertext,
# and the fingerprints that tell a tracked key from a new one.
SHARED_SECRETS = ("SECRET_KEY", "FERNET_KEYS", "FINGERPRINT_SECRET")


class MissingSecrets(RuntimeError):
    """A shared database without the secrets from the environment: refuse to start."""


def require_shared_secrets(config) -> None:
    """With a database other than SQLite (more than one machine can use it), the secrets must come
    from the configuration: one generated into each machine's instance/ would differ between them.
    One machine with SQLite keeps generating them."""
    url = str(config.get("SQLALCHEMY_DATABASE_URI") or "")
    if url.startswith("sqlite"):
        return
    missing = [name for name in SHARED_SECRETS if not config.get(name)]
    if missing:
        names = ", ".join(f"RELAYDASH_{name}" for name in missing)
        raise MissingSecrets(
            f"refusing to start: {names} not set. With a shared database every process and machine"
            " needs the same secrets from the environment; generate them once (see README"
            ' "Several workers and machines") and give all of them the same values.'
        )


def instance_secret(instance_path: str, name: str) -> str:
    """Read a generated secret from instance/, creating it (mode 0600) on first run."""
    path = Path(instance_path) / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
