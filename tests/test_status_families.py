"""Status probes per relay family, end to end: reachability, outages, incidents and recovery."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

import relay
from blueprints.providers.models import Provider
from blueprints.status.models import Incident
from database import db
from tests.test_status import T0, health, passes, probes, watch

MINUTE = timedelta(minutes=1)


def incidents(app, pid: int) -> list[Incident]:
    with app.app_context():
        rows = list(db.session.scalars(select(Incident).where(Incident.provider_id == pid)))
        db.session.expunge_all()
        return rows


def provider_row(app, pid: int) -> Provider:
    with app.app_context():
        row = db.session.get(Provider, pid)
        db.session.expunge(row)
        return row


# -- healthy relays of every kind are up -------------------------------------------------------


def test_a_healthy_litellm_relay_with_healthy_models_is_up_and_opens_no_incident(app, relays):
    fake = relays("litellm")
    fake.script("m-1", content=["a", "b", "c", "d"])
    pid = watch(app, fake, models=["m-1"])
    reports = passes(app, T0, 3)
    assert [r.probed for r in reports] == [4, 4, 4] and not any(r.failed for r in reports)
    assert health(app, pid).state == "up" and health(app, pid, "m-1").state == "up"
    assert incidents(app, pid) == []
    assert [p.status for p in probes(app, pid, "status")] == [200, 200, 200]
    assert len(fake.requests_to("/health/liveliness")) >= 3  # detection's question, then probes
    assert provider_row(app, pid).detected_kind == "litellm"


def test_a_keyless_litellm_relay_is_up_on_its_liveliness_path(app, relays):
    fake = relays("litellm")
    pid = watch(app, fake, key=False)
    passes(app, T0, 2)
    assert health(app, pid).state == "up" and incidents(app, pid) == []
    liveliness = fake.requests_to("/health/liveliness")
    assert len(liveliness) == 3 and all("Authorization" not in r.headers for r in liveliness)


def test_an_openai_compatible_relay_is_reached_through_its_model_list_with_the_probe_key(
    app, relays
):
    fake = relays("openai")
    pid = watch(app, fake)
    reports = passes(app, T0, 2)
    # /v1/models with the key is its reachability: no second "models" probe asks it again
    assert [r.probed for r in reports] == [1, 1]
    assert {p.tier for p in probes(app, pid)} == {"status"}
    assert health(app, pid).state == "up" and incidents(app, pid) == []
    listed = fake.requests_to("/v1/models")
    assert len(listed) == 2 and all(
        r.headers["Authorization"].startswith("Bearer ") for r in listed
    )
    assert provider_row(app, pid).detected_kind == "openai"


def test_without_a_probe_key_any_answer_from_the_base_url_is_up(app, relays):
    fake = relays("openai")
    pid = watch(app, fake, key=False)
    passes(app, T0, 2)
    assert [p.status for p in probes(app, pid)] == [404, 404]  # the server is there
    assert health(app, pid).state == "up" and incidents(app, pid) == []


def test_an_admin_choice_of_family_is_honoured_without_detection(app, fake):
    pid = watch(app, fake, key=False)
    with app.app_context():
        db.session.get(Provider, pid).kind = "openai"
        db.session.commit()
    passes(app, T0, 2)
    assert [r.path for r in fake.requests] == ["/", "/"]  # no detection, no /api/status
    assert health(app, pid).state == "up"
    assert provider_row(app, pid).detected_kind is None


def test_redetecting_a_new_api_relay_costs_no_extra_status_call(app, fake):
    watch(app, fake, key=False)
    passes(app, T0, 1)
    before = len(fake.requests_to("/api/status"))
    relay.FAMILY_CACHE.forget(fake.url)  # as if the hour of its detection had passed
    passes(app, T0 + MINUTE, 1)
    # the probe's fresh /api/status answer tells detection the family: only the probe asks
    assert len(fake.requests_to("/api/status")) == before + 1


# -- outages open incidents, recovery closes them ----------------------------------------------


@pytest.mark.parametrize("flavor", ["litellm", "openai"])
@pytest.mark.parametrize("keyed", [True, False], ids=["key", "no-key"])
@pytest.mark.parametrize(("fault", "cause"), [("500", "http_5xx"), ("timeout", "timeout")])
def test_a_real_outage_opens_an_incident_and_recovery_closes_it(
    app, relays, flavor, keyed, fault, cause
):
    app.config["STATUS_READ_TIMEOUT"] = 0.3
    fake = relays(flavor, fault_sleep=1.0)
    pid = watch(app, fake, key=keyed)
    passes(app, T0, 1)
    assert health(app, pid).state == "up"
    fake.set_fault("*", fault)
    passes(app, T0 + MINUTE, 1)
    assert health(app, pid).state == "up"  # one bad reading is not an outage
    passes(app, T0 + 2 * MINUTE, 1)
    assert health(app, pid).state == "down"
    fake.set_fault("*", None)
    passes(app, T0 + 3 * MINUTE, 2)
    assert health(app, pid).state == "up"
    (incident,) = incidents(app, pid)
    assert (incident.state, incident.cause) == ("down", cause)
    assert incident.started_at == T0 + 2 * MINUTE and incident.ended_at == T0 + 4 * MINUTE


@pytest.mark.parametrize("flavor", ["litellm", "openai"])
def test_a_stopped_relay_goes_down_with_a_connect_incident(app, relays, flavor):
    fake = relays(flavor)
    pid = watch(app, fake)
    passes(app, T0, 1)
    fake.stop()
    passes(app, T0 + MINUTE, 2)
    assert health(app, pid).state == "down"
    (incident,) = incidents(app, pid)
    assert (incident.state, incident.cause, incident.ended_at) == ("down", "connect", None)


def test_a_relay_nothing_could_detect_is_still_probed_and_recorded_down(app, relays):
    fake = relays("litellm")
    pid = watch(app, fake, key=False)
    fake.stop()
    passes(app, T0, 2)
    assert [p.error for p in probes(app, pid)] == ["connect", "connect"]
    assert health(app, pid).state == "down" and incidents(app, pid)[0].cause == "connect"
    assert provider_row(app, pid).detected_kind is None


def test_a_relay_failing_from_the_first_probe_comes_back_up(app, relays):
    fake = relays("litellm")
    fake.set_fault("*", "500")
    pid = watch(app, fake, key=False)
    passes(app, T0, 2)
    assert health(app, pid).state == "down"
    fake.set_fault("*", None)
    passes(app, T0 + 2 * MINUTE, 2)
    assert health(app, pid).state == "up"
    (incident,) = incidents(app, pid)
    assert incident.cause == "http_5xx" and incident.ended_at == T0 + 3 * MINUTE
