"""Chart builders on hand-made rows: traces, stacking, threshold, projection, markers, gaps."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from blueprints.usage import charts
from blueprints.usage.kpis import Runway
from blueprints.usage.queries import DayRow, ModelDay, Point, TokenDay

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
D1, D2, D4 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 4)


def points(*remaining, unit="USD"):
    return [Point(T0 + timedelta(hours=i), r, unit) for i, r in enumerate(remaining)]


def shapes_at(fig):
    return [(s.y0, s.y1, s.line.dash) for s in fig.layout.shapes]


def test_it_draws_remaining_with_threshold_and_projection():
    runway = Runway(2.0, T0 + timedelta(days=3))
    fig = charts.remaining_chart(points(10, 9, 8), 5.0, runway, "USD")
    line, projection = fig.data
    assert (line.type, line.mode, list(line.y)) == ("scatter", "lines+markers", [10, 9, 8])
    assert list(line.x) == ["2026-03-01T00:00:00", "2026-03-01T01:00:00", "2026-03-01T02:00:00"]
    assert projection.line.dash == "dash"
    assert list(projection.x) == ["2026-03-01T02:00:00", "2026-03-04T00:00:00"]
    assert list(projection.y) == [8, 0]
    assert shapes_at(fig) == [(5.0, 5.0, "dash")]
    assert fig.layout.yaxis.title.text == "Remaining (USD)"
    assert "$%{y:,.2f}" in line.hovertemplate


def test_it_leaves_out_threshold_and_projection_when_there_are_none():
    fig = charts.remaining_chart(points(10, 9), None, None, "USD")
    assert len(fig.data) == 1 and fig.layout.shapes == ()
    # beyond ten years (no date) or an empty balance: no projection either
    assert len(charts.remaining_chart(points(10, 9), None, Runway(9e9, None), "USD").data) == 1
    empty = charts.remaining_chart(points(3, 0), None, Runway(0.0, T0), "USD")
    assert len(empty.data) == 1


def test_it_shows_times_in_the_viewers_zone():
    fig = charts.remaining_chart(points(10, unit="CNY"), None, None, "CNY", tz="Asia/Shanghai")
    assert list(fig.data[0].x) == ["2026-03-01T08:00:00"]
    assert fig.data[0].hovertemplate.startswith("¥")
    assert fig.layout.yaxis.title.text == "Remaining (CNY)"


def test_it_keeps_missing_days_as_gaps_and_marks_topups():
    rows = [
        DayRow(1, D1, "USD", spend=2.0, topup=0.0),
        DayRow(1, D2, "USD", spend=None),  # not polled that day: no bar, not a zero bar
        DayRow(1, D4, "USD", spend=3.0, topup=50.0),
    ]
    fig = charts.daily_spend_chart(rows, None, "USD")
    bars, markers = fig.data
    assert bars.type == "bar"
    assert list(bars.x) == ["2026-03-01", "2026-03-04"]
    assert list(bars.y) == [2.0, 3.0] and min(bars.y) >= 0
    assert (markers.type, markers.mode) == ("scatter", "markers")
    assert list(markers.x) == ["2026-03-04"]
    assert list(markers.customdata) == [50.0]
    assert list(markers.y) == [3.0]  # on the day's bar, never a negative bar
    assert fig.layout.yaxis.title.text == "Spend (USD)"


def test_it_puts_topup_hours_on_their_local_day():
    rows = [DayRow(1, D1, "USD", spend=1.0), DayRow(1, D2, "USD", spend=1.0)]
    late = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)  # 07:00 on Mar 2 in Shanghai
    utc = charts.daily_spend_chart(rows, [(late, 5.0)], "USD")
    shanghai = charts.daily_spend_chart(rows, [(late, 5.0)], "USD", tz="Asia/Shanghai")
    assert list(utc.data[1].x) == ["2026-03-01"]
    assert list(shanghai.data[1].x) == ["2026-03-02"]
    assert len(charts.daily_spend_chart(rows, [], "USD").data) == 1


def test_it_stacks_models_most_expensive_first():
    rows = [
        ModelDay(D1, "gpt-small", 10, 0.5, "USD"),
        ModelDay(D1, "gpt-big", 2, 4.0, "USD"),
        ModelDay(D2, "gpt-small", 10, 0.7, "USD"),
    ]
    fig = charts.model_spend_chart(rows, "USD")
    assert fig.layout.barmode == "stack"
    assert [t.name for t in fig.data] == ["gpt-big", "gpt-small"]
    assert all(t.type == "bar" for t in fig.data)
    assert list(fig.data[1].x) == ["2026-03-01", "2026-03-02"]
    assert list(fig.data[1].y) == [0.5, 0.7]


def test_it_sums_the_long_tail_of_models_into_other():
    rows = [ModelDay(D1, f"m{i:02}", 1, float(100 - i), "USD") for i in range(15)]
    fig = charts.model_spend_chart(rows, "USD")
    assert len(fig.data) == charts.MAX_MODELS
    assert fig.data[-1].name == "Other"
    assert list(fig.data[-1].y) == [sum(100 - i for i in range(9, 15))]


def test_it_shows_model_names_as_text_not_markup():
    fig = charts.model_spend_chart([ModelDay(D1, "<b>x</b>", 1, 1.0, "USD")], "USD")
    assert fig.data[0].name == "&lt;b&gt;x&lt;/b&gt;"


def test_it_stacks_prompt_and_completion_tokens_and_counts_requests():
    rows = [TokenDay(D1, 3, 100, 40, 10), TokenDay(D4, 1, 7, 2, 0)]
    tokens = charts.tokens_chart(rows)
    assert tokens.layout.barmode == "stack"
    assert [t.name for t in tokens.data] == ["Prompt", "Completion"]
    assert list(tokens.data[0].y) == [100, 7] and list(tokens.data[1].y) == [40, 2]
    assert list(tokens.data[0].x) == ["2026-03-01", "2026-03-04"]  # Mar 2 and 3 stay gaps
    requests = charts.requests_chart(rows)
    assert len(requests.data) == 1 and list(requests.data[0].y) == [3, 1]
    assert requests.layout.yaxis.title.text == "Requests"


def test_it_stacks_the_overview_by_key():
    rows = [
        DayRow(1, D1, "USD", spend=1.0),
        DayRow(2, D1, "USD", spend=5.0),
        DayRow(2, D2, "USD", spend=None),
        DayRow(3, D1, "CNY", spend=9.0),  # another unit: another chart
    ]
    fig = charts.overview_chart(rows, {1: "alpha", 2: "beta"}, "USD")
    assert fig["layout"]["barmode"] == "stack"
    assert [t["name"] for t in fig["data"]] == ["beta", "alpha"]
    assert [t["y"] for t in fig["data"]] == [[5.0], [1.0]]
    assert json.loads(charts.figure_json(fig))["data"][0]["type"] == "bar"


def test_it_formats_quota_plain():
    rows = [DayRow(1, D1, "quota", spend=500000.0)]
    fig = charts.daily_spend_chart(rows, None, "quota")
    assert fig.layout.yaxis.title.text == "Spend (quota)"
    assert "$" not in fig.data[0].hovertemplate and ",.0f" in fig.data[0].hovertemplate


def test_it_draws_a_sparkline_as_svg_points_with_gaps():
    """Two polylines around the missing day; the highest value sits at the top."""
    lines = charts.sparkline([1.0, 2.0, None, 3.0], width=120, height=32)
    assert len(lines) == 2
    first, second = lines
    assert first.split()[0] == "1.0,30.0" and second == "119.0,2.0"
    assert charts.sparkline([None, None]) == []
    assert charts.sparkline([5.0, 5.0]) == ["1.0,16.0 119.0,16.0"]


def test_it_says_so_when_there_is_no_data():
    for fig in (
        charts.remaining_chart([], 1.0, None, "USD"),
        charts.daily_spend_chart([], None, "USD"),
        charts.model_spend_chart([], "USD"),
        charts.tokens_chart([]),
    ):
        assert fig.data == ()
        assert fig.layout.annotations[0].text == "No data yet"


def test_it_serialises_compact_json_without_markup():
    fig = charts.model_spend_chart([ModelDay(D1, "</script><script>x", 1, 1.0, "USD")], "USD")
    text = charts.figure_json(fig)
    assert "<" not in text and "\n" not in text
    figure = json.loads(text)
    assert figure["data"][0]["type"] == "bar"
    assert figure["data"][0]["name"].startswith("&lt;/script&gt;")
    layout = figure["layout"]
    assert layout["hovermode"] == "x unified"
    assert layout["paper_bgcolor"] == layout["plot_bgcolor"] == "rgba(0,0,0,0)"
    assert layout["legend"]["orientation"] == "h"
    assert len(text) < 3000  # no 8 kB default template
