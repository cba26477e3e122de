"""`flask users create|list|disable|enable|set-password`."""

from __future__ import annotations

import sys

import click

from .routes import bp
from .service import UserError, create_user, find_user, list_users, set_active, set_password

MESSAGES = {
    "bad_username": "The username must be 1-64 characters without spaces.",
    "duplicate_username": "That username is taken.",
    "short_password": "The password must be at least 8 characters.",
}


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _user(name: str):
    user = find_user(name)
    if user is None:
        raise click.ClickException("No user has that name.")
    return user


@bp.cli.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Give the admin role.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_command(name: str, admin: bool, password_stdin: bool) -> None:
    """Create a user (the first admin comes from here, never from a web form)."""
    try:
        user = create_user(name, _password(password_stdin), admin=admin)
    except UserError as error:
        raise click.ClickException(MESSAGES[error.code]) from error
    click.echo(f"created {user.username} ({user.role})")


@bp.cli.command("list")
def list_command() -> None:
    """List users."""
    for user in list_users():
        state = "active" if user.active else "disabled"
        click.echo(f"{user.username}\t{user.role}\t{state}")


@bp.cli.command("disable")
@click.argument("name")
def disable_command(name: str) -> None:
    """Disable a user (they cannot log in; their sessions end)."""
    set_active(_user(name), False)
    click.echo(f"disabled {name}")


@bp.cli.command("enable")
@click.argument("name")
def enable_command(name: str) -> None:
    """Enable a disabled user again."""
    set_active(_user(name), True)
    click.echo(f"enabled {name}")


@bp.cli.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_password_command(name: str, password_stdin: bool) -> None:
    """Set a user's password."""
    try:
        set_password(_user(name), _password(password_stdin))
    except UserError as error:
        raise click.ClickException(MESSAGES[error.code]) from error
    click.echo(f"password set for {name}")
