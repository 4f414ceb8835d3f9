"""The terminal report prints what the user wrote: ids, asset names and notes are text, never
rich markup or emoji codes."""
from __future__ import annotations

from rich.console import Console

from liqrisk.analysis import analyze
from liqrisk.report import terminal
from tests.builders import portfolio


def test_markup_and_emoji_codes_in_user_strings_are_printed_as_written():
    pf = portfolio([{"id": "[red]desk[/red] :fire:", "venue": "binance-usdm", "collateral": {"USDT": 5000},
                     "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 0.5, "entry": 90000}]}])
    console = Console(record=True, width=200, emoji=False)
    terminal.render(analyze(pf), console)
    text = console.export_text()
    assert "[red]desk[/red] :fire:" in text
    assert "🔥" not in text


def test_the_default_console_does_not_turn_codes_into_emoji(capsys):
    pf = portfolio([{"id": "a :fire:", "venue": "binance-usdm", "collateral": {"USDT": 5000},
                     "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 0.5, "entry": 90000}]}])
    terminal.render(analyze(pf))
    out = capsys.readouterr().out
    assert "a :fire:" in out and "🔥" not in out


def _fhs_text(**kw) -> tuple[str, dict]:
    """The terminal report of the isolated ETH short under fhs, and its model_info."""
    from liqrisk.analysis import ProbabilitySettings
    from tests.builders import ETH_SHORT, TAILS_HORIZON
    res = analyze(ETH_SHORT, ProbabilitySettings([TAILS_HORIZON], 500, 7, model="fhs", **kw))
    console = Console(record=True, width=400, emoji=False)
    terminal.render(res, console)
    return console.export_text(), res.accounts[0].risk.model_info


def test_the_tail_model_that_ran_is_shown_per_asset():
    """GPD tails: ξ ± s.e. beyond the threshold quantile per tail (the JSON's numbers, rounded);
    plain FHS: empirical and why."""
    text, info = _fhs_text()
    t = info["assets"]["ETH"]["tails"]
    lo, up = t["lower"], t["upper"]
    assert t["model"] == "gpd" and (lo["quantile"], up["quantile"]) == (78 / 787, 1 - 78 / 787)
    assert (f"fhs shocks ETH: GPD tails — lower ξ {lo['xi']:.3f} ± {lo['se_xi']:.3f} beyond the 10% quantile "
            f"({lo['threshold']:.3g}, 78 residuals); upper ξ {up['xi']:.3f} ± {up['se_xi']:.3f} beyond the 90% "
            f"quantile ({up['threshold']:.3g}, 78 residuals)") in text
    assert "NOT converged" not in text
    text, info = _fhs_text(fhs_tails="empirical")
    assert info["assets"]["ETH"]["tails"] == {"model": "empirical", "why": "user choice: --fhs-tails empirical"}
    assert "fhs shocks ETH: empirical tails (user choice: --fhs-tails empirical)" in text


def test_a_tail_kept_empirical_and_a_fit_that_did_not_converge_are_said():
    """A tail with ξ̂ ≥ 0.45 (Pareto draws with ξ = 0.8) stays empirical and says why; a
    GJR-GARCH fit whose optimiser did not converge is flagged (rendered from model_info alone)."""
    import numpy as np

    from liqrisk.dynamics.evt import semiparametric
    rng = np.random.default_rng(3)
    fitted = semiparametric(np.r_[rng.pareto(1 / 0.8, 2000), -rng.standard_normal(2000)])
    assert fitted.xi_up >= 0.45 and fitted.k_up == 0 and fitted.k_lo > 0
    why = f"xi {fitted.xi_up:.2f} >= 0.45: kept empirical"
    tails = fitted.info()
    assert tails["upper"] == {"fitted": False, "why": why}
    fit = "arch's optimiser stopped early after 5 restarts; kept the highest likelihood of 6 starts (+0.5 over the first)"
    info = {"assets": {"X": {"history": "a file", "tails": tails, "gjr_garch_converged": False, "gjr_garch_fit": fit}}}
    filters, line = terminal.fhs_lines(info)
    assert filters == "fhs filter: daily — X a file"
    assert line.startswith("fhs shocks X: GPD tails — lower ξ ")
    assert line.endswith(f"upper empirical ({why}); [bold yellow]GJR-GARCH fit NOT converged[/] ({fit})")


def test_the_filter_of_each_horizon_is_said():
    """An fhs run with the hourly filter (``model_info.intraday``) names both filters, the
    horizons each ran and their histories, and the shocks of each filter per asset."""
    tails = {"model": "empirical", "why": "user choice"}
    daily = {"history": "daily file", "tails": tails, "gjr_garch_converged": True, "gjr_garch_fit": "converged"}
    hourly = daily | {"history": "hourly file"}
    info = {"bar": "1d", "assets": {"BTC": daily}, "intraday": {"bar": "1h", "horizons": "≤ 1d", "assets": {"BTC": hourly}}}
    assert terminal.fhs_lines(info) == [
        "fhs filter: hourly, horizons ≤ 1d — BTC hourly file; daily, horizons > 1d — BTC daily file",
        "fhs shocks BTC (hourly filter): empirical tails (user choice)",
        "fhs shocks BTC (daily filter): empirical tails (user choice)"]


def test_no_time_to_liquidation_is_printed_when_no_path_liquidates():
    """A spot-like 1× long cannot be liquidated within an hour: its quantiles are unknown (None in
    the result and JSON), not an infinite number of hours."""
    from liqrisk.analysis import ProbabilitySettings
    pf = portfolio([{"id": "safe", "venue": "binance-usdm", "collateral": {"USDT": 90000},
                     "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 0.5, "entry": 90000}]}])
    res = analyze(pf, ProbabilitySettings(["1h"], 500, 7, model="gbm"))
    assert set(res.accounts[0].risk.time_to_liquidation_quantiles_hours.values()) == {None}
    console = Console(record=True, width=300, emoji=False)
    terminal.render(res, console)
    text = console.export_text()
    assert "inf" not in text and "time to liquidation" not in text


def test_numbers_the_json_has_as_null_are_shown_as_a_dash_and_infinities_as_infinity():
    import math
    assert [terminal.number(x, ".2f") for x in (None, math.nan, math.inf, -math.inf, 1.234)] == \
        ["-", "-", "∞", "−∞", "1.23"]
    assert [terminal._num(x) for x in (None, math.nan, math.inf, 12_345.6)] == ["—", "—", "∞", "12,346"]


# an isolated BTC long (its LP 87,000) beside a cross ETH short: under GBM the account's 1h
# probability is importance-sampled, and so is each pool (the long on the account's tilted run,
# the short on its own)
BTC_LONG_ETH_SHORT = [{"id": "mix", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 4000},
                       "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 0.5, "entry": 91250,
                                      "margin": 2300},
                                     {"symbol": "ETHUSDT", "kind": "perp", "size": -10, "entry": 3050}]}]
MIX_MARKET = {"BTC": {"mark": 91250.0, "vol": 0.85}, "ETH": {"mark": 3050.0, "vol": 0.68}}


def test_a_rare_pool_estimate_and_a_zero_of_the_model_range_say_how_they_were_obtained():
    """Issue 10: a probability below 1/paths always says how it was obtained — in the pool table
    too (a rare pool's own importance-sampled estimate, with its estimator and interval), and the
    model range's title says its estimators and what its 0 means."""
    import json
    import math
    from liqrisk.analysis import ProbabilitySettings
    res = analyze(portfolio(BTC_LONG_ETH_SHORT, market=MIX_MARKET),
                  ProbabilitySettings(["1h"], 4000, 4, model="gbm", range_paths=500))
    acc = json.loads(res.to_json())["accounts"][0]
    # the account's own estimate is the reflection principle at the isolated long's LP (the
    # cross ETH short, 12 % away at 68 % vol, adds nothing within the hour) — by hand
    lp = acc["positions"][0]["liquidation_price"]
    sd = 0.85 * math.sqrt(1 / 8760)
    b = math.log(lp / 91250.0)
    phi = lambda x: 0.5 * math.erfc(-x / math.sqrt(2))                      # noqa: E731
    exact = phi((b + sd * sd / 2) / sd) + math.exp(-b) * phi((b - sd * sd / 2) / sd)
    est = acc["probability"]["1h"]
    assert est["method"] == "importance" and abs(est["p"] - exact) < 4 * est["stderr"]
    # the long's estimate is the account's (the same weighted paths; the short adds ~1e-60), so
    # the probability table says how it was obtained; the short's own, 27 sds away, is listed
    assert acc["pools"]["isolated BTCUSDT"]["1h"] == est
    rare = {(label, "1h"): e["1h"] for label, e in acc["pools"].items()
            if e["1h"]["p"] < 1 / e["1h"]["paths"] and e["1h"] != est}
    assert set(rare) == {("cross", "1h")} and rare[("cross", "1h")]["method"] == "importance"
    console = Console(record=True, width=2000, emoji=False)
    terminal.render(res, console)
    text = console.export_text()
    line = next(x for x in text.splitlines() if "pool estimates below 1/paths:" in x)
    for (label, h), e in rare.items():
        lo, hi = e["ci95"]
        assert f"{label} {h} {e['p']:.3g} ({e['method']} of {e['paths']:,} paths, 95% [{lo:.3g}, {hi:.3g}])" in line
    assert "isolated BTCUSDT" not in line
    flat = " ".join(text.replace("│", " ").split())          # the table title wraps at the table's width
    assert "other models on 500 paths each, on gbm's time steps (importance sampling below 1e-3; 0 = no liquidated path)" in flat


def test_a_narrow_pool_table_keeps_its_title_on_one_line():
    """One pool and one horizon (the account past its trigger: cross, 1d): the table is narrower
    than its title, which rich wrapped over three lines ("P(liquidation)" / "per margin" / "pool")."""
    from liqrisk.analysis import ProbabilitySettings
    pf = portfolio([{"id": "under", "venue": "binance-usdm", "collateral": {"USDT": 1000},
                     "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 96000}]}])
    res = analyze(pf, ProbabilitySettings(["1d"], 500, 7, model="gbm", range_paths=0))
    console = Console(record=True, width=160, emoji=False)
    terminal.render(res, console)
    lines = [x.strip("│ ") for x in console.export_text().splitlines()]
    assert "P(liquidation) per margin pool" in lines and "pool" not in lines
