"""Market-wide liquidation cascades on the margin engine's compiled book: populations, the
engine, results, sweeps."""
from liqrisk.cascade.book import Population
from liqrisk.cascade.engine import ConservationError, simulate
from liqrisk.cascade.population import PopulationError, from_frame, load_population
from liqrisk.cascade.result import CascadeResult, LiquidationMap
from liqrisk.cascade.scenario import Scenario, ScenarioError, load_scenario, scenario_from_dict
from liqrisk.cascade.synthetic import SyntheticSpec, synthetic_population

__all__ = ["simulate", "ConservationError", "Population", "PopulationError", "from_frame", "load_population",
           "CascadeResult", "LiquidationMap", "Scenario", "ScenarioError", "load_scenario",
           "scenario_from_dict", "SyntheticSpec", "synthetic_population"]
