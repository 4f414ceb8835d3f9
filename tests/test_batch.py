"""Executors give identical sweep results (local, process pool, Dask LocalCluster)."""
import numpy as np
import pytest

from liqrisk.batch import DaskExecutor, LocalExecutor, ProcessExecutor
from liqrisk.cascade import scenario_from_dict
from liqrisk.cascade.sweep import sweep
from liqrisk.cascade.synthetic import SyntheticSpec, synthetic_population


@pytest.fixture(scope="module")
def case():
    pop = synthetic_population(SyntheticSpec(n_accounts=2000, seed=4, reference_accounts=2000))
    sc = scenario_from_dict({"assets": {"BTC": {"price": 91250, "vol": 0.55}, "ETH": {"price": 3050, "vol": 0.7}},
                             "shock": {"kind": "linear", "steps": 8, "moves": {"BTC": -0.1},
                                       "noise": {"vol": 0.003, "correlation": 0.8, "seed": 3}},
                             "impact": {"model": "sqrt", "resilience": 0.1}, "insurance_fund_usd": 1e6})
    return pop, sc


def test_local_process_and_dask_give_identical_results(case):
    from dask.distributed import Client, LocalCluster
    pop, sc = case
    args = (pop, sc, "BTC", [-0.04, -0.08, -0.12], [0.5, 2.0])
    local = sweep(*args, executor=LocalExecutor(), chunk_size=2).rows
    with ProcessExecutor(2) as ex:
        proc = sweep(*args, executor=ex, chunk_size=4).rows
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        dask = sweep(*args, executor=DaskExecutor(client=client), chunk_size=3).rows
    assert local.shape == (6, 9)
    np.testing.assert_array_equal(local, proc)
    np.testing.assert_array_equal(local, dask)
    liq = local[:, 2].reshape(3, 2)
    assert (np.diff(liq, axis=0) >= 0).all()          # deeper moves liquidate more


def test_analyze_gives_identical_results_on_every_engine():
    """Chunks of 3 accounts of the multi-venue example, with probabilities: local, a process
    pool and a 2-worker Dask LocalCluster started here give the same document."""
    from dask.distributed import LocalCluster
    from liqrisk.analysis import ProbabilitySettings, analyze
    kw = dict(probability=ProbabilitySettings(["1d"], paths=1000, seed=3), chunk_accounts=3)
    local = analyze("examples/multi_venue.yaml", **kw).to_dict()
    whole = analyze("examples/multi_venue.yaml", **(kw | {"chunk_accounts": 500})).to_dict()
    proc = analyze("examples/multi_venue.yaml", engine="process", **kw).to_dict()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = analyze("examples/multi_venue.yaml", engine="dask", scheduler=cluster.scheduler_address,
                       **kw).to_dict()
    assert len(local["accounts"]) == 8 and "probability" in local["accounts"][0]
    assert local == proc == dask
    assert local["accounts"] == whole["accounts"]


def test_an_unreachable_scheduler_is_a_clear_input_error():
    from typer.testing import CliRunner
    from liqrisk.cli import app
    out = CliRunner().invoke(app, ["analyze", "examples/multi_venue.yaml", "--engine", "dask",
                                   "--scheduler", "tcp://127.0.0.1:9"])
    assert out.exit_code == 2 and "cannot reach the Dask scheduler" in out.output
    assert "Traceback" not in out.output
    bad = CliRunner().invoke(app, ["analyze", "examples/multi_venue.yaml", "--engine", "spark"])
    assert bad.exit_code == 2 and "--engine" in bad.output


def _square(x):
    return x * x


def test_chunks_are_taken_lazily_with_a_bounded_window():
    """imap_chunks draws a chunk only when the window has room: a book streams in bounded memory."""
    drawn = []

    def chunks(n):
        for k in range(n):
            drawn.append(k)
            yield k

    it = LocalExecutor().imap_chunks(_square, chunks(50))
    assert next(it) == 0 and drawn == [0]
    with ProcessExecutor(2) as ex:
        drawn.clear()
        it = ex.imap_chunks(_square, chunks(50))
        assert next(it) == 0 and len(drawn) == ex.window == 4
        assert list(it) == [k * k for k in range(1, 50)]

