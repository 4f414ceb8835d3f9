"""Cascade scenarios: exogenous shock paths, impact, insurance fund; YAML/dict parsing.

Scenario file (YAML; every key except ``assets`` and ``shock`` optional)::

    name: btc-gap-15
    assets:                        # current mark (USD), annual vol, 24h volume (base units)
      BTC: {price: 91250, vol: 0.55, daily_volume: 150000}
      ETH: {price: 3050, vol: 0.70}
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
from liqrisk.liquidity.impact import DAILY_VOLUME, LinearImpact, SquareRootImpact
from liqrisk.margin.registry import RULE_SETS

HISTORICAL = {  # name → (bundled file, {asset: close column}, time column, hours per row)
    "bitstamp_daily": ("btc_eth_usd_1d_bitstamp.csv", {"BTC": "btc_close", "ETH": "eth_close"}, "date", 24.0),
    "coinbase_hourly": ("btcusd_1h_coinbase.csv", {"BTC": "close"}, "timestamp", 1.0),
}


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
    rows = df[t >= pd.Timestamp(start, tz="UTC")].head(steps + 1)
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
    v = d.get(key, default)
    if v is None:
        raise ScenarioError(f"{where}.{key}", "required")
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise ScenarioError(f"{where}.{key}", f"not a number: {v!r}") from None
    if not np.isfinite(v) or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ScenarioError(f"{where}.{key}", f"out of range: {v}")
    return v


def _block(d, key: str, where: str = "") -> dict:
    v = d.get(key) or {}
    if not isinstance(v, dict):
        raise ScenarioError(f"{where}{key}", "must be a mapping")
    return v


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
    spec = {a: (_block(assets_d, k, "assets.") if assets_d[k] is not None else {}) for a, k in zip(assets, assets_d)}
    prices = np.array([_num(spec[a], "price", f"assets.{a}", lo=1e-12) for a in assets])
    shock = _block(d, "shock")
    kind = shock.get("kind", "linear")
    steps = int(_num(shock, "steps", "shock", default=1 if kind == "gap" else 60, lo=1, hi=100_000))
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
        source = shock.get("source", "bitstamp_daily")
        if source not in HISTORICAL:
            raise ScenarioError("shock.source", f"unknown source '{source}' (known: {', '.join(HISTORICAL)})")
        if "start" not in shock:
            raise ScenarioError("shock.start", "required for a historical shock")
        path = historical_path(source, str(shock["start"]), steps, assets)
    else:
        raise ScenarioError("shock.kind", f"unknown kind '{kind}' (gap | linear | historical)")
    default_hours = HISTORICAL[shock.get("source", "bitstamp_daily")][3] if kind == "historical" else 1.0
    step_hours = _num(shock, "step_hours", "shock", default_hours, lo=0.0, hi=24.0 * 366)
    noise = _block(shock, "noise", "shock.")
    if noise:
        vols = np.full(len(assets), _num(noise, "vol", "shock.noise", lo=0.0, hi=1.0))
        path = path * correlated_noise(steps, vols, _num(noise, "correlation", "shock.noise", 0.0, -1.0, 1.0),
                                       int(_num(noise, "seed", "shock.noise", 0, lo=0)))
    return Scenario(str(d.get("name", "scenario")), assets, prices, path,
                    _impact(_block(d, "impact"), assets, spec),
                    _funds(d), bool(d.get("adl", True)),
                    int(_num(d, "max_rounds", "", 500, lo=1)), step_hours,
                    {k: d[k] for k in ("population", "sweep") if k in d})


def _funds(d: dict) -> float | dict[str, float]:
    """``insurance_fund_usd``: a number (each venue's fund) or a mapping venue → fund."""
    f = d.get("insurance_fund_usd", 0.0)
    if not isinstance(f, Mapping):
        return _num(d, "insurance_fund_usd", "", 0.0, lo=0.0)
    for v in f:
        if v not in RULE_SETS:
            raise ScenarioError(f"insurance_fund_usd.{v}", f"unknown venue (known: {', '.join(RULE_SETS)})")
    return {str(v): _num(f, v, "insurance_fund_usd", lo=0.0) for v in f}


def _impact(imp: dict, assets: tuple[str, ...], spec: dict) -> CascadeImpact:
    model = imp.get("model", "sqrt")
    resilience = _num(imp, "resilience", "impact", 0.0, lo=0.0)
    stress = _num(imp, "stress", "impact", 1.0, lo=0.0)
    if model == "none":
        return CascadeImpact(tuple(None for _ in assets), resilience)
    models = []
    for a in assets:
        if model == "sqrt":
            dv = spec[a].get("daily_volume", DAILY_VOLUME.get(a))
            if dv is None:
                raise ScenarioError(f"assets.{a}.daily_volume", "required for the sqrt model (no default)")
            models.append(SquareRootImpact(_num(spec[a], "vol", f"assets.{a}", lo=1e-6),
                                           _num({"v": dv}, "v", f"assets.{a}.daily_volume", lo=1e-12),
                                           y=_num(imp, "y", "impact", 1.0, lo=0.0) * stress))
        elif model == "linear":
            lam = _block(imp, "kyle_lambda", "impact.")
            models.append(LinearImpact(_num(lam, a, "impact.kyle_lambda", lo=0.0) * stress))
        else:
            raise ScenarioError("impact.model", f"unknown model '{model}' (sqrt | linear | none)")
    return CascadeImpact(tuple(models), resilience)


def load_scenario(path) -> Scenario:
    """Read a YAML (or JSON) scenario file."""
    import yaml
    try:
        with open(path) as f:
            d = yaml.safe_load(f)
    except FileNotFoundError:
        raise ScenarioError("scenario", f"file not found: {path}") from None
    except yaml.YAMLError as e:
        raise ScenarioError("scenario", f"not valid YAML: {str(e).splitlines()[0]}") from None
    return scenario_from_dict(d)
