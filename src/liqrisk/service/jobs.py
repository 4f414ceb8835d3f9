"""Cascade runs as background jobs: ``POST /v1/cascade`` stores a queued run and returns its id;
one worker thread runs the jobs in order, storing progress (cascade steps done of a single run,
sweep chunks done of a sweep) and the result. A cancel or the job time limit stops the
computation itself: the cascade calls back after every step, and the callback raises once the
job is cancelled or over time, so a cancelled job stops within one step and frees the worker."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from liqrisk.cascade.population import PopulationError
from liqrisk.results.cascade import CascadeAnalysis
from liqrisk.cascade.run import resolve_population, run_scenario
from liqrisk.cascade.scenario import ScenarioError, scenario_from_dict
from liqrisk.service.limits import NO_FUNDING_FILE, LimitError, Limits
from liqrisk.service.store import Store


class _Stopped(Exception):
    """A job was cancelled or ran out of time (the message says which)."""


class _ProgressExecutor:
    """The ``map_chunks`` executor of :mod:`liqrisk.batch`, in this thread, reporting progress
    and stopping between chunks."""

    def __init__(self, report, stop):
        self.report, self.stop = report, stop

    def map_chunks(self, fn, chunks) -> list:
        chunks, out = list(chunks), []
        for k, c in enumerate(chunks):
            self.stop()
            out.append(fn(c))
            self.report(0.05 + 0.95 * (k + 1) / len(chunks))
        return out

    def close(self) -> None:
        pass


class _StepProgress:
    """The per-step callback of a single cascade run: stop if asked, store the progress (0.05 →
    0.95 over the steps) at most every ``every`` seconds."""

    def __init__(self, report, stop, every: float = 0.25):
        self.report, self.stop, self.every, self.last = report, stop, every, time.monotonic()

    def __call__(self, fraction: float) -> None:
        self.stop()
        if time.monotonic() - self.last >= self.every:
            self.last = time.monotonic()
            self.report(0.05 + 0.9 * fraction)


def check_scenario(doc: dict, limits: Limits):
    """Parse a scenario document for the service: a synthetic population only (the service reads
    no files), within the limits. Raises ``ScenarioError``/``LimitError`` naming the field."""
    sc = scenario_from_dict(doc)
    for asset, funding in sc.funding.items():
        if isinstance(funding, dict) and "csv" in funding:
            raise LimitError(f"assets.{asset}.funding.csv", NO_FUNDING_FILE)
    pop = sc.extra.get("population")
    if not isinstance(pop, dict) or not isinstance(pop.get("synthetic"), dict) or "accounts" in pop:
        raise ScenarioError("population", "the service runs synthetic populations: population: {synthetic: {...}}")
    n = pop["synthetic"].get("n_accounts", 0)
    if not isinstance(n, int) or isinstance(n, bool) or n > limits.cascade_accounts:
        raise LimitError("population.synthetic.n_accounts", f"an integer ≤ {limits.cascade_accounts:,}")
    if sc.steps > limits.cascade_steps:
        raise LimitError("shock.steps", f"{sc.steps:,} steps; at most {limits.cascade_steps:,}")
    grid = sc.extra.get("sweep")
    if grid:
        if not isinstance(grid, dict):
            raise ScenarioError("sweep", "must be a mapping")
        moves, scales = grid.get("moves", [1]), grid.get("impact_scales", [1])
        if not isinstance(moves, list) or not isinstance(scales, list):
            raise ScenarioError("sweep", "moves and impact_scales must be lists of numbers")
        if len(moves) * len(scales) > limits.sweep_points:
            raise LimitError("sweep", f"{len(moves) * len(scales)} points; at most {limits.sweep_points}")
        size = grid.get("chunk_size", 25)
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ScenarioError("sweep.chunk_size", "a positive integer")
    return sc


class Jobs:
    """The job queue of one server process."""

    def __init__(self, store: Store, limits: Limits):
        self.store, self.limits = store, limits
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="liqrisk-job")
        self.cancelled: set[int] = set()
        self.lock = threading.Lock()

    def submit(self, doc: dict) -> int:
        sc = check_scenario(doc, self.limits)
        active = [r for r in self.store.runs(limit=self.limits.jobs_queued + 1, kind="cascade")
                  if r.status in ("queued", "running")]
        if len(active) >= self.limits.jobs_queued:
            raise LimitError("cascade", f"{len(active)} jobs already queued or running; wait or cancel one", 429)
        rid = self.store.add_run("cascade", doc, {}, status="queued").id
        self.pool.submit(self._run, rid, sc)
        return rid

    def cancel(self, rid: int) -> bool:
        run = self.store.run(rid)
        if run is None or run.kind != "cascade":
            return False
        if run.status in ("queued", "running"):
            with self.lock:
                self.cancelled.add(rid)
            if run.status == "queued":
                self.store.update_run(rid, status="cancelled", error="cancelled")
        return True

    def _run(self, rid: int, sc) -> None:
        if rid in self.cancelled:
            return
        deadline = time.monotonic() + self.limits.job_seconds

        def stop(*_):
            if rid in self.cancelled:
                raise _Stopped("cancelled")
            if time.monotonic() > deadline:
                raise _Stopped(f"stopped: over the job time limit of {self.limits.job_seconds:g} s")

        self.store.update_run(rid, status="running", progress=0.0)
        try:
            pop = resolve_population(sc)
            stop()
            self.store.update_run(rid, progress=0.05)
            executor = _ProgressExecutor(lambda f: self.store.update_run(rid, progress=f), stop)
            result = run_scenario(sc, pop, executor, on_step=stop if sc.extra.get("sweep") else
                                  _StepProgress(lambda f: self.store.update_run(rid, progress=f), stop))
            stop()
            data = CascadeAnalysis(result).to_dict()          # the document of `liqrisk cascade --json`
            self.store.update_run(rid, status="done", progress=1.0, result=data)
        except _Stopped as e:
            self.store.update_run(rid, status="cancelled" if str(e) == "cancelled" else "failed", error=str(e))
        except (ScenarioError, PopulationError, ValueError) as e:
            self.store.update_run(rid, status="failed", error=str(e))
        except Exception as e:  # noqa: BLE001 — a job must end with a status, never hang "running"
            self.store.update_run(rid, status="failed", error=f"internal error: {type(e).__name__}: {e}")
        finally:
            with self.lock:
                self.cancelled.discard(rid)

    def close(self) -> None:
        with self.lock:
            self.cancelled.update(r.id for r in self.store.runs(limit=50) if r.status in ("queued", "running"))
        self.pool.shutdown(wait=False, cancel_futures=True)
