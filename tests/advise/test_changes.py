"""advise.changes: a what-if change the user typed is used as typed or refused naming it."""
import pytest

from liqrisk.advise.changes import Changes
from liqrisk.io.portfolio import InputError


def test_an_at_sign_without_an_entry_is_refused():
    """Issue 9 (edge fuzz, seed 11): ``--add binance-main:BTCUSDT:0.5@`` ran as a trade at the
    mark, as if no ``@`` had been typed."""
    with pytest.raises(InputError) as e:
        Changes.parse(add=["binance-main:BTCUSDT:0.5@"])
    assert e.value.problems == ["--add 'binance-main:BTCUSDT:0.5@' entry: '' is not a number"]
    assert Changes.parse(add=["binance-main:BTCUSDT:0.5"]).add[0].entry is None
    assert Changes.parse(add=["binance-main:BTCUSDT:0.5@92000"]).add[0].entry == 92000.0


def test_time_passing_is_bounded_like_a_horizon():
    """Issue 9 (seed 13, what-if edges): ``--time 9999999999999999999d`` parsed and then overflowed
    the as-of date: "OverflowError: Python int too large to convert to C int" (a traceback). Time
    passing now has the --horizon bound (366 days, --max-horizon-days), the bound itself included."""
    assert Changes.parse(time="366d").time_years == 366 / 365
    for text, days in (("367d", "367"), ("9999999999999999999d", "1e+19")):
        with pytest.raises(InputError) as e:
            Changes.parse(time=text)
        assert e.value.problems == [f"--time {days} days: above the limit horizon_days = 366 (use a shorter --time, "
                                    "or raise it with --max-horizon-days)"]


def test_a_raised_limit_past_the_calendar_is_an_error_not_a_traceback():
    from typer.testing import CliRunner

    from liqrisk.cli import app
    demo = str(__import__("pathlib").Path(__file__).resolve().parents[2] / "examples" / "multi_venue.yaml")
    res = CliRunner().invoke(app, ["what-if", demo, "--json", "--time", "9999999999999999999d",
                                   "--max-horizon-days", "1e30"])
    assert res.exit_code == 2 and res.stderr == (
        "error: --time 1e+19 days: beyond the last date Python's calendar holds (9999-12-31)\n"), res.output
