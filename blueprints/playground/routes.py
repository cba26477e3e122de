"""Playground URLs: the page, start a run, its one stream, stop it, list models, view code."""

from __future__ import annotations

from flask import Blueprint, current_app, request
from flask_login import current_user

from blueprints.shared.inputs import BadValue, whole_number
from extensions import limiter, login_manager

from . import pages
from .build import MAX_COLUMNS, MAX_REPEAT, BadRun
from .source import owner

bp = Blueprint("playground", __name__, url_prefix="/playground")


def _allowed() -> bool:
    return current_user.is_authenticated or current_app.config["PLAYGROUND_PUBLIC"]


@bp.url_value_preprocessor
def _room_for_long_prompts(_endpoint, _values) -> None:
    """Long conversations and schemas need more than the app-wide 64 KiB (multipart: 500 kB).

    Raised here, not in before_request: the app-wide CSRF check and the rate limiter's cost
    read the form in app before_request hooks, which run before any blueprint's; URL value
    preprocessors run before them all.
    """
    if _allowed():
        limit = int(current_app.config["PLAYGROUND_MAX_BYTES"])
        request.max_content_length = limit
        request.max_form_memory_size = limit


@bp.before_request
def _members_only():
    """Login required unless PLAYGROUND_PUBLIC opens the playground to guests."""
    if not _allowed():
        return login_manager.unauthorized()
    return None


@bp.errorhandler(BadRun)
@bp.errorhandler(BadValue)
def _refused(error: BadRun | BadValue):
    return pages.refused(error)


def _run_cost() -> int:
    """A run costs one unit per upstream call it may make (columns × repetitions)."""
    columns = min(max(len(request.form.getlist("model")), 1), MAX_COLUMNS)
    try:
        repeat = whole_number(request.form.get("repeat"), "repeat", low=1, high=MAX_REPEAT)
    except BadValue:
        repeat = None  # the run itself is refused, saying why
    return columns * (repeat or 1)


@bp.get("")
def index():
    """The playground."""
    return pages.page()


@bp.post("/run")
@limiter.limit(lambda: current_app.config["PLAYGROUND_RATE_LIMIT"], key_func=owner, cost=_run_cost)
def run():
    """Start a run; the answer opens its stream."""
    return pages.start(request.form)


@bp.get("/runs/<run_id>/events")
def events(run_id: str):
    """The run's Server-Sent Events (once)."""
    return pages.stream(run_id)


@bp.post("/runs/<run_id>/stop")
def stop(run_id: str):
    """Stop a run now."""
    return pages.stop(run_id)


@bp.post("/models")
@limiter.limit(lambda: current_app.config["PLAYGROUND_MODELS_RATE_LIMIT"], key_func=owner)
def models():
    """The chosen key's models (for the model pickers)."""
    return pages.model_options(request.form)


@bp.post("/code")
def code():
    """The request the form would send, as code."""
    return pages.code(request.form)
