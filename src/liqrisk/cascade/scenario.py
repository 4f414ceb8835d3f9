"""Cascade scenarios: exogenous shock paths, impact, insurance fund; YAML/dict parsing.

Scenario file (YAML; every key except ``assets`` and ``shock`` optional)::

    name: btc-gap-15
    assets:                        # current mark (USD), annual vol, 24h volume (base units)
      BTC: {price: 91250, vol: 0.55, daily_volume: 150000}
      ETH: {price: 3050, vol: 0.70, funding: 0.0001}   # perp funding per 8 h (a long pays), or
                                   # {csv: FILE} or {impact_bid: …, impact_ask: …} as in a portfolio
    shock:
      kind: linear                 # gap | linear | historical
      steps: 60                    # time steps (gap: the whole move in step 1)
      step_hours: 1                # length of a step (options reprice, cooldowns run); 0 = instant
      moves: {BTC: -0.15, ETH: -0.12}   # total exogenous return per asset
      noise: {vol: 0.003, correlation: 0.8, seed: 7}   # optional correlated per-step noise
      # historical: source: bitstamp_daily | coinbase_hourly, start: 2018-11-14
    impact: {model: sqrt, y: 1.0, stress: 1.0, resilience: 0.1}   # or linear + kyle_lambda
    insurance_fund_usd: 5.0e8      # each venue's own fund; or per venue {binance-usdm: 1e9, okx: 3e8}
    adl: true
    population: {synthetic: {n_accounts: 100000, seed: 1}}   # or {accounts: file.csv}
    sweep: {asset: BTC, moves: [-0.05, -0.1, -0.15], impact_scales: [0.5, 1, 2], chunk_size: 4}
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources

import numpy as np
import pandas as pd

from liqrisk.cascade.impact import CascadeImpact
from liqrisk.io.limits import AMOUNT_MAX, VOL_RANGE, stress_problem
from liqrisk.liquidity.impact import DAILY_VOLUME, LinearImpact, SquareRootImpact
from liqrisk.margin.registry import RULE_SETS

HISTORICAL = {  # name → (bundled file, {asset: close column}, time column, hours per row)
    "bitstamp_daily": ("btc_eth_usd_1d_bitstamp.csv", {"BTC": "btc_close", "ETH": "eth_close"}, "date", 24.0),
    "coinbase_hourly": ("btcusd_1h_coinbase.csv", {"BTC": "close"}, "timestamp", 1.0),
}


NOISE_VOL_MIN = 1e-8   # smallest non-zero per-step noise vol (its square stays a normal float)


class ScenarioError(ValueError):
    """Bad scenario input; ``field`` is the dotted path of the offending key."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Scenario:
    """Exogenous price path ``prices · path[t]`` (``path[0] = 1``), impact and fund."""

    name: str
    assets: tuple[str, ...]
    prices: np.ndarray            # (n_assets,) current marks, USD
    path: np.ndarray              # (steps + 1, n_assets) exogenous price multipliers
    impact: CascadeImpact
    insurance_fund: float | Mapping[str, float] = 0.0   # USD: each venue's fund, or venue → fund
    adl: bool = True
    max_rounds: int = 500         # liquidation rounds per step (safety bound)
    step_hours: float = 1.0       # length of one step: options are repriced t·step_hours later
    extra: dict = field(default_factory=dict, compare=False)  # population / sweep blocks
    funding: Mapping[str, float | dict] = field(default_factory=dict)  # asset → rate per 8 h, {csv} or {impact_*}

    @property
    def steps(self) -> int:
        return len(self.path) - 1

    def funds(self, venues: tuple[str, ...]) -> np.ndarray:
        """Opening insurance fund of each of ``venues`` (USD). Every venue has its own fund: a
        number is each venue's balance; a mapping gives it per venue name (missing venues: 0)."""
        f = self.insurance_fund
        if isinstance(f, Mapping):
            return np.array([float(f.get(v, 0.0)) for v in venues])
        return np.full(len(venues), float(f))

    def with_move(self, asset: str, move: float) -> "Scenario":
        """The same path shape with ``asset``'s total move rescaled to ``move`` (log scale)."""
        i = self.assets.index(asset)
        path = self.path.copy()
        end = np.log(path[-1, i])
        path[:, i] = np.exp(np.log(path[:, i]) * (np.log1p(move) / end)) if end != 0 else 1.0 + move
        path[0, i] = 1.0
        return replace(self, path=path)


def gap_path(moves: np.ndarray, steps: int) -> np.ndarray:
    """The whole move at step 1, flat afterwards."""
    path = np.tile(1.0 + moves, (steps + 1, 1))
    path[0] = 1.0
    return path


def linear_path(moves: np.ndarray, steps: int) -> np.ndarray:
    """Price falls (or rises) linearly to ``1 + move`` over ``steps``."""
    return 1.0 + np.outer(np.linspace(0.0, 1.0, steps + 1), moves)


def historical_path(source: str, start: str, steps: int, assets: tuple[str, ...]) -> np.ndarray:
    """Close-to-close multipliers of a bundled real series from ``start`` (liqrisk/data)."""
    fname, cols, tcol, _ = HISTORICAL[source]
    df = pd.read_csv(resources.files("liqrisk").joinpath("data", fname))
    t = pd.to_datetime(df[tcol], utc=True)
    try:
        t0 = pd.Timestamp(start, tz="UTC")
    except (ValueError, TypeError, OverflowError):
        raise ScenarioError("shock.start", f"not a date: {start!r} (e.g. 2018-11-14)") from None
    rows = df[t >= t0].head(steps + 1)
    if len(rows) < steps + 1:
        raise ScenarioError("shock.start", f"{source} has only {len(rows)} rows from {start}")
    out = np.ones((steps + 1, len(assets)))
    for i, a in enumerate(assets):
        if a in cols:
            c = rows[cols[a]].to_numpy(float)
            if not np.isfinite(c).all():
                raise ScenarioError("shock.start", f"{source} has no {a} prices around {start}")
            out[:, i] = c / c[0]
    return out


def correlated_noise(steps: int, vols: np.ndarray, corr: float, seed: int) -> np.ndarray:
    """Multiplicative noise ``exp(cumsum(ε))`` with per-step vols and one pairwise correlation
    (PCG64 from ``seed``); row 0 is 1."""
    n = len(vols)
    cov = (np.full((n, n), corr) + np.eye(n) * (1 - corr)) * np.outer(vols, vols)
    eps = np.random.Generator(np.random.PCG64(seed)).multivariate_normal(np.zeros(n), cov, steps,
                                                                         method="cholesky")
    return np.exp(np.vstack([np.zeros(n), np.cumsum(eps, axis=0)]))


def _num(d: dict, key: str, where: str, default=None, lo=None, hi=None) -> float:
    """``d[key]`` as a finite number in [lo, hi] (strict: true/false and lists are not numbers)."""
    field = f"{where}.{key}" if where else str(key)
    v = d.get(key, default)
    if v is None:
        raise ScenarioError(field, "required")
    if isinstance(v, bool) or not isinstance(v, (int, float, str, np.integer, np.floating)):
        raise ScenarioError(field, f"not a number: {str(v)[:60]!r}")
    try:
        v = float(v)          # numeric text too: YAML 1.1 reads 1.0e6 (no exponent sign) as text
    except (ValueError, OverflowError):
        raise ScenarioError(field, f"not a number: {str(v)[:60]!r}") from None
    if not np.isfinite(v) and lo is None and hi is None:      # was "out of range: nan (allowed [-inf, inf])"
        raise ScenarioError(field, f"not a finite number: {v:g}")
    if not np.isfinite(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ScenarioError(field, f"out of range: {v:g} (allowed [{lo if lo is not None else '-inf'}, "
                                   f"{hi if hi is not None else 'inf'}])")
    return v


def _int(d: dict, key: str, where: str, default=None, lo=None, hi=None) -> int:
    v = _num(d, key, where, default, lo, hi)
    if v != int(v):
        raise ScenarioError(f"{where}.{key}" if where else key, f"must be a whole number, got {v:g}")
    return int(v)


def _block(d, key: str, where: str = "") -> dict:
    v = d.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise ScenarioError(f"{where}{key}", "must be a mapping")
    return v


def _text(d: dict, key: str, default: str, where: str = "") -> str:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise ScenarioError(f"{where}{key}", f"must be a name, got {str(v)[:60]!r}")
    return str(v)


def _flag(d: dict, key: str, default: bool) -> bool:
    v = d.get(key, default)
    if not isinstance(v, bool):
        raise ScenarioError(key, f"must be true or false, got {str(v)[:60]!r}")
    return v


def _population_block(d: dict):
    """``population: {accounts: FILE}`` or ``{synthetic: {...}}`` (checked when run)."""
    if "population" not in d:
        return None
    block = d["population"]
    if not isinstance(block, dict) or len({"accounts", "synthetic"} & set(block)) != 1 or \
            set(block) - {"accounts", "synthetic"}:
        raise ScenarioError("population", "must be {accounts: FILE} or {synthetic: {...}}")
    if "accounts" in block and not isinstance(block["accounts"], str):
        raise ScenarioError("population.accounts", "must be a file path")
    if "synthetic" in block and not isinstance(block["synthetic"], (dict, type(None))):
        raise ScenarioError("population.synthetic", "must be a mapping of parameters")
    return block


MAX_SWEEP_POINTS = 10_000


def _sweep_block(d: dict, assets: tuple[str, ...], path: np.ndarray):
    """``sweep: {asset, moves: [...], impact_scales: [...], chunk_size}`` with every grid point
    a finite number (the sweep then has exactly len(moves) × len(impact_scales) rows)."""
    if "sweep" not in d or d["sweep"] is None:
        return None
    g = _block(d, "sweep")
    unknown = set(g) - {"asset", "moves", "impact_scales", "chunk_size"}
    if unknown:
        raise ScenarioError(f"sweep.{sorted(map(str, unknown))[0]}", "unknown key")
    asset = _text(g, "asset", assets[0], "sweep.").upper()
    if asset not in assets:
        raise ScenarioError("sweep.asset", f"'{asset}' is not a scenario asset")
    default_move = float(path[-1, assets.index(asset)] - 1.0)
    out = {"asset": asset, "chunk_size": _int(g, "chunk_size", "sweep", 25, lo=1, hi=MAX_SWEEP_POINTS)}
    for key, default, lo, hi in (("moves", [default_move], -0.99, 10.0), ("impact_scales", [1.0], 0.0, 1e6)):
        values = g.get(key, default)
        if not isinstance(values, list) or not values:
            raise ScenarioError(f"sweep.{key}", "must be a non-empty list of numbers")
        out[key] = [_num({i: v for i, v in enumerate(values)}, i, f"sweep.{key}", lo=lo, hi=hi)
                    for i in range(len(values))]
    if len(out["moves"]) * len(out["impact_scales"]) > MAX_SWEEP_POINTS:
        raise ScenarioError("sweep", f"{len(out['moves']) * len(out['impact_scales'])} grid points; at most "
                                     f"{MAX_SWEEP_POINTS}")
    return out


def scenario_from_dict(d: dict) -> Scenario:
    """Parse and validate a scenario mapping (format in the module docstring)."""
    if not isinstance(d, dict):
        raise ScenarioError("scenario", "must be a mapping")
    known = {"name", "assets", "shock", "impact", "insurance_fund_usd", "adl", "population", "sweep",
             "max_rounds"}
    for k in d:
        if k not in known:
            raise ScenarioError(str(k), f"unknown key (known: {', '.join(sorted(known))})")
    assets_d = _block(d, "assets")
    if not assets_d:
        raise ScenarioError("assets", "at least one asset with a price is required")
    assets = tuple(str(a).upper() for a in assets_d)
    if len(set(assets)) != len(assets):
        raise ScenarioError("assets", f"an asset is listed twice: {list(assets_d)}")
    spec = {a: _block(assets_d, k, "assets.") for a, k in zip(assets, assets_d)}
    prices = np.array([_num(spec[a], "price", f"assets.{a}", lo=1e-12, hi=1e12) for a in assets])
    shock = _block(d, "shock")
    kind = _text(shock, "kind", "linear", "shock.")
    steps = _int(shock, "steps", "shock", default=1 if kind == "gap" else 60, lo=1, hi=10_000)
    moves_d = _block(shock, "moves", "shock.")
    for a in moves_d:
        if str(a).upper() not in assets:
            raise ScenarioError(f"shock.moves.{a}", "asset not listed under 'assets'")
    moves = np.array([_num(moves_d, k, "shock.moves", lo=-0.99, hi=10.0) if k in moves_d else 0.0
                      for k in assets_d])
    if kind == "gap":
        path = gap_path(moves, steps)
    elif kind == "linear":
        path = linear_path(moves, steps)
    elif kind == "historical":
        source = _text(shock, "source", "bitstamp_daily", "shock.")
        if source not in HISTORICAL:
            raise ScenarioError("shock.source", f"unknown source '{source}' (known: {', '.join(HISTORICAL)})")
        if "start" not in shock:
            raise ScenarioError("shock.start", "required for a historical shock")
        path = historical_path(source, str(shock["start"]), steps, assets)
    else:
        raise ScenarioError("shock.kind", f"unknown kind '{kind}' (gap | linear | historical)")
    default_hours = HISTORICAL[source][3] if kind == "historical" else 1.0
    step_hours = _num(shock, "step_hours", "shock", default_hours, lo=0.0, hi=24.0 * 366)
    noise = _block(shock, "noise", "shock.")
    if noise:
        vol = _num(noise, "vol", "shock.noise", lo=0.0, hi=1.0)
        corr = _num(noise, "correlation", "shock.noise", 0.0, -1.0, 1.0)
        seed = _int(noise, "seed", "shock.noise", 0, lo=0, hi=2 ** 63 - 1)
        lo = -1.0 / (len(assets) - 1) if len(assets) > 1 else -1.0
        if len(assets) > 1 and not lo < corr < 1.0:
            raise ScenarioError("shock.noise.correlation", f"{corr:g}: with {len(assets)} assets one pairwise "
                                f"correlation must lie in ({lo:g}, 1) to form a valid (positive definite) matrix")
        if 0 < vol < NOISE_VOL_MIN:
            raise ScenarioError("shock.noise.vol", f"{vol:g}: must be 0 (no noise) or in [{NOISE_VOL_MIN:g}, 1] "
                                "(a per-step vol; below it the covariance underflows)")
        if vol > 0:
            try:
                path = path * correlated_noise(steps, np.full(len(assets), vol), corr, seed)
            except np.linalg.LinAlgError:
                raise ScenarioError("shock.noise.correlation", f"{corr!r}: too close to the bound ({lo:g}, 1) for "
                                    "a positive definite matrix in floating point") from None
    extra = {k: v for k, v in (("population", _population_block(d)), ("sweep", _sweep_block(d, assets, path)))
             if v is not None}
    return Scenario(_text(d, "name", "scenario"), assets, prices, path,
                    _impact(_block(d, "impact"), assets, spec),
                    _funds(d), _flag(d, "adl", True),
                    _int(d, "max_rounds", "", 500, lo=1, hi=100_000), step_hours, extra,
                    {a: _funding(spec[a], a) for a in assets if "funding" in spec[a]})


def _funding(spec: dict, asset: str) -> float | dict:
    """``assets.X.funding``: a rate per 8 h, ``{csv: FILE}`` (timestamp,rate per payment) or
    ``{impact_bid, impact_ask[, index]}`` (the venue's premium formula) — the market block's forms."""
    v = spec["funding"]
    if not isinstance(v, Mapping):
        return _num(spec, "funding", f"assets.{asset}", lo=-0.1, hi=0.1)
    from pydantic import ValidationError
    from liqrisk.io.portfolio import FundingSpec
    try:
        return FundingSpec.model_validate(dict(v)).model_dump(exclude_none=True)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise ScenarioError(f"assets.{asset}.funding" + (f".{where}" if where else ""),
                            err["msg"].removeprefix("Value error, ")) from None


def _funds(d: dict) -> float | dict[str, float]:
    """``insurance_fund_usd``: a number (each venue's fund) or a mapping venue → fund."""
    f = d.get("insurance_fund_usd", 0.0)
    if not isinstance(f, Mapping):
        return _num(d, "insurance_fund_usd", "", 0.0, lo=0.0)
    for v in f:
        if not isinstance(v, str) or v not in RULE_SETS:
            raise ScenarioError(f"insurance_fund_usd.{v}", f"unknown venue (known: {', '.join(RULE_SETS)})")
    return {str(v): _num(f, v, "insurance_fund_usd", lo=0.0) for v in f}


def _impact(imp: dict, assets: tuple[str, ...], spec: dict) -> CascadeImpact:
    model = _text(imp, "model", "sqrt", "impact.")
    resilience = _num(imp, "resilience", "impact", 0.0, lo=0.0)
    stress = _num(imp, "stress", "impact", 1.0)
    if problem := stress_problem(stress):
        raise ScenarioError("impact.stress", f"{stress:g}: {problem}")
    if model == "none":
        return CascadeImpact(tuple(None for _ in assets), resilience)
    models = []
    for a in assets:
        if model == "sqrt":
            dv = spec[a].get("daily_volume", DAILY_VOLUME.get(a))
            if dv is None:
                raise ScenarioError(f"assets.{a}.daily_volume", "required for the sqrt model (no default)")
            models.append(SquareRootImpact(_num(spec[a], "vol", f"assets.{a}", lo=1e-6, hi=VOL_RANGE[1]),
                                           _num({"daily_volume": dv}, "daily_volume", f"assets.{a}", lo=1e-12,
                                                hi=AMOUNT_MAX),
                                           y=_num(imp, "y", "impact", 1.0, lo=0.0) * stress))
        elif model == "linear":
            lam = _block(imp, "kyle_lambda", "impact.")
            models.append(LinearImpact(_num(lam, a, "impact.kyle_lambda", lo=0.0) * stress))
        else:
            raise ScenarioError("impact.model", f"unknown model '{model}' (sqrt | linear | none)")
    return CascadeImpact(tuple(models), resilience)


def load_scenario(path) -> Scenario:
    """Read a YAML (or JSON) scenario file (bounds: :mod:`liqrisk.io.limits`)."""
    from liqrisk.io.documents import DocumentError, load_document
    try:
        d = load_document(path, "scenario file")
    except DocumentError as e:
        raise ScenarioError("scenario", str(e)) from None
    return scenario_from_dict(d)
