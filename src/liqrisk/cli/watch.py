"""`liqrisk watch FILE|PORTFOLIO_ID`: re-evaluate on change, store the history, alert once per crossing."""
from __future__ import annotations

import time

import typer

from liqrisk.cli._app import app
from liqrisk.cli import limits as L
from liqrisk.cli.analyze import FhsTailsOption
from liqrisk.cli.errors import fail_on_bad_input


@app.command("watch")
def watch(
    target: str = typer.Argument(..., help="portfolio file, or the id of a portfolio saved in the database"),
    every: str = typer.Option("60s", "--every", metavar="DURATION", help="how often to look for changes (e.g. 30s, 5m)"),
    alert: list[str] = typer.Option(..., "--alert", metavar="RULE", help="rule per account, e.g. 'p(1d)>=1%' or "
                                    "'margin_ratio>=80%' (repeatable)"),
    webhook: str = typer.Option(None, "--webhook", metavar="URL", help="POST each fired alert as JSON to this URL"),
    market: str = typer.Option(None, "--market", metavar="PATH", help="market snapshot file (underlying → {mark, vol, …}) "
                               "overriding the portfolio's market block; watched too"),
    database_url: str = typer.Option(None, "--database-url", metavar="URL", help="where runs and alerts are stored "
                                     "(default ~/.liqrisk/liqrisk.db or env LIQRISK_DATABASE_URL)"),
    paths: int = typer.Option(5000, "--paths", min=100, help="Monte Carlo paths per account"),
    seed: int = typer.Option(7, "--seed"),
    fhs_tails: FhsTailsOption = "gpd",
    max_checks: int = typer.Option(0, "--max-checks", min=0, help="stop after this many checks (0: run until Ctrl-C)"),
) -> None:
    """Watch a portfolio and alert when a rule starts to hold."""
    from liqrisk.io.portfolio import InputError
    from liqrisk.service.store import Store, default_url
    from liqrisk.service.watch import Watcher, parse_duration, parse_rule
    with fail_on_bad_input():
        L.refuse(L.seed_problems(seed) + L.fhs_tails_problems(fhs_tails))   # seed: numpy's "expected
        # non-negative integer" at the first check named no flag
        rules = [parse_rule(a) for a in alert]
        interval = parse_duration(every)
        store = Store(database_url or default_url())
        store.migrate()
        watcher = Watcher(store, int(target) if target.isdigit() else target, rules, paths, seed, market, webhook,
                          fhs_tails=fhs_tails)
    checks, bad = 0, False
    try:
        while True:
            checks += 1
            try:
                out, bad = watcher.check(), False
            except (InputError, OSError, ValueError) as e:
                lines = e.problems if isinstance(e, InputError) else [str(e)]
                for line in lines:
                    typer.echo(f"error: {line}", err=True)
                watcher.fingerprint = None
                out, bad = None, True       # the watch goes on (the file may be fixed); its exit says so
            if out is not None:
                typer.echo(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} evaluated (run {out['run']}), "
                           f"{len(out['alerts'])} alert(s)")
                for a in out["alerts"]:
                    typer.echo(f"ALERT {a['alert']} account {a['account']}: {a['value']:.4g}"
                               + (f" (webhook: {a['delivered']})" if "delivered" in a else ""))
            if max_checks and checks >= max_checks:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
    if bad:            # the last check could not read its input: exit 2, as every command on bad input
        raise typer.Exit(2)
