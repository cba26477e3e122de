"""Rendering the playground: the page, a started run, its stream, the model list, the code."""

from __future__ import annotations

from flask import Response, make_response, render_template, request, stream_with_context, url_for

from blueprints.providers.connect import timeouts
from blueprints.providers.prices import prices_of
from blueprints.shared import inputs, no_store, render_htmx
from blueprints.shared.texts import STATUS_LABELS

from . import build, catalog, codegen, pending, source
from .errors import form_error
from .runs import RUNS, Run
from .schema import MATH_REASONING
from .stream import events


def page():
    """The playground form."""
    context = {
        "providers": source.providers(),
        "tracked": source.my_tracked(),
        "status_labels": STATUS_LABELS,
        "preset": MATH_REASONING,
        "params": build.PARAMS,
        "max_columns": build.MAX_COLUMNS,
        "max_repeat": build.MAX_REPEAT,
    }
    return no_store(render_htmx("playground/index.html", "playground/_partial.html", **context))


def refused(error: build.BadRun | inputs.BadValue, status: int = 400):
    """A run refused before sending: the message (and schema problems), nothing sent."""
    text = inputs.message(error) if isinstance(error, inputs.BadValue) else form_error(error)
    body = render_template(
        "playground/_refused.html", message=text, problems=error.params.get("problems")
    )
    return no_store(make_response(body, status))


def start(form):
    """Check the form, seal the run into its slot, answer with the view that opens its stream."""
    spec = build.parse(form)
    src = source.resolve(form)
    run = Run(
        owner=source.owner(),
        base_url=src.provider.base_url,
        provider=src.provider.name,
        key=src.key,
        masked=src.masked,
        spec=spec,
        prices=prices_of(src.provider.id),
        unit=catalog.money_unit(src.provider.base_url),
    )
    one_time = pending.open_slot(run)
    if one_time is None:
        return refused(build.BadRun("too_many_runs"), 429)
    code = [codegen.snippets(run.base_url, column.body) for column in spec.columns]
    body = render_template(
        "playground/_run.html",
        run=run,
        stream_url=url_for("playground.events", run_id=run.id, k=one_time),
        code=code,
        languages=codegen.LANGUAGES,
        clients=codegen.client_snippets(run.base_url),
    )
    run.forget()  # this worker is done with it: the stream's worker opens the sealed copy
    return no_store(make_response(body))


def stream(run_id: str):
    """The run's SSE stream, once, on whichever worker; 204 otherwise (which also stops
    EventSource retrying)."""
    run = pending.claim(run_id, source.owner(), request.args.get("k", ""))
    if run is None:
        return Response(status=204)
    RUNS.add(run)
    body = stream_with_context(events(run, timeouts("stream")))
    response = Response(body, mimetype="text/event-stream")
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return no_store(response)


def stop(run_id: str):
    """Stop a run of mine: at once when this worker streams it, else through its row."""
    run = RUNS.find(run_id, source.owner())
    if run is not None:
        run.stop()
    pending.request_stop(run_id, source.owner())
    return Response(status=204)


def model_options(form):
    """The key's models as a datalist (and the relay's unit, fetched once and cached)."""
    src = source.resolve(form)
    found, answer = catalog.models(src.provider.base_url, src.key)
    catalog.money_unit(src.provider.base_url, fetch=True)
    body = render_template("playground/_models.html", models=found, answer=answer)
    return no_store(make_response(body))


def code(form):
    """What the form would send, as code for each client; nothing is sent."""
    spec = build.parse(form)
    base_url = source.base_url_of(form)
    body = render_template(
        "playground/_code.html",
        code=[codegen.snippets(base_url, column.body) for column in spec.columns],
        models=[column.model for column in spec.columns],
        languages=codegen.LANGUAGES,
        clients=codegen.client_snippets(base_url),
    )
    return no_store(make_response(body))
