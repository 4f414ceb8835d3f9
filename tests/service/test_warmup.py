"""The service loads the compiled kernels at startup and /healthz says where that stands."""
from __future__ import annotations

from fastapi.testclient import TestClient

from liqrisk.service import create_app
from liqrisk.service import warmup as W


def test_warm_up_runs_one_analysis_at_startup_and_healthz_reports_it(tmp_path):
    with TestClient(create_app(f"sqlite:///{tmp_path / 'w.db'}", warm_up=True)) as c:
        c.app.state.warmup.join(600)
        body = c.get("/healthz").json()
        assert body["status"] == "ok"
        assert body["kernels"] == "ready", body
        assert body["warmup_seconds"] > 0


def test_a_failed_warm_up_is_reported_and_the_service_still_answers(tmp_path, monkeypatch):
    import liqrisk.analysis as analysis

    def broken(*_, **__):
        raise RuntimeError("no kernels here")
    monkeypatch.setattr(analysis, "analyze", broken)
    with TestClient(create_app(f"sqlite:///{tmp_path / 'w.db'}", warm_up=True)) as c:
        c.app.state.warmup.join(60)
        r = c.get("/healthz")
        assert r.status_code == 200
        assert r.json()["kernels"] == "failed: RuntimeError: no kernels here"


def test_without_warm_up_healthz_has_no_kernel_state(tmp_path):
    with TestClient(create_app(f"sqlite:///{tmp_path / 'w.db'}")) as c:
        assert "kernels" not in c.get("/healthz").json()


def test_the_warm_up_portfolio_is_a_valid_input():
    from liqrisk.load import parse_portfolio
    assert len(parse_portfolio(W.PORTFOLIO).accounts) == 2
