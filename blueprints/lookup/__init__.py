"""Public key lookup: paste a key, see what is left (HTML pages and the JSON API)."""

from flask import Blueprint

bp = Blueprint("lookup", __name__)

from . import api, views  # noqa: E402,F401  (registers routes)
