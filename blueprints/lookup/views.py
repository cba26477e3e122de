"""HTML views: the lookup page, its result card, the request log and the batch page."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    stream_with_context,
)

from blueprints.shared import no_store
from extensions import limiter

from . import batch, pages, present
from .forms import batch_input, lookup_input
from .service import BadInput

bp = Blueprint("lookup", __name__)
bp.add_app_template_filter(present.amount, "amount")
bp.app_context_processor(present.lookup_helpers)


def _lookup_limit() -> str:
    return current_app.config["LOOKUP_RATE_LIMIT"]


def _batch_limit() -> str:
    return current_app.config["BATCH_RATE_LIMIT"]


@bp.get("/")
def index():
    """The lookup page: provider, key, Look up."""
    return pages.page("lookup/index.html")


def keyed(view):
    """Parse provider + key from the form; bad input becomes a refusal card, not a view call."""

    @functools.wraps(view)
    def wrapper():
        try:
            provider, key = lookup_input(request.form)
        except BadInput as error:
            return pages.refused(error, "lookup/index.html", "lookup/_result.html")
        return view(provider, key)

    return wrapper


@bp.post("/lookup")
@limiter.limit(_lookup_limit)
@keyed
def lookup(provider, key):
    """Look a pasted key up; the card for htmx, the whole page otherwise."""
    return pages.result(provider, key)


@bp.post("/lookup/log")
@limiter.limit(_lookup_limit)
@keyed
def log(provider, key):
    """The key's request log (lazy, under the card): sorted, paged, summed."""
    context = pages.log_fragment(provider, key, request.form)
    status = 400 if context["range_error"] else 200
    return no_store(Response(render_template("lookup/_log.html", **context), status))


@bp.post("/lookup/log.csv")
@limiter.limit(_lookup_limit)
@keyed
def log_csv(provider, key):
    """The request log as CSV in money units (a POST: the key never enters a URL)."""
    body = pages.log_csv(provider, key, request.form)
    name = f"relaydash-log-{datetime.now(UTC):%Y%m%d-%H%M}.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return no_store(Response(body, mimetype="text/csv", headers=headers))


@bp.get("/batch")
def batch_page():
    """The batch page: paste up to 100 keys."""
    return pages.page("lookup/batch.html")


@bp.post("/batch")
@limiter.limit(_batch_limit)
def batch_run():
    """Check many keys: NDJSON rows as they finish for our script, a full page without JS."""
    streaming = request.accept_mimetypes.best == "application/x-ndjson"
    try:
        provider, keys, skipped = batch_input(request.form)
    except BadInput as error:
        return pages.refused(
            error, "lookup/batch.html", "lookup/_batch_error.html", fragment=streaming
        )
    if streaming:
        lines = stream_with_context(pages.batch_stream(provider, keys, skipped))
        response = Response(lines, mimetype="application/x-ndjson")
        response.headers["X-Accel-Buffering"] = "no"  # nginx: each row as it finishes
        return no_store(response)
    rows = pages.batch_table(provider, keys)
    csv = batch.seal_table(rows)
    return pages.page("lookup/batch.html", rows=rows, skipped=skipped, csv=csv)


@bp.post("/batch.csv")
def batch_csv():
    """A finished batch table as CSV (masked keys only), rebuilt from the sealed table the page
    posts back: no worker keeps it, so any of them answers."""
    rows = batch.open_table(request.form.get("table", ""))
    if rows is None:
        abort(400)
    headers = {"Content-Disposition": 'attachment; filename="relaydash-batch.csv"'}
    return no_store(Response(batch.table_csv(rows), mimetype="text/csv", headers=headers))
