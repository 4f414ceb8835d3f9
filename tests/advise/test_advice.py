"""Advice: every answer meets the target when re-run on the engine and is minimal (99% of it
misses); closed forms where they exist; the demo book end to end."""
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from liqrisk.advise.advice import advise
from liqrisk.advise.targets import Target
from liqrisk.cli import app

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "examples/multi_venue.yaml")
MMR = 0.005


def _doc(accounts, mark=91_000.0, vol=0.5):
    return {"as_of": "2026-11-23T00:00:00Z", "market": {"BTC": {"mark": mark, "vol": vol}}, "accounts": accounts}


def _isolated(size=1.0, entry=90_000.0, margin=3000.0):
    return {"id": "iso", "venue": "binance-usdm", "mode": "isolated",
            "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": size, "entry": entry, "margin": margin,
                           "mmr": MMR, "cum": 0.0}]}


def _check_answers(adv):
    """Every action that meets the target says so after a re-run and is minimal."""
    found = 0
    for a in adv.accounts:
        for x in a.actions:
            if x.meets:
                found += 1
                assert x.minimal is True, x.description
    return found


def test_isolated_topup_is_the_lp_formula_solved_for_the_margin():
    """Isolated linear long, flat MMR: LP = (qE − M)/(q(1 − mmr)). For distance ≥ k sd the LP must
    be at P* = mark·e^{−kσ/√365}, so M* = qE − P*·q(1 − mmr)."""
    adv = advise(_doc([_isolated()]), "distance>=3sd")
    top = [x for x in adv.accounts[0].actions if x.kind == "topup" and x.meets]
    p_star = 91_000 * math.exp(-3 * 0.5 / math.sqrt(365))
    need = 90_000 - p_star * (1 - MMR) - 3000.0
    assert top and top[0].amount == pytest.approx(need, rel=1e-5)
    assert top[0].method.startswith("closed form")
    assert _check_answers(adv) >= 2


def test_cross_wallet_topup_and_deleverage_for_distance_are_minimal():
    acc = {"id": "x", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 6000},
           "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 90_000, "mmr": MMR, "cum": 0.0}]}
    adv = advise(_doc([acc]), "distance>=4sd")
    kinds = {x.kind for x in adv.accounts[0].actions if x.meets}
    assert {"topup", "deleverage", "hedge"} <= kinds
    assert _check_answers(adv) >= 3
    cut = [x for x in adv.accounts[0].actions if x.kind == "deleverage" and x.meets][0]
    assert 0 < cut.amount < 1 and cut.cost_usd > 0


@pytest.mark.parametrize("model, ran", [(None, "fhs"), ("gbm", "gbm")])
def test_probability_target_with_common_random_numbers(model, ran):
    """Minimal answers under the default model (BTC has history: fhs) and under GBM."""
    acc = {"id": "x", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 4000},
           "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 90_000, "mmr": MMR, "cum": 0.0}]}
    adv = advise(_doc([acc]), "p(1d)<=1%", paths=4000, seed=3, **({} if model is None else {"model": model}))
    a = adv.accounts[0]
    assert a.model == ran
    assert a.metric > 0.01 and not a.meets
    assert _check_answers(adv) >= 2
    for x in a.actions:
        if x.meets:
            assert x.metric <= 0.01


def test_protective_put_on_deribit_meets_the_target():
    acc = {"id": "d", "venue": "deribit", "collateral": {"BTC": 0.06},
           "positions": [{"kind": "future", "underlying": "BTC", "expiry": "2026-12-25T08:00:00Z",
                          "size": 100_000, "entry": 91_000}]}
    adv = advise(_doc([acc]), "distance>=3sd")
    puts = [x for x in adv.accounts[0].actions if x.kind == "put"]
    assert puts and puts[0].meets and puts[0].minimal
    assert puts[0].details["premium_settlement"] > 0 and puts[0].details["settlement_currency"] == "BTC"


def test_target_parsing_and_bad_target():
    assert Target.parse("p(7d)<=1%") == Target("probability", 0.01, "7d", "p(7d)<=1%")
    assert Target.parse("distance>=3sd").level == 3.0
    res = CliRunner().invoke(app, ["advise", DEMO, "--target", "p(7d)<1 apple"])
    assert res.exit_code == 2 and "--target" in res.output and "Traceback" not in res.output


@pytest.mark.parametrize("p, k", [(0.01, 2.575829303548901), (1e-10, 6.466951087240516), (1e-300, 37.06578788077213),
                                  (5e-324, 38.467405617144344)])
def test_a_tiny_probability_target_has_a_finite_first_guess(p, k):
    """The reflection-principle distance k = Φ⁻¹(1 − p*/2) of a 1-day target (√(365 T) = 1):
    p* = 1e-300 raised NormalDist's "p must be in the range 0.0 < p < 1.0" (1 − p*/2 rounds to 1;
    advise --target 'p(1d)<=1e-300%', issue 9). k = scipy.stats.norm.isf(p*/2): 2.5758 (1 %),
    6.4670 (1e-10), 37.0658 (1e-300); for the smallest denormal p*/2 rounds to 0 and is floored
    at 5e-324 itself: isf(5e-324) = 38.4674."""
    t = Target("probability", p, "1d", "")
    assert t.sd_equivalent() == pytest.approx(k, rel=1e-9)   # NormalDist's inverse: ~1e-15 relative


def test_demo_distance_advice_cli_json(tmp_path):
    html = tmp_path / "f.html"
    res = CliRunner().invoke(app, ["advise", DEMO, "--target", "distance>=3sd", "--json", "--html", str(html)])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    missing = [a for a in d["accounts"] if not a["meets"]]
    assert missing and all(any(x["meets"] and x["minimal"] for x in a["actions"]) for a in missing)
    assert "Cost of risk reduction" in html.read_text()


@pytest.mark.parametrize("model", ["gbm", "student"])
def test_reused_paths_give_the_same_numbers(model):
    """Inside reuse_paths a changed account is evaluated on the paths kept from the first run
    (read back, not drawn): every estimate equals a fresh run's, plain, control, importance and
    antithetic (student-t) alike."""
    from liqrisk.analysis import ProbabilitySettings, analyze
    from liqrisk.risk.book_mc import reuse_paths

    def doc(cash):
        return _doc([{"id": "x", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": cash},
                      "positions": [{"symbol": "BTCUSDT", "kind": "perp", "size": 1.0, "entry": 90_000,
                                     "mmr": MMR, "cum": 0.0}]}])

    def probs(cash):
        r = analyze(doc(cash), ProbabilitySettings(["1d", "7d"], 2000, 5, model)).accounts[0]
        return {h: (e.p, e.stderr, e.method) for h, e in {**r.term_structure, **r.probability}.items()}

    fresh = [probs(c) for c in (4000, 9000, 30_000)]
    with reuse_paths():
        kept = [probs(c) for c in (4000, 9000, 30_000)]
    assert kept == fresh
    assert any("importance" in m for _, _, m in fresh[2].values()) or model != "gbm"


def test_an_account_with_venue_parameters_is_evaluated_once_not_unhashable():
    """Accounts whose venue carries a dict (Deribit's portfolio_margin, loan reserves) are cache
    keys too: advise on the bundled portfolio-margin desk raised "unhashable type: 'dict'"."""
    from pathlib import Path

    from liqrisk.advise.targets import Evaluator, Target
    from liqrisk.load import load_portfolio
    pf = load_portfolio(str(Path(__file__).resolve().parents[2] / "examples" / "deribit_portfolio_margin.yaml"))
    ev = Evaluator(pf, Target.parse("distance>=3sd"))
    first = ev.metric(pf.accounts[0])
    calls = ev.calls
    assert ev.metric(pf.accounts[0]) == first and ev.calls == calls


@pytest.mark.parametrize("model", ["auto", "gbm", "student", "merton"])
@pytest.mark.parametrize("horizon", ["1d", "7d"])
def test_an_evaluation_is_the_probability_analyze_reports(model, horizon):
    """advise's evaluations run the target's horizon alone (no term structure, no VaR/ES, with
    reused paths): every P equals `analyze`'s on the same account, fresh — over cash levels that
    switch the estimator (control / importance / antithetic) and on a BTC + SOL account whose
    default model is fhs, with a SOL-only account (gbm under auto) among them."""
    from liqrisk.advise.targets import Evaluator
    from liqrisk.analysis import ProbabilitySettings, analyze
    from liqrisk.load import load_portfolio
    from liqrisk.risk.book_mc import reuse_paths

    def doc(cash, btc=1.0):
        pos = [{"symbol": "SOLUSDT", "kind": "perp", "size": -60.0, "entry": 140.0}]
        if btc:
            pos.append({"symbol": "BTCUSDT", "kind": "perp", "size": btc, "entry": 90_000, "mmr": MMR, "cum": 0.0})
        d = _doc([{"id": "x", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": cash}, "positions": pos}])
        d["market"]["SOL"] = {"mark": 140.0, "vol": 0.8}
        return d

    docs = [doc(c) for c in (4000, 9000, 30_000)] + [doc(3000, btc=0)]
    ev = Evaluator(load_portfolio(docs[0]), Target.parse(f"p({horizon})<=1%"), 2000, 5, model)
    with reuse_paths():
        got = [ev.after(load_portfolio(d).accounts[0]) for d in docs]
    for d, (p, ran) in zip(docs, got):
        r = analyze(d, ProbabilitySettings([horizon], 2000, 5, model)).accounts[0]
        assert (p, ran) == (r.probability[horizon].p, r.risk.model)
    assert ev.calls == len(docs)


def test_advise_and_analyze_run_one_orchestration(monkeypatch):
    """An evaluation of advise and `analyze`'s probability both go through
    :func:`liqrisk.analysis.simulate` (model resolution, path model, the Monte Carlo run): advise
    had its own copy of that sequence (Evaluator._probability), which could drift from analyze's."""
    import liqrisk.analysis as analysis
    from liqrisk.advise.targets import Evaluator
    from liqrisk.load import load_portfolio
    calls = []
    real = analysis.simulate

    def recording(cp, idx, axes, s, years, notes, model=None, *args, **kwargs):
        out = real(cp, idx, axes, s, years, notes, model, *args, **kwargs)
        calls.append(out[0])
        return out
    monkeypatch.setattr(analysis, "simulate", recording)
    d = _doc([_isolated()])
    analysis.analyze(d, analysis.ProbabilitySettings(["1d"], 500, 3, "gbm", range_paths=0))
    assert calls == ["gbm"]
    ev = Evaluator(load_portfolio(d), Target.parse("p(1d)<=1%"), 500, 3, "student_t")
    ev.metric(load_portfolio(d).accounts[0])
    assert calls == ["gbm", "student"] and ev.calls == 1


def _sol_and_cash():
    d = _doc([{"id": "sol", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 3000},
               "positions": [{"symbol": "SOLUSDT", "kind": "perp", "size": -60.0, "entry": 140.0}]},
              {"id": "cash", "venue": "binance-usdm", "mode": "cross", "collateral": {"USDT": 1000}, "positions": []}])
    d["market"]["SOL"] = {"mark": 140.0, "vol": 0.8}
    return d


NOT_EVALUATED = ("account 'sol': p(7d)<=1% not evaluated — no probability: --model fhs: no history for SOL "
                 "(bundled: BTC, ETH); give --vol-from SOL=OHLC.csv")


def test_an_account_without_a_probability_is_not_evaluated_not_a_pass(tmp_path):
    """With ``--model fhs`` a SOL-only account has no probability (no SOL history): its metric
    counted as P = 0 and it met ``p(7d)<=1%`` silently. Now it is "not evaluated" (metric and
    meets null, no actions) with a note saying why; an account no price moves (cash only) still
    has P = 0 and meets."""
    d = _sol_and_cash()
    adv = advise(d, "p(7d)<=1%", paths=500, seed=3, model="fhs").to_dict()
    sol, cash = adv["accounts"]
    assert (sol["metric"], sol["meets"], sol["actions"]) == (None, None, [])
    assert (cash["metric"], cash["meets"]) == (0.0, True)
    assert adv["notes"] == [NOT_EVALUATED]
    f = tmp_path / "p.json"
    f.write_text(json.dumps(d))
    res = CliRunner().invoke(app, ["advise", str(f), "--target", "p(7d)<=1%", "--paths", "500", "--model", "fhs"])
    assert res.exit_code == 0, res.output
    assert "sol: p(7d)<=1% not evaluated (no probability; see the note)" in res.stdout
    assert f"note: {NOT_EVALUATED}" in " ".join(res.stdout.split())


def test_a_change_that_cannot_be_evaluated_never_meets():
    """A changed account whose probability cannot be computed is a miss for the searches
    (Evaluator.meets False, gap +inf), not P = 0."""
    from liqrisk.advise.targets import Evaluator
    from liqrisk.load import load_portfolio
    pf = load_portfolio(_sol_and_cash())
    ev = Evaluator(pf, Target.parse("p(7d)<=1%"), 500, 3, "fhs")
    sol = pf.accounts[0]
    assert ev.metric(sol) is None and not ev.meets(sol) and ev.gap(sol) == math.inf


@pytest.mark.parametrize("account", ["aave-eth-loop", "compound-usdc"])
def test_a_loan_that_misses_a_distance_target_gets_no_put_added_to_it(account):
    """A lending account holds no positions, so its rules check none: the protective-put search
    added a put to the loan and the margin compile read the protocol's reserve table as tiers —
    IndexError (Aave) or "could not convert string to float: 'b'" (Compound), found by hand for
    the fuzzer's terminal runs (2026-12-03). The put is an action that says why it is not one."""
    res = CliRunner().invoke(app, ["advise", str(ROOT / "examples/defi_loans.yaml"), "--target", "distance>=40sd",
                                   "--account", account, "--json"])
    assert res.exit_code == 0, res.output
    (a,) = json.loads(res.stdout)["accounts"]
    assert a["meets"] is False
    puts = [x for x in a["actions"] if x["kind"] == "put"]
    assert len(puts) == 1 and "is a lending protocol (no options)" in puts[0]["description"]
    assert puts[0]["cost_usd"] is None and not puts[0]["meets"]
