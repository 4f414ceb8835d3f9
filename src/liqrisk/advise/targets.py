"""Risk targets an account must meet, and their evaluation on the one engine.

* ``distance>=3sd``: every liquidation boundary of the account at least k daily standard
  deviations from the mark (log distance / (σ·√(1/365)), σ the underlying's ATM vol — the
  ``distance`` block of `analyze`); an account already liquidatable misses it.
* ``p(7d)<=1%``: the probability of liquidation within the horizon at most p*, estimated by
  `analyze`'s Monte Carlo with a fixed seed: every evaluation of a changed account draws the
  same paths (common random numbers). That smooths the estimate but does not make it monotone
  in a cut or a hedge of a two-asset account (docs/mitigation.md), which is why
  :func:`~liqrisk.advise.search.smallest` checks 99% of every answer instead of assuming it.

An account is evaluated alone (a one-account portfolio in the same market), so changing it
never changes another account's estimate.
"""
from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass, field
from typing import Callable

from liqrisk.io.portfolio import InputError
from liqrisk.model import Account, Portfolio

_P = re.compile(r"^\s*p\s*\(\s*([^)]+)\)\s*<=?\s*(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*(%?)\s*$", re.I)
_D = re.compile(r"^\s*distance\s*>=?\s*(\d+(?:\.\d+)?)\s*(sd|σ|sigma)?\s*$", re.I)


@dataclass(frozen=True)
class Target:
    """``kind`` "distance" (``level`` = k daily sd) or "probability" (``level`` = p*, ``horizon``)."""

    kind: str
    level: float
    horizon: str | None = None
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> "Target":
        from liqrisk.analysis import parse_horizon
        m = _P.match(text or "")
        if m:
            parse_horizon(m.group(1).strip())
            p = float(m.group(2)) / (100 if m.group(3) else 1)
            if not 0 < p < 1:
                raise InputError([f"--target '{text}': the probability must be in (0, 1), e.g. p(7d)<=1%"])
            return cls("probability", p, m.group(1).strip(), text.strip())
        m = _D.match(text or "")
        if m:
            return cls("distance", float(m.group(1)), None, text.strip())
        raise InputError([f"--target '{text}': expected p(HORIZON)<=P (e.g. p(7d)<=1%) or distance>=Ksd (e.g. distance>=3sd)"])

    def meets(self, value: float | None) -> bool:
        """Whether ``value`` meets the target (None, not evaluated: never)."""
        if value is None:
            return False
        return value >= self.level if self.kind == "distance" else value <= self.level

    def gap(self, value: float | None) -> float:
        """How far ``value`` is from meeting the target, signed (≤ 0: meets): ``k − distance``
        (daily sd), or ``ln P − ln p*`` (−inf at P = 0) — a scale on which a search interpolates;
        +inf when not evaluated (a search takes it as a miss)."""
        if value is None:
            return math.inf
        if self.kind == "distance":
            return self.level - value
        return math.log(value) - math.log(self.level) if value > 0 else -math.inf

    def sd_equivalent(self) -> float:
        """The distance (daily sd) a probability target asks of one GBM underlying without drift:
        P(hit a barrier k daily sd away within T) = 2Φ(−k/√(365·T)) = p* (reflection principle),
        a first guess for searches; a distance target's own k."""
        if self.kind == "distance":
            return self.level
        from statistics import NormalDist          # not scipy.stats: ~1 s of import for one quantile
        from liqrisk.analysis import parse_horizon
        # −Φ⁻¹(p*/2), not Φ⁻¹(1 − p*/2): for p* below ~1e-16, 1 − p*/2 rounds to 1 and inv_cdf
        # raised "p must be in the range 0.0 < p < 1.0" (advise --target 'p(1d)<=1e-300%', issue 9);
        # p*/2 of the smallest denormal rounds to 0: floored there (a first guess only, 38.5 sd)
        return -NormalDist().inv_cdf(max(self.level / 2, 5e-324)) * math.sqrt(365 * parse_horizon(self.horizon))


def _key(account: Account):
    """The account as a cache key: itself (frozen, hashable), or its repr when a field holds a
    dict (venue parameters such as ``portfolio_margin: {pnl_offset: 0}`` or loan reserves)."""
    try:
        hash(account)
        return account
    except TypeError:
        return repr(account)


@dataclass
class Evaluator:
    """Evaluates accounts' metrics in the portfolio's market (module docstring). ``calls``: the
    engine runs; metrics are kept per account (model objects are frozen and hashable). Run
    searches inside :func:`~liqrisk.risk.book_mc.reuse_paths`: every evaluation of a changed
    account then reads the same paths back instead of drawing them."""

    portfolio: Portfolio
    target: Target
    paths: int = 20_000
    seed: int = 7
    model: str = "auto"            # as `analyze` resolves it (auto: the calibrated default per account)
    fhs_tails: str = "gpd"         # the fhs shocks' tails (analyze --fhs-tails)
    calls: int = 0
    progress: Callable[[int, int | None], None] | None = None   # (runs so far, None) after each run
    _metrics: dict = field(default_factory=dict, repr=False)
    _models: dict = field(default_factory=dict, repr=False)
    _paths_models: dict = field(default_factory=dict, repr=False)   # (model, underlyings) → path model (analysis.simulate)
    why_not: dict = field(default_factory=dict, repr=False)   # account id → why `analyze` gave it no probability

    def analyses(self, accounts: list[Account]) -> list:
        """`analyze` of the accounts (with the target's probability horizon; no VaR/ES, which
        advice does not show), in one run: an account's numbers do not depend on the others in
        the book (the engine's contract), so each is its alone-evaluation, and its metric is kept."""
        out = self._analyze(tuple(accounts), risk=False)
        for acc, r in zip(accounts, out):
            self._keep(acc, r)
        return out

    def margins(self, account: Account):
        """`analyze` of the account alone without probabilities (margin, boundaries, distance)."""
        from liqrisk.analysis import analyze
        with one_numba_thread():
            return analyze(Portfolio(self.portfolio.market, (account,))).accounts[0]

    def metric(self, account: Account) -> float | None:
        """The target's metric of the account: a distance from `analyze`'s margin numbers; a P
        from :meth:`_probability` (`analyze`'s number, without what the target does not need);
        None when the P could not be computed (:func:`metric_of`; why: :attr:`why_not`)."""
        key = _key(account)
        if key not in self._metrics:
            run = self._probability(account) if self.target.kind == "probability" else None
            if run is None:
                self._keep(account, self._analyze((account,), risk=False)[0])
            else:
                self.calls += 1
                self._metrics[key], self._models[key] = run
                if self.progress is not None:
                    self.progress(self.calls, None)
        return self._metrics[key]

    def _probability(self, account: Account) -> tuple[float, str] | None:
        """(P within the target's horizon, the path model) of the account alone: `analyze`'s main
        run (:func:`liqrisk.analysis.simulate` — its model resolution, step, funding and
        estimators) for that one horizon, without the term structure's horizons (each of which may
        add an importance-sampling run), margin tables, VaR/ES and output checks. A horizon's
        estimate does not depend on which others are run (:mod:`liqrisk.risk.book_mc`), so this is
        the P `analyze` and `what-if` report (tested). None when `analyze` itself is needed: no
        simulated underlying, or the model does not apply."""
        from liqrisk.analysis import ProbabilitySettings, _NotApplicable, account_axes, probability_years, simulate
        from liqrisk.advise.funding import book_schedule
        from liqrisk.margin.account import CompiledPortfolio
        cp = CompiledPortfolio(Portfolio(self.portfolio.market, (account,)))
        axes = account_axes(cp, 0)
        if not axes:
            return None
        s = ProbabilitySettings([self.target.horizon], self.paths, self.seed, self.model, risk=False,
                                fhs_tails=self.fhs_tails)
        years = list(probability_years(s).values())
        try:
            with one_numba_thread():
                main, risks, _ = simulate(cp, [0], axes, s, years, [], funding=book_schedule(cp),
                                          path_models=self._paths_models)
        except _NotApplicable:
            return None
        return risks[0].probabilities[years[0]].p, main

    def _keep(self, account: Account, result) -> None:
        key = _key(account)
        self._metrics.setdefault(key, metric_of(result, self.target))
        self._models.setdefault(key, result.risk.model if result.risk is not None else None)

    def after(self, account: Account) -> tuple[float | None, str | None]:
        """The metric of the account and the path model it ran under (None: a distance target)."""
        return self.metric(account), self._models.get(_key(account))

    def meets(self, account: Account) -> bool:
        return self.target.meets(self.metric(account))

    def gap(self, account: Account) -> float:
        """The target's signed gap of the account (:meth:`Target.gap`; ≤ 0: meets)."""
        return self.target.gap(self.metric(account))

    def _analyze(self, accounts, risk: bool):
        from liqrisk.analysis import ProbabilitySettings, analyze
        self.calls += 1
        prob = (ProbabilitySettings([self.target.horizon], self.paths, self.seed, self.model, risk=risk,
                                    fhs_tails=self.fhs_tails)
                if self.target.kind == "probability" else None)
        with one_numba_thread():
            res = analyze(Portfolio(self.portfolio.market, tuple(accounts)), prob)
        for r in res.accounts:
            prefix = f"account '{r.id}': no probability — "
            self.why_not.update({r.id: n.removeprefix(prefix) for n in res.notes if n.startswith(prefix)})
        if self.progress is not None:
            self.progress(self.calls, None)
        return res.accounts


@contextlib.contextmanager
def one_numba_thread():
    """Run numba's parallel kernels on one thread: a one-account book is a few dozen (pool, axis)
    pairs, and waking a thread team costs more than the work (measured: 130 ms vs 5 ms per
    analysis on the shared 2-core machine). Monte Carlo chunks still run on their own threads."""
    import numba
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def metric_of(result, target: Target) -> float | None:
    """Distance (smallest, in daily sd; inf without a boundary, 0 when liquidatable) or P. Without
    an estimate P is 1 for an account liquidatable now and 0 for one no price moves (no
    underlying); otherwise it could not be computed (the model does not apply): None, "not
    evaluated" — never a P of 0 that passes ``p(7d)<=1%`` silently."""
    if target.kind == "probability":
        est = (result.probability or {}).get(target.horizon)
        if est is None:
            if result.liquidatable_now:
                return 1.0
            return None if result.liquidation else 0.0
        return float(est.p if hasattr(est, "p") else est["p"])
    if result.liquidatable_now:
        return 0.0
    ds = [v for d in result.distance.values() for k, v in d.items() if k.endswith("_daily_sd") and v is not None]
    return min(ds) if ds else math.inf
