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
