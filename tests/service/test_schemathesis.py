"""Property-based API test: schemathesis generates requests from /openapi.json (the portfolio
document's schema included) and every answer must be a non-5xx. Bounded: a few examples per
operation, small Monte Carlo budgets (limits below), no shrinking-time deadline."""
from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

from liqrisk.service import create_app
from liqrisk.service.limits import Limits

EXAMPLES = 12
LIMITS = Limits(accounts=4, positions=8, paths=2_000, path_steps=2e6, horizons=2, cascade_accounts=300,
                cascade_steps=20, sweep_points=4, job_seconds=20, jobs_queued=2)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    application = create_app(str(tmp_path_factory.mktemp("st") / "st.db"), limits=LIMITS)
    with TestClient(application):          # runs the lifespan (migrations, job queue)
        yield application


def test_no_server_errors(app):
    """Every operation of the schema, a bounded number of generated cases each."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    failures, calls = [], []
    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def check(case):
            calls.append(op.path)
            try:
                case.call_and_validate(checks=[not_a_server_error])
            except Exception as e:  # collect every operation's failure, then report them together
                failures.append(f"{op.method.upper()} {op.path}: {str(e).splitlines()[0][:300]}")
                raise
        try:
            check()
        except Exception:
            pass
    assert not failures, "\n".join(failures)
    assert len(calls) >= 5 * len(operations)
