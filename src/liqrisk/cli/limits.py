"""The ``--max-*`` flags shared by the commands that read input files (defaults: :class:`Limits`)."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from liqrisk.io.limits import Limits

_D = Limits()


def _opt(name: str, what: str):
    return typer.Option(Limits.FLAGS[name], metavar="N", min=0,
                        help=f"raise the limit on {what} (default {getattr(_D, name):g})")


MaxFileMb = Annotated[Optional[float], _opt("max_file_mb", "the size of an input file in MB")]
MaxDepth = Annotated[Optional[int], _opt("max_depth", "the nesting depth of a YAML/JSON file")]
MaxAliasNodes = Annotated[Optional[int], _opt("max_alias_nodes", "the nodes YAML aliases may add")]
MaxAccounts = Annotated[Optional[int], _opt("max_accounts", "the accounts in one portfolio file")]
MaxPositions = Annotated[Optional[int], _opt("max_positions", "the positions in one portfolio file")]
MaxPopulation = Annotated[Optional[int], _opt("max_population", "the accounts (and positions) of a "
                                                                 "synthetic, table or Hyperliquid population")]
MaxPathSteps = Annotated[Optional[float], _opt("max_path_steps", "Monte Carlo paths × time steps per account")]
MaxHorizonDays = Annotated[Optional[float], _opt("max_horizon_days", "the longest --horizon in days")]


def simulation_problems(horizons, paths: int, flag: str = "--horizon", paths_flag: str = "--paths") -> list[str]:
    """The horizons parse, the longest is within ``max_horizon_days`` and paths × time steps of
    one simulation within ``max_path_steps`` (the current limits); one line per problem
    (``paths_flag``: the flag that gave ``paths``)."""
    from liqrisk.analysis import ProbabilitySettings, parse_horizon
    from liqrisk.io import limits
    from liqrisk.io.portfolio import InputError
    bad, years = [], []
    for h in horizons or []:
        try:
            years.append(parse_horizon(h))
        except InputError as e:
            bad += e.problems
    lim = limits.current()
    if years and max(years) * 365 > lim.max_horizon_days * (1 + 1e-12):    # 366/365·365 = 366.00000000000006:
        # the documented bound itself ("366d") was refused (issue 9, found by the edge fuzz's --time 366d)
        bad.append(lim.exceeded("max_horizon_days", f"{flag} {max(years) * 365:g} days", f"a shorter {flag}"))
    if years:
        steps = max(years) / min(1 / (365 * ProbabilitySettings.steps_per_day), min(years) / 4)
        if paths * steps > lim.max_path_steps:
            bad.append(lim.exceeded("max_path_steps", f"{paths_flag} {paths} × {steps:,.0f} time steps",
                                    f"fewer {paths_flag} or a shorter {flag}"))
    return bad


def check_simulation(horizons, paths: int, flag: str = "--horizon") -> None:
    """:func:`simulation_problems` as an :class:`~liqrisk.io.portfolio.InputError`."""
    from liqrisk.io.portfolio import InputError
    bad = simulation_problems(horizons, paths, flag)
    if bad:
        raise InputError(bad)


def seed_problems(seed: int) -> list[str]:
    """``["--seed -1: must be ≥ 0"]`` for a negative seed (numpy's generators take none: its own
    message, "expected non-negative integer", named no flag), else []: the rule of every command's
    ``--seed``."""
    return [f"--seed {seed}: must be ≥ 0"] if seed < 0 else []


def refuse(bad: list[str]) -> None:
    """The problem lines ``bad`` (if any) as one :class:`~liqrisk.io.portfolio.InputError`."""
    from liqrisk.io.portfolio import InputError
    if bad:
        raise InputError(bad)


def check_seed(seed: int) -> None:
    """:func:`seed_problems` as an :class:`~liqrisk.io.portfolio.InputError`."""
    refuse(seed_problems(seed))


def fhs_tails_problems(tails: str) -> list[str]:
    """``["--fhs-tails X: one of gpd, empirical"]`` unless ``tails`` is a choice of fhs shocks
    (:func:`liqrisk.analysis.fhs_tails_problem`, the service's rule too), else []."""
    from liqrisk.analysis import fhs_tails_problem
    return [f"--fhs-tails {tails}: {problem}"] if (problem := fhs_tails_problem(tails)) else []
