"""Tracked keys on every relay family: verdicts from evidence, unknowns shown as unknown."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

import relay
from blueprints.alerts.evaluate import evaluate
from blueprints.alerts.models import AlertState, Channel, Delivery
from blueprints.auth.service import find_user
from blueprints.keys.advice import budget_advice
from blueprints.keys.models import BalanceSample, TrackedKey
from blueprints.keys.poller import poll_key, poll_once
from blueprints.providers.models import Provider
from blueprints.providers.service import add_provider, edit_provider
from blueprints.shared.vault import vault
from database import db, utcnow
from tests.conftest import login
from tests.fakerelay import random_key

USD = 500000
TOKEN_USAGE = "/api/usage/token/"
MODELS = "/v1/models"


@pytest.fixture
def alice(app, client, make_user):
    """Alice, logged in, with a webhook channel so alert events are queued."""
    make_user("alice")
    login(client, "alice")
    with app.app_context():
        db.session.add(
            Channel(
                user_id=find_user("alice").id,
                kind="webhook",
                name="hook",
                url_ciphertext=vault().encrypt("https://hooks.example.com/relaydash"),
                url_hint="hooks.example.com",
            )
        )
        db.session.commit()
    return client


@pytest.fixture
def track(app, alice):
    """Factory: track a key on a fake relay (one provider per relay); returns the key id."""
    providers: dict[str, int] = {}

    def make(fake, key: str, **fields) -> int:
        with app.app_context():
            if fake.base_url not in providers:
                provider = add_provider(f"relay{len(providers)}", fake.base_url)
                providers[fake.base_url] = provider.id
            tracked = TrackedKey.sealed(
                key,
                user_id=find_user("alice").id,
                provider_id=providers[fake.base_url],
                label=fields.pop("label", "k" + key[-4:]),
                **fields,
            )
            db.session.add(tracked)
            db.session.commit()
            return tracked.id

    return make


def run_pass(app, now=None):
    with app.app_context():
        return poll_once(now, force=True)


def key_row(app, key_id: int) -> TrackedKey:
    with app.app_context():
        key = db.session.get(TrackedKey, key_id)
        db.session.expunge(key)
        return key


def history(app, key_id: int) -> list[tuple[str, str | None]]:
    with app.app_context():
        rows = db.session.execute(
            select(BalanceSample.status, BalanceSample.error)
            .where(BalanceSample.key_id == key_id)
            .order_by(BalanceSample.id)
        ).all()
        return [tuple(row) for row in rows]


def events(app, key_id: int) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(
            select(Delivery).where(Delivery.key_id == key_id).order_by(Delivery.id)
        ).all()
        return [json.loads(row.payload) for row in rows]


def spend_critical_budget(fake) -> None:
    """Use up relaydash's own /api/usage/token budget for this relay, as visitors would."""
    while relay.BUDGETS.reserve(fake.url, (TOKEN_USAGE,)) == 0:
        pass


# -- LiteLLM -----------------------------------------------------------------------------------


def test_a_litellm_key_with_a_budget_gets_its_numbers_in_usd_and_its_stated_expiry(
    app, alice, relays, track
):
    fake = relays("litellm")
    expires = (utcnow() + timedelta(days=20)).replace(microsecond=0)
    token = fake.add_token(
        spend=2.5,
        max_budget=10.0,
        budget_duration="30d",
        key_alias="team-a",
        expires=expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    never = fake.add_token(spend=1.0, max_budget=4.0)  # LiteLLM says "expires": null
    key_id, never_id = track(fake, token.key), track(fake, never.key)
    report = run_pass(app)
    assert (report.polled, report.failed) == (2, 0)
    key = key_row(app, key_id)
    assert (key.status, key.unit, key.total, key.used, key.remaining) == (
        "active",
        "USD",
        10.0,
        2.5,
        7.5,
    )
    assert key.expiry_stated and key.expires_at.replace(tzinfo=None) == expires.replace(tzinfo=None)
    assert key.token_name == "team-a" and key.error is None
    assert history(app, key_id) == [("active", None)]
    assert key_row(app, never_id).expiry_stated and key_row(app, never_id).expires_at is None
    with app.app_context():
        assert db.session.get(Provider, key.provider_id).detected_kind == "litellm"
    page = alice.get(f"/keys/{key_id}").get_data(as_text=True)
    assert "LiteLLM" in page and "$7.50" in page and "$10.00" in page
    assert expires.strftime("%Y-%m-%d") in page and "Not stated" not in page
    assert "LiteLLM publishes no per-key request log." in page
    never_page = alice.get(f"/keys/{never_id}").get_data(as_text=True)
    assert '<dd data-testid="expires">Never</dd>' in never_page


def test_litellm_polls_spend_no_per_ip_budget_and_read_no_log(app, alice, relays, track):
    fake = relays("litellm")
    key_id = track(fake, fake.add_token(spend=1.0, max_budget=5.0).key)
    for _ in range(3):
        run_pass(app)
    assert len(history(app, key_id)) == 3
    keyed = [r for r in fake.requests if r.headers.get("Authorization")]
    assert keyed and not [r for r in keyed if relay.budget.group_of(r.path)]
    assert key_row(app, key_id).log_checked_at is not None  # looked at once, nothing to read
    with app.app_context():
        provider = db.session.get(Provider, key_row(app, key_id).provider_id)
        assert budget_advice(provider, [60] * 5000) is None


def test_a_blocked_litellm_key_is_disabled_and_alerts_once(app, alice, relays, track):
    fake = relays("litellm")
    token = fake.add_token(spend=1.0, max_budget=5.0)
    key_id = track(fake, token.key)
    run_pass(app)
    token.status = "disabled"
    run_pass(app)
    run_pass(app)
    assert history(app, key_id) == [
        ("active", None),
        ("disabled", "disabled"),
        ("disabled", "disabled"),
    ]
    assert [e["status"] for e in events(app, key_id)] == ["disabled"]


# -- a relay that publishes no balance ---------------------------------------------------------


def test_a_key_on_a_generic_relay_is_active_without_numbers(app, alice, relays, track):
    fake = relays("openai")
    key_id = track(fake, fake.add_token().key, low_threshold=5.0)
    before = utcnow()
    report = run_pass(app)
    assert (report.polled, report.failed) == (1, 0)
    key = key_row(app, key_id)
    assert (key.status, key.error, key.unit, key.remaining, key.used) == (
        "active",
        "no_balance",
        None,
        None,
        None,
    )
    assert not key.expiry_stated and key.expires_at is None
    with app.app_context():
        (sample,) = db.session.scalars(select(BalanceSample)).all()
        assert (sample.source, sample.remaining) == (MODELS, None)
    # validity only: checked at most every 30 minutes, whatever the key's 10-minute interval
    assert key.next_poll_at - before >= timedelta(minutes=27)
    assert [r.path for r in fake.requests if r.headers.get("Authorization")] == [MODELS]
    assert events(app, key_id) == []  # no low-balance alert: there is no balance to watch
    with app.app_context():
        assert db.session.scalars(select(AlertState)).all() == []


def test_the_key_page_of_a_no_balance_key_says_so_and_claims_nothing(app, alice, relays, track):
    fake = relays("openai")
    key_id = track(fake, fake.add_token().key, low_threshold=5.0)
    run_pass(app)
    page = alice.get(f"/keys/{key_id}").get_data(as_text=True)
    assert "OpenAI-compatible" in page
    assert "This relay publishes no balance for keys." in page
    assert "Low-balance alerts are off for this key" in page
    assert "at most every 30 min" in page
    assert '<span class="muted">Not stated</span>' in page and "Never" not in page
    assert "This relay publishes no per-key request log." in page
    assert "0.00" not in page and "one-api relays" not in page
    assert "no_balance" not in page  # a design fact, not an error code
    alerts = alice.get("/alerts").get_data(as_text=True)
    assert "Low-balance alerts that are off" in alerts and "publishes no balance" in alerts


def test_a_wrong_key_on_a_generic_relay_is_refused_not_invalid(app, alice, relays, track):
    fake = relays("openai")
    key_id = track(fake, random_key())
    run_pass(app)
    assert history(app, key_id) == [("refused", "refused")]
    (event,) = events(app, key_id)
    assert event["event"] == "status" and "refused, reason not stated" in event["message"]
    page = alice.get(f"/keys/{key_id}").get_data(as_text=True)
    assert "Refused" in page and "does not say which" in page
    assert "Invalid key" not in page and "copied the whole key" not in page
    run_pass(app)
    assert len(events(app, key_id)) == 1  # refused again is no new event
    table = alice.get("/keys").get_data(as_text=True)
    assert 'data-status="refused">Refused</span>' in table


def test_a_refresh_on_a_generic_relay_needs_no_budget(app, alice, relays, track):
    fake = relays("openai")
    key_id = track(fake, fake.add_token().key)
    relay.BUDGETS.configure(fake.url, 1, 3600)
    with app.app_context():
        sample = poll_key(key_id)
        assert sample is not None and sample.status == "active"


def test_keys_at_an_address_where_nothing_answers_are_unreachable_without_a_call(
    app, alice, relays, track
):
    fake = relays("openai")
    key_id = track(fake, fake.add_token().key)
    fake.stop()
    run_pass(app)
    assert history(app, key_id) == [("unreachable", "unreachable")]
    assert events(app, key_id) == []


# -- new-api 2026 with relaydash's own budget spent (the story) ------------------------


def test_a_spent_key_never_turns_invalid_when_the_budget_holds_the_deciding_call(
    app, alice, relays, track
):
    fake = relays("new-api-2026", lang="en")  # TokenAuth says "Invalid token" for everything
    token = fake.add_token(remain_quota=0, used_quota=5 * USD)
    key_id = track(fake, token.key)
    run_pass(app)
    run_pass(app)
    assert history(app, key_id) == [("exhausted", "exhausted")] * 2
    spend_critical_budget(fake)
    calls = len(fake.requests_to(TOKEN_USAGE))
    run_pass(app)
    run_pass(app)
    assert len(fake.requests_to(TOKEN_USAGE)) == calls  # held back by our own budget
    assert (
        history(app, key_id) == [("exhausted", "exhausted")] * 2 + [("exhausted", "unchecked")] * 2
    )
    key = key_row(app, key_id)
    assert (key.status, key.remaining, key.used) == ("exhausted", 0.0, 5.0)
    assert [e["status"] for e in events(app, key_id)] == ["exhausted"]  # no new alert
    with app.app_context():
        assert poll_key(key_id).status == "exhausted"  # a person's refresh: the same verdict
    assert history(app, key_id)[-1] == ("exhausted", "unchecked")
    page = alice.get(f"/keys/{key_id}").get_data(as_text=True)
    assert "unchanged, not checked" in page and "Invalid key" not in page


def test_an_active_key_refused_while_the_budget_is_spent_is_refused_with_one_alert(
    app, alice, relays, track
):
    fake = relays("new-api-2026", lang="en")
    token = fake.add_token(remain_quota=3 * USD)
    key_id = track(fake, token.key, poll_interval=6 * 3600)
    run_pass(app)
    token.status = "disabled"
    spend_critical_budget(fake)
    run_pass(app)
    run_pass(app)
    assert history(app, key_id) == [
        ("active", None),
        ("refused", "refused"),
        ("refused", "refused"),
    ]
    (event,) = events(app, key_id)
    assert event["status"] == "refused" and "refused, reason not stated" in event["message"]
    key = key_row(app, key_id)
    # back as soon as the call that can tell is allowed again, not in six hours
    assert key.next_poll_at - key.last_polled_at <= timedelta(minutes=22)


def test_a_dead_key_stays_dead_through_a_relay_outage_and_a_refusal(app, alice, relays, track):
    fake = relays("new-api-2026", lang="en")
    token = fake.add_token(remain_quota=4 * USD, expired_time=int(time.time()) - 60)
    key_id = track(fake, token.key)
    run_pass(app)
    fake.set_fault("*", "500", times=3)
    run_pass(app)
    spend_critical_budget(fake)
    run_pass(app)
    assert history(app, key_id) == [
        ("expired", "expired"),
        ("error", "relay_error"),
        ("expired", "unchecked"),
    ]
    assert [e["status"] for e in events(app, key_id)] == ["expired"]


# -- usage pages and CSV -----------------------------------------------------------------------


def test_usage_pages_show_unknown_spend_and_expiry_as_unknown(app, alice, relays, track):
    fake = relays("openai")
    key_id = track(fake, fake.add_token().key)
    now = utcnow()
    for hours in (30, 20, 1):
        run_pass(app, now - timedelta(hours=hours))
    page = alice.get(f"/usage/{key_id}?range=7d&tz=UTC").get_data(as_text=True)
    assert "0.00" not in page
    assert 'data-testid="kpi-expires"><span class="muted">Not stated</span>' in page
    assert "This relay publishes no balance for keys." in page
    overview = alice.get("/usage?tz=UTC").get_data(as_text=True)
    assert "0.00" not in overview
    csv = alice.get(f"/usage/{key_id}.csv?range=7d&tz=UTC").get_data(as_text=True)
    lines = csv.lstrip("\ufeff").strip().splitlines()
    assert len(lines) >= 2
    for line in lines[1:]:
        day, spend, topup, low, requests, cost, prompt, completion, unit = line.split(",")
        assert (spend, topup, low, requests, cost, prompt, completion) == ("",) * 7


def test_the_usage_page_says_never_only_when_the_relay_said_so(app, alice, relays, track):
    fake = relays("litellm")
    key_id = track(fake, fake.add_token(spend=1.0, max_budget=4.0).key)
    run_pass(app)
    page = alice.get(f"/usage/{key_id}?tz=UTC").get_data(as_text=True)
    assert 'data-testid="kpi-expires">Never</span>' in page
    assert "LiteLLM publishes no per-key request log." in page


def test_a_litellm_key_without_a_key_database_has_its_low_balance_alert_off(
    app, alice, relays, track
):
    fake = relays("litellm", litellm_db=False, master_key="sk-master-0123456789abcdef")
    key_id = track(fake, "sk-master-0123456789abcdef", low_threshold=1.0)
    run_pass(app)
    key = key_row(app, key_id)
    assert (key.status, key.error, key.remaining) == ("active", "no_balance", None)
    assert events(app, key_id) == []
    page = alice.get(f"/keys/{key_id}").get_data(as_text=True)
    assert "This relay gave no balance for this key" in page
    assert "Low-balance alerts are off for this key" in page


def test_an_unknown_key_on_a_litellm_relay_without_a_key_database_is_not_invalid(
    app, alice, relays, track
):
    fake = relays("litellm", litellm_db=False, master_key="sk-master-0123456789abcdef")
    key_id = track(fake, random_key())
    run_pass(app)
    assert history(app, key_id) == [("error", "no_key_db")]
    assert events(app, key_id) == []
    page = alice.get(f"/keys/{key_id}").get_data(as_text=True)
    assert "cannot check keys" in page


def test_the_admin_choice_of_family_is_used_without_detection(app, alice, relays, track):
    fake = relays("openai")
    key_id = track(fake, fake.add_token().key)
    with app.app_context():
        provider = db.session.get(Provider, key_row(app, key_id).provider_id)
        provider.kind = "openai"
        db.session.commit()
        edit_provider(provider, hidden=False)
    run_pass(app)
    assert history(app, key_id) == [("active", "no_balance")]
    assert not fake.requests_to("/api/status")


def test_only_evidence_moves_the_stopped_working_alert(app, alice, relays, track):
    fake = relays("openai")
    key_id = track(fake, fake.add_token().key)
    fired = []
    with app.app_context():
        key = db.session.get(TrackedKey, key_id)
        start = utcnow()
        steps = [
            ("active", None),
            ("refused", "refused"),  # from active: evidence, "refused, reason not stated"
            ("refused", "refused"),
            ("exhausted", "exhausted"),  # the relay now says why: a named reason
            ("refused", "refused"),  # no news about a dead key
            ("exhausted", "unchecked"),
            ("unreachable", "timeout"),
            ("active", None),
        ]
        for minute, (status, error) in enumerate(steps):
            sample = BalanceSample(
                key_id=key_id,
                taken_at=start + timedelta(minutes=minute),
                status=status,
                error=error,
            )
            db.session.add(sample)
            fired += [(e["event"], e["status"]) for e in evaluate(key, sample)]
    assert fired == [("status", "refused"), ("status", "exhausted"), ("recovered", "active")]


@pytest.mark.parametrize("lang,words", [("en", "The relay reported an error"), ("zh_CN", None)])
def test_the_key_page_says_what_a_poll_error_means(app, alice, relays, track, lang, words):
    """A relay 500 on the last poll: "Last error" and the polls table say it in words (the code
    stays in the title), never the bare code relay_error."""
    fake = relays("new-api-2026", lang="en")
    key_id = track(fake, fake.add_token(remain_quota=4 * USD).key)
    run_pass(app)
    fake.set_fault("*", "500", times=3)
    run_pass(app)
    assert key_row(app, key_id).error == "relay_error"
    alice.set_cookie("lang", lang)
    page = alice.get(f"/keys/{key_id}").get_data(as_text=True)
    error = page.split('data-testid="last-error"')[1].split("</dd>")[0]
    assert 'title="relay_error"' in error
    assert ">relay_error<" not in page
    assert f'href="/usage/{key_id}" data-testid="usage-link"' in page
    if words:
        assert words in error
    else:
        assert "中转站" in error  # translated
