"""Terminal tables of the calibration back-tests (:mod:`liqrisk.risk.calibration`,
:mod:`liqrisk.backtest`): scores and reliability tables, nothing computed here. Names from the
run (the data file, account sets, periods, models) are printed as written (rich markup escaped);
the default console has emoji off."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def scores_table(title: str, s) -> Table:
    """One forecast set's reliability table (bins, count, events, mean predicted, realised with
    its 95% binomial interval) titled with its scores (:class:`liqrisk.risk.scores.Scores`)."""
    table = Table(title=f"{escape(title)}: Brier {s.brier:.5f} = REL {s.reliability:.5f} − RES "
                        f"{s.resolution:.5f} + UNC {s.uncertainty:.5f}, log score {s.log_score:.4f}, "
                        f"ECE {s.ece:.4f} (n={s.n}, events {s.events})")
    for col in ("predicted bucket", "count", "events", "mean predicted", "realised", "95% interval"):
        table.add_column(col, justify="right")
    for r in s.table:
        table.add_row(f"[{r.lo:g}, {r.hi:g})", str(r.count), str(r.events), f"{r.predicted:.4f}",
                      f"{r.realised:.4f}", f"[{r.ci95[0]:.4f}, {r.ci95[1]:.4f}]")
    return table


def _console(console: Console | None) -> Console:
    from liqrisk.report.terminal import wide_console
    return console or wide_console()


def render_hourly_backtest(report, console: Console | None = None) -> None:
    """The hourly back-test: one reliability table per model, the best calibrated."""
    console = _console(console)
    for m in report.models:
        console.print(scores_table(f"{m.model} ({m.seconds:.0f}s)", m.scores))
    console.print(f"best calibrated (smallest REL): [bold]{escape(report.best_calibrated)}[/bold]")


def render_book_backtest(report, console: Console | None = None) -> None:
    """The daily book back-test: per account set, outcome and horizon a score table (period ×
    model), then per period the reliability bins with one column per model."""
    console = _console(console)
    console.print(f"[b]liqrisk backtest-calibration[/b] — {escape(str(report.data))}: {report.dates} forecast dates "
                  f"{escape(str(report.first_date))} → {escape(str(report.last_date))}, every {report.every_days} days, "
                  f"{report.n_paths} paths, seed {report.seed}, vol × {report.vol_scale:g}")
    groups: dict[tuple, list] = {}
    for c in report.results:
        groups.setdefault((c.accounts, c.outcome, c.horizon_days), []).append(c)
    for (acc, outcome, h), cs in groups.items():
        table = Table(title=f"{escape(acc)}, {escape(outcome)}, P(liquidated within {h}d)")
        for col in ("period", "model", "n", "events", "Brier", "log score", "ECE", "REL"):
            table.add_column(col, justify="right" if col not in ("period", "model") else "left")
        for c in cs:
            s = c.scores
            table.add_row(escape(c.period), escape(c.model), str(s.n), str(s.events), f"{s.brier:.5f}",
                          f"{s.log_score:.4f}", f"{s.ece:.4f}", f"{s.reliability:.5f}")
        console.print(table)
        for period in dict.fromkeys(c.period for c in cs):
            console.print(_reliability(f"{escape(acc)}, {escape(outcome)}, {h}d, {escape(period)}: mean predicted → realised "
                                       f"[95% interval] (count)", [c for c in cs if c.period == period]))
    for b in report.best():
        console.print(f"{escape(b['accounts'])}, {escape(b['outcome'])}, {b['horizon_days']}d, {escape(b['period'])}: "
                      f"lowest log score [b]{escape(b['lowest_log_score'])}[/b], lowest ECE [b]{escape(b['lowest_ece'])}[/b]")


def _reliability(title: str, cs) -> Table:
    """``title`` is markup already (its names escaped by the caller)."""
    table = Table(title=title)
    table.add_column("predicted bucket", justify="right")
    bins = sorted({(r.lo, r.hi) for c in cs for r in c.scores.table})
    for c in cs:
        table.add_column(escape(c.model), justify="right")
    for lo, hi in bins:
        cells = []
        for c in cs:
            r = next((r for r in c.scores.table if (r.lo, r.hi) == (lo, hi)), None)
            cells.append("" if r is None else f"{r.predicted:.4f} → {r.realised:.4f} "
                         f"[{r.ci95[0]:.3f}, {r.ci95[1]:.3f}] ({r.count})")
        table.add_row(f"[{lo:g}, {hi:g})", *cells)
    return table
