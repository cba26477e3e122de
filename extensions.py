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


def instance_secret(instance_path: str, name: str) -> str:
    """Read a generated secret from instance/, creating it (mode 0600) on first run."""
    path = Path(instance_path) / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()
