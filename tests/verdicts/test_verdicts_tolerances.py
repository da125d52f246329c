"""Tolerance expressions: parsing, validation, allowed ranges."""

from __future__ import annotations

import math

import pytest

from pytest_rlplaytest.verdicts import ToleranceError, parse_tolerance, parse_tolerances
from pytest_rlplaytest.verdicts.tolerances import metric_value, natural_direction


def test_relative_expressions_with_natural_directions() -> None:
    ret = parse_tolerance("return:10%")
    assert (ret.metric, ret.stat, ret.kind, ret.direction, ret.percent) == ("return", "mean", "relative", "-", True)
    assert ret.amount == pytest.approx(0.10)
    assert ret.allowed_range(200.0) == (pytest.approx(180.0), math.inf)
    assert ret.passes(181.0, 200.0) and ret.passes(500.0, 200.0) and not ret.passes(179.0, 200.0)
    # a negative baseline: 10% of |baseline|
    assert ret.allowed_range(-50.0)[0] == pytest.approx(-55.0)

    frame = parse_tolerance("frame_ms.p99:10%")
    assert (frame.metric, frame.stat, frame.direction) == ("frame_ms", "p99", "+")
    assert frame.passes(10.9, 10.0) and frame.passes(3.0, 10.0) and not frame.passes(11.2, 10.0)

    length = parse_tolerance("length:20")
    assert length.direction == "±" and not length.percent
    assert length.allowed_range(100.0) == (80.0, 120.0)


def test_explicit_signs_absolute_amounts_and_spaces() -> None:
    assert parse_tolerance("return:+5").direction == "+"
    assert parse_tolerance("frame_ms.mean : -2ms").direction == "-"
    both = parse_tolerance("return.iqm:±10%")
    assert both.direction == "±" and both.stat == "iqm"
    assert parse_tolerance("return:+-10%").direction == "±"
    assert parse_tolerance("frame_ms.p50:1ms").stat == "median"
    assert parse_tolerance("frame_ms.p99.9:5%").stat == "p99.9"
    assert parse_tolerance("object_count.max:10%").direction == "+"
    assert natural_direction("score") == "±"


def test_absolute_budgets() -> None:
    budget = parse_tolerance("frame_ms.p99<=16.6ms")
    assert budget.kind == "absolute" and not budget.needs_baseline
    assert budget.passes(16.6) and not budget.passes(16.7)
    assert budget.describe_allowed() == "<= 16.6"
    floor = parse_tolerance("return.mean>-20")
    assert floor.passes(-19.0) and not floor.passes(-20.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("return", "not understood"),
        ("return:ten%", "not understood"),
        ("return:10%%", "not understood"),
        ("frame_ms.p101:10%", "percentile"),
        ("frame_ms.avg:10%", "unknown statistic 'avg'"),
        ("frame_ms.iqm:10%", "iqm is available for return and length only"),
        ("return:5ms", "only fits metrics in milliseconds"),
        ("success_rate:5%", "Fisher"),
        ("9lives:10%", "not understood"),
    ],
)
def test_bad_expressions_name_the_expression(text: str, message: str) -> None:
    with pytest.raises(ToleranceError, match=message) as info:
        parse_tolerance(text)
    assert repr(text) in str(info.value)


def test_list_parsing_validates_everything_and_rejects_repeats() -> None:
    assert [t.key for t in parse_tolerances(["return:10%", "frame_ms.p99:10%"])] == ["return.mean", "frame_ms.p99"]
    assert len(parse_tolerances("return:10%")) == 1
    assert parse_tolerances(None) == []
    with pytest.raises(ToleranceError, match=r"'frame_ms\.p99:oops'"):
        parse_tolerances(["return:10%", "frame_ms.p99:oops"])
    with pytest.raises(ToleranceError, match="repeats"):
        parse_tolerances(["return:10%", "return.mean:5"])
    with pytest.raises(ToleranceError, match="must be a string"):
        parse_tolerance(10)  # type: ignore[arg-type]


def test_metric_values() -> None:
    values = list(range(1, 101))
    assert metric_value(values, "mean") == pytest.approx(50.5)
    assert metric_value(values, "p99") == pytest.approx(99.01)
    assert metric_value(values, "median") == pytest.approx(50.5)
    assert metric_value(values, "max") == 100
    assert math.isnan(metric_value([], "mean"))
