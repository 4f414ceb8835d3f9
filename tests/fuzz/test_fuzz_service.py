"""Fuzzing the REST service with mutated portfolio documents, what-if changes, scenarios and query
options: every request answers 2xx with a strict-JSON document whose numbers pass the checks of
``harness.py`` (a cascade job: its result), or 4xx naming a field path, within a time limit;
never a 5xx or an exception.

Budget: LIQRISK_FUZZ_SERVICE_EXAMPLES requests per route (default 10, deterministic: derandomized);
``python tests/fuzz/campaign.py --service N`` for a campaign.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402
import mutators as M  # noqa: E402

N = int(os.environ.get("LIQRISK_FUZZ_SERVICE_EXAMPLES", "10"))
TIME_LIMIT_S = float(os.environ.get("LIQRISK_FUZZ_TIME_LIMIT_S", "300"))   # a hang, not a loaded machine
FUZZ = settings(max_examples=N, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def _assert_good(case) -> None:
    kind, req = case
    category, detail, _ = harness.run_service(req, TIME_LIMIT_S)
    assert category in ("ok", "rejected"), f"{category}: {detail} ({req['path']} {req['params']} " \
                                           f"body {req['body'][:300]!r})"


@pytest.mark.parametrize("route", ["analyze", "what-if", "advise", "cascade"])
def test_fuzz_service(route):
    FUZZ(given(M.service_request(route))(_assert_good))()


@pytest.mark.parametrize("path, params, body, expected", [
    ("/v1/analyze", [("paths", "200")], b"\x8c{}", "rejected"),
    ("/v1/analyze", [("stress", "nan")], None, "rejected"),
    ("/v1/what-if", [], b'{"portfolio": {}, "add": ["a:b:c"]}', "rejected"),
])
def test_the_classifier_on_known_answers(path, params, body, expected):
    """The harness itself: a non-UTF-8 body, a NaN query option and a bad change are located 4xx."""
    body = body if body is not None else M.json_body(M.service_portfolio_seeds()[0])
    assert harness.run_service({"method": "POST", "path": path, "params": params, "body": body}, 120)[0] == expected


def test_a_4xx_naming_no_field_is_wrong():
    class Res:
        status_code = 422

        def json(self):
            return {"detail": [{"loc": ["body"], "msg": "bad input", "type": "value_error"}]}
    assert harness._classify_4xx(Res())[0] == "wrong"
    Res.json = lambda self: {"detail": [{"loc": ["body", "add", 0], "msg": "add[0] 'x': bad", "type": "value_error"}]}
    assert harness._classify_4xx(Res())[0] == "rejected"
