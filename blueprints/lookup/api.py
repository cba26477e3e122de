"""The JSON API: POST /api/v1/lookup, /api/v1/lookup/batch, the OpenAPI document and its page."""

from __future__ import annotations

from flask import current_app, jsonify, render_template, request

from blueprints.shared import json_error, no_store
from extensions import csrf, limiter
from relay.keys import mask

from . import apidocs, batch
from .forms import batch_input, json_body, lookup_input
from .messages import input_error
from .openapi import spec
from .present import to_json
from .service import BadInput, lookup_key
from .views import bp


def _refuse(error: BadInput):
    limit = current_app.config["BATCH_MAX_KEYS"]
    return json_error(error.code, input_error(error.code, limit=limit), error.status)


@bp.post("/api/v1/lookup")
@csrf.exempt  # JSON only, no cookies or session involved: nothing for a forged form to ride on.
@limiter.limit(lambda: current_app.config["LOOKUP_RATE_LIMIT"])
def api_lookup():
    """One key's balance as JSON."""
    try:
        provider, key = lookup_input(json_body())
    except BadInput as error:
        return _refuse(error)
    return no_store(jsonify(to_json(provider, lookup_key(provider, key))))


@bp.post("/api/v1/lookup/batch")
@csrf.exempt
@limiter.limit(lambda: current_app.config["BATCH_RATE_LIMIT"])
def api_batch():
    """Many keys' balances as JSON, in the order given, keys masked."""
    try:
        provider, keys, skipped = batch_input(json_body())
    except BadInput as error:
        return _refuse(error)
    balances = dict(batch.run(provider, keys))
    results = [to_json(provider, balances[i], mask(key)) for i, key in enumerate(keys)]
    return no_store(jsonify(results=results, skipped=skipped))


@bp.get("/api/v1/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(spec())


@bp.get("/api")
def api_docs():
    """The API for people: the OpenAPI document rendered as a page (no script needed)."""
    return render_template("lookup/api.html", **apidocs.page(spec(), request.url_root))
