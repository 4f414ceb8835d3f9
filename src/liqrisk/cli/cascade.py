"""``liqrisk cascade``: a market-wide liquidation cascade (or a sweep) for a scenario file."""
from __future__ import annotations

from pathlib import Path

import typer

from liqrisk.cli import limits as L
from liqrisk.cli._app import app
from liqrisk.cli.errors import OutputError, fail_on_bad_input, strict_json
from liqrisk.io import limits


@app.command("cascade")
def cascade(
    scenario_file: Path = typer.Argument(..., metavar="SCENARIO_FILE", help="Scenario YAML (see liqrisk.cascade.scenario)."),
    accounts: Path = typer.Option(None, "--accounts", metavar="PATH", help="Population: a portfolio file (the analyze "
                                                           "input, every venue and contract), CSV/Parquet "
                                                           "positions or Hyperliquid clearinghouseState JSON."),
    engine: str = typer.Option("local", "--engine", metavar="ENGINE", help="Sweep executor: local | process | dask."),
    scheduler: str = typer.Option(None, "--scheduler", metavar="ADDRESS", help="Dask scheduler address (engine dask)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON document."),
    html: Path = typer.Option(None, "--html", metavar="PATH", help="Write a self-contained HTML report here."),
    max_file_mb: L.MaxFileMb = None, max_depth: L.MaxDepth = None, max_alias_nodes: L.MaxAliasNodes = None,
    max_accounts: L.MaxAccounts = None, max_positions: L.MaxPositions = None,
    max_population: L.MaxPopulation = None,
) -> None:
    """Simulate forced selling → price impact → more liquidations for a whole venue."""
    from liqrisk.batch import get_executor
    from liqrisk.cascade.result import CascadeResult
    from liqrisk.cascade.engine import ConservationError
    from liqrisk.cascade.run import resolve_population, run_scenario
    from liqrisk.cascade.scenario import ScenarioError, load_scenario
    from liqrisk.results.cascade import CascadeAnalysis
    with fail_on_bad_input(), limits.using(max_file_mb=max_file_mb, max_depth=max_depth, max_alias_nodes=max_alias_nodes,
                                           max_accounts=max_accounts, max_positions=max_positions,
                                           max_population=max_population):
        if engine not in ("local", "process", "dask"):
            raise ScenarioError("--engine", "must be local, process or dask")
        if html is not None and html.is_dir():
            raise ScenarioError("--html", f"{html} is a directory")
        sc = load_scenario(scenario_file)
        if html is not None and sc.extra.get("sweep"):
            raise ScenarioError("--html", "only for a single run (the scenario has a sweep block)")
        executor = get_executor(engine, scheduler) if sc.extra.get("sweep") else None   # fails fast
        try:
            result = run_scenario(sc, resolve_population(sc, accounts, scenario_file.parent), executor)
        except ConservationError as e:       # the run stops: a line, not a traceback
            raise OutputError(f"result check: {e}") from None
        finally:
            if executor is not None:
                executor.close()
        text = strict_json(CascadeAnalysis(result).to_dict()) if as_json else None
        if html is not None:
            from liqrisk.cascade.html import cascade_html
            html.write_text(cascade_html(result))
    if as_json:
        typer.echo(text)
        return
    _render(result, isinstance(result, CascadeResult))


def _render(result, single: bool) -> None:
    from rich.table import Table
    from rich.markup import escape

    from liqrisk.cascade.sweep import FIELDS
    from liqrisk.report.terminal import number, wide_console
    console = wide_console()
    if single:
        t = Table(title=f"cascade '{escape(str(result.scenario))}' — {result.n_accounts:,} accounts")
        for col in ("asset", "start", "exogenous end", "mark low", "liquidated USD", "amplification"):
            t.add_column(col)
        amp = result.amplification()
        for i, a in enumerate(result.assets):
            t.add_row(escape(a), f"{result.marks[0, i]:,.2f}", f"{result.exogenous[-1, i]:,.2f}",
                      f"{result.marks[:, i].min():,.2f}", f"{result.liquidated_notional[:, i].sum():,.0f}",
                      "-" if amp[a] is None else f"{amp[a]:.3f}")
        console.print(t)
        console.print(f"accounts liquidated: {len(result.liquidated_accounts):,}; insurance fund "
                      f"{result.insurance_fund[0]:,.0f} → {result.insurance_fund[-1]:,.0f}; "
                      f"ADL events: {len(result.adl_events)}")
    else:
        t = Table(title=f"sweep over {escape(str(result.asset))} moves × impact scales")
        for col in FIELDS:
            t.add_column(col)
        for row in result.rows:
            t.add_row(*[number(v, ",.4g") for v in row])    # amplification NaN (JSON null): a move of 0
        console.print(t)
