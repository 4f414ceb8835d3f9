"""`liqrisk advise FILE --target …`: the ways to bring each account that misses a target back to it."""
from __future__ import annotations

import math
import sys

import typer

from liqrisk.cli import limits as L
from liqrisk.cli._app import app
from liqrisk.cli.analyze import FhsTailsOption, ModelOption
from liqrisk.cli.errors import fail_on_bad_input
from liqrisk.cli.progress import progress_bar
from liqrisk.io import limits


@app.command("advise")
def advise_command(
    file: str = typer.Argument(..., help="portfolio file (YAML or JSON)"),
    target: str = typer.Option(..., "--target", metavar="TARGET", help='"p(7d)<=1%" or "distance>=3sd"'),
    account: list[str] = typer.Option(None, "--account", metavar="ID", help="only these account ids (repeatable)"),
    paths: int = typer.Option(20_000, "--paths", min=100, help="Monte Carlo paths (probability targets)"),
    seed: int = typer.Option(7, "--seed", help="random seed: the same paths for every candidate"),
    model: ModelOption = "auto",
    fhs_tails: FhsTailsOption = "gpd",
    as_json: bool = typer.Option(False, "--json", help="print exactly one JSON document"),
    html: str = typer.Option(None, "--html", metavar="PATH", help="write the cost-of-risk-reduction frontier here"),
    max_path_steps: L.MaxPathSteps = None, max_horizon_days: L.MaxHorizonDays = None,
) -> None:
    """Smallest top-up per asset, deleveraging (cheapest exit), perp/future hedge and protective
    put for every account that misses the target, each verified on the engine, cheapest first."""
    from liqrisk.advise.advice import advise
    from liqrisk.advise.targets import Target
    with fail_on_bad_input(), limits.using(max_path_steps=max_path_steps, max_horizon_days=max_horizon_days):
        horizon = Target.parse(target).horizon
        L.check_simulation([horizon] if horizon else [], paths, "--target horizon")
        L.refuse(L.seed_problems(seed) + L.fhs_tails_problems(fhs_tails))
        with progress_bar("advising", quiet=as_json) as tick:
            r = advise(file, target, paths, seed, model, account or None, progress=tick, fhs_tails=fhs_tails)
        d = r.to_dict()
        if html:
            from liqrisk.advise.html import frontier_html
            with open(html, "w") as f:
                f.write(frontier_html(d))
    if as_json:
        sys.stdout.write(r.to_json() + "\n")
        return
    from rich.table import Table
    from rich.markup import escape

    from liqrisk.report.terminal import wide_console
    console = wide_console()
    fmt = (lambda v: "-" if v is None else ("∞" if math.isinf(v) else f"{v:.2f} sd")) if r.kind == "distance" \
        else (lambda v: "-" if v is None else f"{v:.3%}")
    for a in d["accounts"]:
        model = f", model {a['model']}" if a["model"] else ""          # the path model of its P
        if a["meets"] is None:
            console.print(f"[yellow]{escape(a['id'])}[/]: {escape(str(r.target))} not evaluated (no probability; "
                          f"see the note)")
            continue
        if a["meets"]:
            console.print(f"[green]{escape(a['id'])}[/]: meets {escape(str(r.target))} ({fmt(a['metric'])}{model})")
            continue
        t = Table(title=f"{escape(a['id'])} ({a['venue']}{model}): {fmt(a['metric'])} misses {escape(str(r.target))} — "
                        f"cheapest first")
        prob = r.kind == "probability"
        for col in ("action", "cost (USD)", "cost is", "after") + (("after's model",) if prob else ()) + ("meets", "minimal"):
            t.add_column(col)
        for x in a["actions"]:
            ran = [] if not prob else [x["model"] or "-" if "model_switch" not in x["details"]
                                       else f"[yellow]{x['model']} (was {a['model']})[/]"]
            t.add_row(escape(x["description"]), "-" if x["cost_usd"] is None else f"{x['cost_usd']:,.2f}", x["cost_kind"],
                      fmt(x["metric"]) if x["metric"] is not None else "-", *ran, "yes" if x["meets"] else "no",
                      {True: "yes", False: "no", None: "-"}[x["minimal"]])
        console.print(t)
        for x in a["actions"]:
            if x["details"].get("not_monotone"):
                amount = (lambda v: f"{100 * v:.4g}%") if x["unit"] == "fraction" else (lambda v: f"{v:,.6g}")
                pairs = ", ".join(f"{amount(lo)} meets but {amount(hi)} misses" for lo, hi in x["details"]["not_monotone"])
                console.print(f"  not monotone ({escape(x['description'])}): {pairs} — the Monte Carlo P on "
                              f"the same paths; the answer is the smallest found with 99% of it missing")
    if any("model_switch" in x["details"] for a in d["accounts"] for x in a["actions"]):
        console.print("an answer whose after's model differs from the account's was estimated under another path model "
                      "(--model auto: an account left without a position with price history runs GBM); "
                      "give --model to compare under one model")
    for n in d["notes"]:
        console.print(f"note: {escape(n)}")
    console.print(f"{d['evaluations']} engine evaluations; every answer re-run on the changed account; "
                  f"'minimal': 99% of it misses the target")
    if html:
        console.print(f"HTML frontier written to {escape(str(html))}")
