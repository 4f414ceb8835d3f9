"""``liqrisk cascade``: a market-wide liquidation cascade (or a sweep) for a scenario file."""
from __future__ import annotations

from pathlib import Path

import typer

from liqrisk.cli._app import app


@app.command("cascade")
def cascade(
    scenario_file: Path = typer.Argument(..., help="Scenario YAML (see liqrisk.cascade.scenario)."),
    accounts: Path = typer.Option(None, "--accounts", help="Population: CSV/Parquet positions or "
                                                           "Hyperliquid clearinghouseState JSON."),
    engine: str = typer.Option("local", "--engine", help="Sweep executor: local | process | dask."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address (engine dask)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON document."),
    html: Path = typer.Option(None, "--html", help="Write a self-contained HTML report here."),
) -> None:
    """Simulate forced selling → price impact → more liquidations for a whole venue."""
    from liqrisk.batch import get_executor
    from liqrisk.cascade.population import PopulationError
    from liqrisk.cascade.result import CascadeResult
    from liqrisk.cascade.run import resolve_population, run_scenario
    from liqrisk.cascade.scenario import ScenarioError, load_scenario
    from liqrisk.results.cascade import CascadeAnalysis
    if engine not in ("local", "process", "dask"):
        typer.echo("error: --engine: must be local, process or dask", err=True)
        raise typer.Exit(2)
    try:
        sc = load_scenario(scenario_file)
        pop = resolve_population(sc, accounts, scenario_file.parent)
        executor = get_executor(engine, scheduler) if sc.extra.get("sweep") else None
        try:
            result = run_scenario(sc, pop, executor)
        finally:
            if executor is not None:
                executor.close()
    except (ScenarioError, PopulationError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if html is not None:
        if not isinstance(result, CascadeResult):
            typer.echo("error: --html: only for a single run (the scenario has a sweep block)", err=True)
            raise typer.Exit(2)
        from liqrisk.cascade.html import cascade_html
        html.write_text(cascade_html(result))
    if as_json:
        typer.echo(CascadeAnalysis(result).to_json())
        return
    _render(result, isinstance(result, CascadeResult))


def _render(result, single: bool) -> None:
    from rich.table import Table

    from liqrisk.cascade.sweep import FIELDS
    from liqrisk.report.terminal import wide_console
    console = wide_console()
    if single:
        t = Table(title=f"cascade '{result.scenario}' — {result.n_accounts:,} accounts")
        for col in ("asset", "start", "exogenous end", "mark low", "liquidated USD", "amplification"):
            t.add_column(col)
        amp = result.amplification()
        for i, a in enumerate(result.assets):
            t.add_row(a, f"{result.marks[0, i]:,.2f}", f"{result.exogenous[-1, i]:,.2f}",
                      f"{result.marks[:, i].min():,.2f}", f"{result.liquidated_notional[:, i].sum():,.0f}",
                      "-" if amp[a] is None else f"{amp[a]:.3f}")
        console.print(t)
        console.print(f"accounts liquidated: {len(result.liquidated_accounts):,}; insurance fund "
                      f"{result.insurance_fund[0]:,.0f} → {result.insurance_fund[-1]:,.0f}; "
                      f"ADL events: {len(result.adl_events)}")
    else:
        t = Table(title=f"sweep over {result.asset} moves × impact scales")
        for col in FIELDS:
            t.add_column(col)
        for row in result.rows:
            t.add_row(*[f"{v:,.4g}" for v in row])
        console.print(t)
