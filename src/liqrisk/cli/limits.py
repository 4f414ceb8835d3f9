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
