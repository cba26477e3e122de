"""Admin pages: providers, their monitors and users (admins only).

Plain forms; htmx only for "test connection".
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _

from blueprints.auth.access import admin_required
from blueprints.auth.models import User
from blueprints.auth.service import UserError, list_users
from blueprints.providers.models import Provider
from blueprints.providers.service import ProviderError, delete_provider, edit_provider, keys_using
from blueprints.shared import no_store, render_htmx
from database import db

from . import monitor, providers, users

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@admin_required
def guard():
    """Guards every admin URL at once, so no view can forget: login, then admin (else 403)."""


@bp.context_processor
def kinds():
    """The provider form's "Relay family" choices, wherever the form is drawn."""
    return {"kinds": providers.kind_choices()}


def _page(page: str, partial: str, status: int = 200, **context):
    return no_store(render_htmx(page, partial, status, **context))


def _providers_page(status: int = 200, partial: str = "admin/_providers.html", **context):
    context.setdefault("form", providers.form_values())
    context["rows"] = providers.rows()
    return _page("admin/providers.html", partial, status, **context)


def _users_page(status: int = 200, **context):
    context.setdefault("form", {"username": "", "role": "member"})
    context["users"] = list_users()
    return _page("admin/users.html", "admin/_users.html", status, **context)


def _done(message: str, endpoint: str):
    flash(message, "ok")
    return redirect(url_for(endpoint), code=303)


@bp.get("/")
def index():
    """The admin home is the provider list."""
    return redirect(url_for("admin.providers"))


@bp.get("/providers", endpoint="providers")
def providers_page():
    """Providers: the table and the add form."""
    return _providers_page()


@bp.post("/providers")
def add_provider():
    """Add a provider from the form."""
    try:
        provider = providers.save(None, request.form)
    except ProviderError as error:
        form = providers.form_values(form=request.form)
        return _providers_page(400, form=form, error=providers.error_text(error))
    return _done(_("Added %(name)s.", name=provider.name), "admin.providers")


@bp.get("/providers/<id:pid>/edit")
def edit_provider_page(pid: int):
    """The edit form for one provider."""
    provider = db.get_or_404(Provider, pid)
    form = providers.form_values(provider)
    return _page(
        "admin/provider_edit.html", "admin/_provider_form.html", provider=provider, form=form
    )


@bp.post("/providers/<id:pid>/edit")
def save_provider(pid: int):
    """Save an edited provider."""
    provider = db.get_or_404(Provider, pid)
    try:
        providers.save(provider, request.form)
    except ProviderError as error:
        db.session.rollback()
        context = {"form": providers.form_values(form=request.form), "provider": provider}
        return _page(
            "admin/provider_edit.html",
            "admin/_provider_form.html",
            400,
            **context,
            error=providers.error_text(error),
        )
    return _done(_("Saved %(name)s.", name=provider.name), "admin.providers")


@bp.post("/providers/<id:pid>/visibility")
def provider_visibility(pid: int):
    """Hide a provider from the public lookup, or show it again."""
    provider = edit_provider(db.get_or_404(Provider, pid), hidden=request.form.get("hidden") == "1")
    name = provider.name
    message = (
        _("%(name)s is hidden.", name=name)
        if provider.hidden
        else _("%(name)s is public.", name=name)
    )
    return _done(message, "admin.providers")


@bp.get("/providers/<id:pid>/remove")
def confirm_remove_provider(pid: int):
    """Ask before removing (and say how many tracked keys would go with it)."""
    provider = db.get_or_404(Provider, pid)
    return _page(
        "admin/provider_remove.html",
        "admin/_provider_remove.html",
        provider=provider,
        keys=keys_using(provider),
    )


@bp.post("/providers/<id:pid>/remove")
def remove_provider(pid: int):
    """Remove a provider; its tracked keys too, only when that was confirmed."""
    provider = db.get_or_404(Provider, pid)
    try:
        delete_provider(provider, force=request.form.get("force") == "1")
    except ProviderError as error:
        return _page(
            "admin/provider_remove.html",
            "admin/_provider_remove.html",
            400,
            provider=provider,
            keys=error.count,
            error=providers.error_text(error),
        )
    return _done(_("Removed %(name)s.", name=provider.name), "admin.providers")


@bp.post("/providers/<id:pid>/test")
def test_provider(pid: int):
    """Detect the relay family afresh and show what it can answer (or why nothing answered)."""
    probe = providers.probe(db.get_or_404(Provider, pid))
    return _providers_page(partial="admin/_probe.html", probe=probe)


@bp.get("/status/<id:pid>", endpoint="monitor")
def monitor_page(pid: int):
    """Monitor settings, incidents and notices of one provider."""
    return monitor.page(pid)


@bp.post("/status/<id:pid>")
def save_monitor(pid: int):
    """Save the monitor settings."""
    return monitor.save(pid, request.form)


@bp.post("/status/<id:pid>/notices")
def add_notice(pid: int):
    """Add an announcement or a maintenance window."""
    return monitor.add_notice(pid, request.form)


@bp.post("/status/notices/<id:notice_id>/end")
def end_notice(notice_id: int):
    """End an announcement or maintenance window now."""
    return monitor.end_notice(notice_id)


@bp.post("/status/incidents/<id:incident_id>/notes")
def add_note(incident_id: int):
    """Add an update note to an incident."""
    return monitor.add_note(incident_id, request.form)


@bp.get("/users", endpoint="users")
def users_page():
    """Users: the table and the add form."""
    return _users_page()


@bp.post("/users")
def add_user():
    """Add a user (username, password, role)."""
    try:
        user = users.add(request.form)
    except UserError as error:
        form = {"username": request.form.get("username", ""), "role": request.form.get("role")}
        return _users_page(400, form=form, error=users.error_text(error))
    return _done(_("Added %(name)s.", name=user.username), "admin.users")


@bp.post("/users/<id:uid>/active")
def user_active(uid: int):
    """Enable or disable a user."""
    return _user_change(uid, users.change_active, request.form.get("active") == "1")


@bp.post("/users/<id:uid>/role")
def user_role(uid: int):
    """Make a user an admin or a member."""
    return _user_change(uid, users.change_role, request.form.get("role"))


@bp.post("/users/<id:uid>/password")
def user_password(uid: int):
    """Set a new password for a user."""
    return _user_change(uid, users.reset_password, request.form.get("password"))


def _user_change(uid: int, change, value):
    user = db.get_or_404(User, uid)
    try:
        change(user, value)
    except UserError as error:
        db.session.rollback()
        return _users_page(400, error=users.error_text(error), error_user=user.id)
    return _done(_("Saved %(name)s.", name=user.username), "admin.users")
