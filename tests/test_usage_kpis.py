"""Burn rate, runway, top-ups, reconcile and expiry on hand-built histories with known answers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace as Row

import pytest

from blueprints.usage.kpis import (
    Countdown,
    Runway,
    Topup,
    burn_rate,
    delta,
    expiry_countdown,
    reconcile,
    runway,
    spend_source,
    topups,
    window_sums,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TODAY = date(2026, 12, 1)


def reading(minutes: int, remaining=None, used=None, unit="USD"):
    return Row(taken_at=NOW + timedelta(minutes=minutes), remaining=remaining, used=used, unit=unit)


def days(*spends, last=TODAY - timedelta(days=1)):
    """Daily rows ending at `last`; None leaves that day out (a gap)."""
    out = []
    for i, spend in enumerate(reversed(spends)):
        if spend is not None:
            out.append(Row(day=last - timedelta(days=i), spend=spend))
    return list(reversed(out))


# -- delta and top-ups -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before, after, expected",
    [
        ((10.0, 5.0), (8.0, 7.0), (2.0, 0.0)),  # plain spend: used +2, remaining -2
        ((10.0, 5.0), (18.0, 7.0), (2.0, 10.0)),  # spent 2 and topped up 10
        ((10.0, 5.0), (20.0, 5.0), (0.0, 10.0)),  # top-up only
        ((10.0, None), (7.5, None), (2.5, 0.0)),  # no `used`: the remaining drop is the spend
        ((10.0, None), (12.0, None), (0.0, 2.0)),  # no `used`: a rise is a top-up
        ((None, 5.0), (None, 9.0), (4.0, 0.0)),  # unlimited key: only `used` moves
        ((10.0, 5.0), (9.0, 0.0), (1.0, 0.0)),  # `used` reset by the relay: fall back
        ((10.0, 5.0), (10.003, 5.0), (0.0, 0.0)),  # a rise within rounding is no top-up
        ((None, None), (10.0, 1.0), (0.0, 0.0)),
    ],
)
def test_it_splits_a_balance_change_into_spend_and_topup(before, after, expected):
    spend, topup = delta(reading(0, *before), reading(10, *after))
    assert (round(spend, 9), round(topup, 9)) == expected


def test_it_never_compares_readings_in_different_units():
    assert delta(reading(0, 10.0, 1.0, "USD"), reading(10, 70.0, 1.0, "CNY")) == (0.0, 0.0)


def test_it_finds_topups_and_skips_failed_polls():
    history = [
        reading(0, 10.0, 0.0),
        reading(10, 9.0, 1.0),
        reading(20),  # a failed poll: no numbers
        reading(30, 58.0, 2.0),  # +50 top-up while spending 1
        reading(40, 57.5, 2.5),
        reading(50, 57.501, 2.5),  # rounding noise
    ]
    assert topups(history) == [Topup(NOW + timedelta(minutes=30), 50.0)]
    assert topups(history, min_amount=60) == []


# -- burn rate and runway ----------------------------------------------------------------------


def test_it_averages_the_last_seven_complete_days():
    rows = days(100.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0)  # the 100 is eight days ago
    rows.append(Row(day=TODAY, spend=50.0))  # today is not over: left out
    assert burn_rate(rows, today=TODAY) == pytest.approx(4.0)
    assert burn_rate(rows, days=2, today=TODAY) == pytest.approx(6.5)


def test_it_counts_a_gap_as_days_because_its_spend_lands_after_it():
    # Not polled for three days: the next sample carries their spend (4 days' worth of 2).
    rows = days(2.0, 2.0, 2.0, None, None, None, 8.0)
    assert burn_rate(rows, today=TODAY) == pytest.approx(2.0)


def test_it_measures_a_young_key_over_its_own_days_only():
    assert burn_rate(days(3.0, 5.0), today=TODAY) == pytest.approx(4.0)
    assert burn_rate([Row(day=TODAY, spend=9.0)], today=TODAY) is None
    assert burn_rate([], today=TODAY) is None


def test_it_sums_today_seven_and_thirty_days_from_day_rows():
    rows = days(*([1.0] * 35), last=TODAY) + [Row(day=TODAY + timedelta(days=1), spend=99.0)]
    rows.append(Row(day=TODAY, spend=None))  # a day with usage rows only: no balance spend
    assert window_sums(rows, today=TODAY) == {"today": 1.0, "7d": 7.0, "30d": 30.0}


def test_it_projects_when_the_balance_runs_out():
    assert runway(24.0, 2.0, NOW) == Runway(12.0, datetime(2026, 12, 13, 12, 0, tzinfo=UTC))
    assert runway(0.0, 2.0, NOW) == Runway(0.0, NOW)
    assert runway(-1.0, 2.0, NOW) == Runway(0.0, NOW)


@pytest.mark.parametrize("remaining, burn", [(10.0, 0.0), (10.0, None), (None, 2.0)])
def test_it_has_no_runway_without_burn_or_balance(remaining, burn):
    assert runway(remaining, burn, NOW) is None


def test_it_gives_no_date_for_a_runway_of_decades():
    result = runway(1_000_000.0, 0.01, NOW)
    assert result.days == pytest.approx(1e8) and result.empty_at is None


# -- reconcile ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cost, drop, options, code",
    [
        (10.0, 10.0, {}, "match"),
        (10.0, 10.004, {}, "rounding"),  # relay rounding: below a cent
        (1000.0, 1005.0, {}, "rounding"),  # below 1 %
        (15.0, 5.0, {"topup": 10.0}, "topup"),  # a top-up hid 10 of the spend
        (15.0, 2.0, {"topup": 10.0}, "topup"),  # partly explained, still the top-up
        (10.0, 14.0, {"capped": True}, "logs_capped"),
        (10.0, 14.0, {"scope": "account"}, "untracked_keys"),
        (10.0, 14.0, {"scope": "account", "capped": True}, "logs_capped"),
        (10.0, 14.0, {"scope": "token"}, "unexplained"),
        (14.0, 10.0, {"scope": "account"}, "unexplained"),  # logs above the drop: not shared use
        (None, 14.0, {}, "no_logs"),
        (3.0, None, {}, "no_balance"),
    ],
)
def test_it_explains_the_gap_between_logs_and_balance(cost, drop, options, code):
    assert reconcile(cost, drop, **options).code == code


def test_it_reports_the_gap_and_its_share_of_the_drop():
    result = reconcile(6.0, 8.0, scope="account")
    assert (result.gap, result.share, result.code) == (2.0, 0.25, "untracked_keys")
    assert reconcile(0.0, 0.0) == (0.0, None, "match")


# -- expiry ------------------------------------------------------------------------------------


def test_it_counts_down_to_expiry():
    assert expiry_countdown(NOW + timedelta(days=3, hours=5, minutes=9), NOW) == Countdown(
        3, 5, False
    )
    assert expiry_countdown(NOW - timedelta(seconds=1), NOW) == Countdown(0, 0, True)
    assert expiry_countdown(NOW, NOW).expired
    assert expiry_countdown(None, NOW) is None


# -- spend source ------------------------------------------------------------------------------


def day(offset: int, spend, cost=0.0):
    return Row(day=TODAY - timedelta(days=offset), spend=spend, cost=cost)


def test_spend_comes_from_the_logs_until_the_balance_drops():
    """Balance hours of zero beside logged costs: the logs count; one drop and the balance does."""
    logged = [day(3, None, 0.05), day(2, None, 0.03), day(0, 0.0, 0.0)]
    assert spend_source(logged) == "logs"
    assert window_sums(logged, today=TODAY, source="logs") == {
        "today": 0.0,
        "7d": 0.08,
        "30d": 0.08,
    }
    assert window_sums(logged, today=TODAY) == {"today": 0.0, "7d": 0.0, "30d": 0.0}
    assert burn_rate(logged, 7, today=TODAY, source="logs") == pytest.approx(0.04)
    assert spend_source([*logged, day(1, 0.2, 0.0)]) == "balance"
    assert spend_source([day(1, 0.0, 0.0)]) == "balance"  # nothing spent anywhere: say balance


def test_reconcile_blames_logs_older_than_the_first_reading():
    """-$0.143 logged before tracking, nothing since: tracking_late, not unexplained."""
    assert reconcile(0.143, 0.0, untracked=0.143).code == "tracking_late"
    assert reconcile(0.143, 0.0).code == "unexplained"
    # partly explained (more logged than the pre-tracking part): still says why it can be
    assert reconcile(1.0, 0.2, untracked=0.3).code == "tracking_late"
    # a positive gap is not what late tracking causes
    assert reconcile(0.1, 1.0, untracked=0.3).code == "unexplained"
