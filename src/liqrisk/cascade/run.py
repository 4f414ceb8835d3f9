"""Run a scenario as the CLI does: resolve the population (``--accounts`` file, or the
scenario's ``population`` block), then one simulation with liquidation maps, or the scenario's
``sweep`` grid on an executor."""
from __future__ import annotations

from pathlib import Path

from liqrisk.cascade.book import Population
from liqrisk.cascade.engine import engine_assets, simulate
from liqrisk.cascade.liqmap import liquidation_maps
from liqrisk.cascade.population import PopulationError, load_population
from liqrisk.cascade.result import CascadeResult
from liqrisk.cascade.scenario import Scenario, ScenarioError
from liqrisk.cascade.sweep import SweepResult, sweep
from liqrisk.cascade.synthetic import SyntheticSpec, synthetic_population


def resolve_population(scenario: Scenario, accounts: str | Path | None = None,
                       base: Path | None = None) -> Population:
    """``accounts`` wins; else ``population: {accounts: file}`` (relative to ``base``) or
    ``population: {synthetic: {...}}``."""
    if accounts is not None:
        return load_population(accounts)
    block = scenario.extra.get("population")
    if block is None:
        raise ScenarioError("population", "give --accounts FILE or population: {accounts: FILE} | {synthetic: {...}}")
    if "accounts" in block:
        path = Path(block["accounts"])
        return load_population(path if path.is_absolute() or base is None else base / path)
    spec = dict(block["synthetic"] or {})
    spec.setdefault("prices", {a: float(p) for a, p in zip(scenario.assets, scenario.prices)})
    return synthetic_population(SyntheticSpec.from_dict(spec))


def run_scenario(scenario: Scenario, population: Population, executor=None,
                 on_step=None) -> CascadeResult | SweepResult:
    """A sweep when the scenario has a ``sweep`` block, else one run with a liquidation map per
    asset. ``on_step(fraction)`` runs after every cascade step (of each simulation of a sweep)
    and may raise to stop the run."""
    grid = scenario.extra.get("sweep")       # validated by scenario_from_dict
    if grid:
        return sweep(population, scenario, grid["asset"], grid["moves"], grid["impact_scales"], executor,
                     grid["chunk_size"], on_step)
    result = simulate(population, scenario, on_step=on_step)
    _, prices, axis_asset = engine_assets(population, scenario)
    result.liquidation_maps = liquidation_maps(population, prices[axis_asset])
    return result


__all__ = ["resolve_population", "run_scenario", "PopulationError", "ScenarioError"]
