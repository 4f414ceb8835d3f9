"""The REST API and the dashboard (FastAPI). Every route only validates, calls the engine's
public functions (:func:`liqrisk.analysis.analyze`, the cascade runner) and stores what it did;
responses are the same documents as the CLI's ``--json``.

Errors: bad input → 422 whose ``detail`` lines name the field path (the portfolio validator's
own lines: account, position, field); a limit → 413/422/429 saying which; no API key → 401.
"""
from __future__ import annotations

import hmac
import json
from contextlib import asynccontextmanager
from datetime import date, datetime
from importlib.resources import files
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs

import yaml
from fastapi import Body, Depends, FastAPI, HTTPException, Path as PathParam, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from liqrisk.analysis import (MODEL_ALIASES, MODEL_NAMES, MODELS, RANGE_PATHS, ExitSettings, ProbabilitySettings,
                              analyze_document, fhs_tails_problem, model_problem)
from liqrisk.dynamics.fhs import DEFAULT_TAILS, TAILS
from liqrisk.io.limits import (DRIFT_MAX, EXIT_HORIZON_MAX_HOURS, PARTICIPATION_MIN, STRESS_MAX, STRESS_MIN,
                               drift_problem,
                               exit_horizon_problem, participation_problem, stress_problem)
from liqrisk.io.portfolio import InputError, PortfolioFile
from liqrisk.load import parse_portfolio
from liqrisk.results.base import plain
from liqrisk.service.jobs import Jobs
from liqrisk.service.limits import LimitError, Limits
from liqrisk.service.store import Store
from liqrisk.service.warmup import Warmup

STATIC = Path(__file__).with_name("static")
PLOTLY_JS = files("plotly") / "package_data" / "plotly.min.js"
DEMO = Path(__file__).resolve().parents[1] / "data" / "multi_venue.yaml"   # package data (examples/ links to it)
PUBLIC = ("/healthz",)
ADVISE_EVALUATIONS = 40   # engine runs per account an advice may take (the run-time budget counts them)
Id = Annotated[int, PathParam(ge=1, le=2 ** 31 - 1, description="database id")]
COOKIE = "liqrisk_api_key"
MODEL_QUERY = Query("auto", description="path model, as `liqrisk analyze --model`: auto (the calibrated default) | "
                    "gbm | merton | student (= student_t) | fhs (= garch_fhs)",
                    json_schema_extra={"enum": list(MODEL_NAMES)})
"""The ``model`` of every route that estimates a probability. The CLI's rule checks it
(:func:`option_problems`), not a pydantic type: the schema's enum only documents it."""
FHS_TAILS_QUERY = Query(DEFAULT_TAILS, description=(
    "fhs shocks' tails, as `liqrisk analyze --fhs-tails`: gpd (generalized Pareto beyond the 10%/90% residual "
    "quantiles, McNeil & Frey 2000) | empirical (plain FHS: the historical residuals only)"),
    json_schema_extra={"enum": list(TAILS)})
"""The ``fhs_tails`` of every route that estimates a probability: like :data:`MODEL_QUERY`,
checked by the CLI's rule (:func:`liqrisk.analysis.fhs_tails_problem`)."""


def option_lines(model: str | None = None, participation: float | None = None,
                 stress: float | None = None, drift: float | None = None,
                 exit_horizon_hours: float | None = None, fhs_tails: str | None = None) -> list[dict]:
    """The CLI's rules of ``--model``, ``--fhs-tails``, ``--participation``, ``--stress``,
    ``--drift`` and ``--exit-horizon-hours`` (:func:`liqrisk.analysis.model_problem`,
    :func:`liqrisk.analysis.fhs_tails_problem`, the ``*_problem`` functions of
    :mod:`liqrisk.io.limits`) on the query options given: one error per refused option at
    ``["query", name]``, the CLI's line without the flag's dashes."""
    lines = []
    if model is not None and (problem := model_problem(model)):
        lines.append(("model", f"model '{model}': {problem}"))
    if fhs_tails is not None and (problem := fhs_tails_problem(fhs_tails)):
        lines.append(("fhs_tails", f"fhs_tails {fhs_tails}: {problem}"))
    for name, value, rule in (("drift", drift, drift_problem),
                              ("exit_horizon_hours", exit_horizon_hours, exit_horizon_problem),
                              ("participation", participation, participation_problem),
                              ("stress", stress, stress_problem)):
        if value is not None and (problem := rule(value)):
            lines.append((name, f"{name} {value:g}: {problem}"))
    return [{"loc": ("query", name), "msg": msg, "type": "value_error"} for name, msg in lines]


def horizon_lines(horizons: list[str]) -> list[dict]:
    """The CLI's rule of ``--horizon`` (:func:`liqrisk.analysis.parse_horizon`) on each horizon
    given: one error per refused one at ``["query", "horizon"]`` (they were at ``["body"]``)."""
    from liqrisk.analysis import parse_horizon
    lines = []
    for h in horizons:
        try:
            parse_horizon(h)
        except InputError as e:
            lines += [{"loc": ("query", "horizon"), "msg": msg, "type": "value_error"} for msg in e.problems]
    return lines


def target_lines(target: str):
    """(the parsed ``target`` of /v1/advise, []) or (None, its problems at ``["query", "target"]``,
    the CLI's lines without the flag's dashes)."""
    from liqrisk.advise.targets import Target
    try:
        return Target.parse(target), []
    except InputError as e:
        return None, [{"loc": ("query", "target"), "msg": msg.removeprefix("--"), "type": "value_error"}
                      for msg in e.problems]


def option_problems(**options) -> None:
    """A 422 with :func:`option_lines` of the options, if any. Where pydantic refuses another
    part of the request first (this check is then not reached), the error handler adds these
    lines from the raw query (:func:`shared_rule_errors`), so every problem is reported at once."""
    if lines := option_lines(**options):
        raise RequestValidationError(lines)


def _query_names(dependant) -> set[str]:
    """The query parameters of a route (its own and its dependencies')."""
    return {q.alias for q in dependant.query_params}.union(*(_query_names(d) for d in dependant.dependencies))


def shared_rule_errors(request: Request, errors: list[dict]) -> list[dict]:
    """:func:`option_lines` of the options the request's route takes and gives, read from the raw
    query, but for an option pydantic already refused (in ``errors``) or could not read."""
    route = request.scope.get("route")
    names = _query_names(route.dependant) if getattr(route, "dependant", None) else set()
    refused = {tuple(err.get("loc", ())) for err in errors}
    given = {}
    for name in ("model", "fhs_tails", "participation", "stress", "drift", "exit_horizon_hours"):
        raw = request.query_params.get(name)
        if name not in names or raw is None or ("query", name) in refused:
            continue
        try:
            given[name] = raw if name in ("model", "fhs_tails") else float(raw)
        except ValueError:
            continue
    return option_lines(**given)


class AnalyzeOptions:
    """Query parameters of every analysis route (the CLI's options of the same names)."""

    def __init__(
        self,
        horizon: list[str] = Query([], description="probability horizon, e.g. 1d (repeatable); none: margin only"),
        paths: int = Query(20_000, ge=100, description="Monte Carlo paths per account"),
        seed: int = Query(7, ge=0, lt=2 ** 32),
        model: str = MODEL_QUERY,
        fhs_tails: str = FHS_TAILS_QUERY,
        drift: float = Query(0.0, description="annualised expected return",
                             json_schema_extra={"minimum": -DRIFT_MAX, "maximum": DRIFT_MAX}),
        exit_horizon_hours: float = Query(1.0, description="time allowed to exit (hours)",
                                          json_schema_extra={"exclusiveMinimum": 0,
                                                             "maximum": EXIT_HORIZON_MAX_HOURS}),
        participation: float = Query(0.1, description="share of daily volume an exit may take",
                                     json_schema_extra={"minimum": PARTICIPATION_MIN, "maximum": 1}),
        stress: float = Query(1.0, description="spread/depth stress multiplier (1 = today's book)",
                              json_schema_extra={"minimum": STRESS_MIN, "maximum": STRESS_MAX}),
        range_paths: int | None = Query(None, ge=0, description=(
            "paths of each other model in the model range (`risk.model_range`), as `liqrisk analyze "
            "--range-paths`: default min(paths, 4000); 0: no range. /v1/analyze and portfolio runs; "
            "what-if, like the CLI's, runs no range")),
        curves: bool = Query(False, description="add equity/MM-vs-price curves per account (dashboard)"),
    ):
        self.problems = option_lines(model, participation, stress, drift, exit_horizon_hours, fhs_tails) + \
            horizon_lines(horizon)                                                 # the CLI's rules
        model = MODEL_ALIASES.get(model, model)
        self.horizon, self.paths, self.seed, self.model, self.drift = horizon, paths, seed, model, drift
        self.fhs_tails = fhs_tails
        self.exit_horizon_hours, self.participation, self.stress, self.curves = \
            exit_horizon_hours, participation, stress, curves
        self.range_paths = range_paths

    def range_paths_run(self) -> int:
        """Paths each other model of the range runs (the CLI's default: min(paths, RANGE_PATHS))."""
        return min(self.paths, RANGE_PATHS) if self.range_paths is None else self.range_paths

    def check(self) -> None:
        """A 422 with the refused options (in the route, after pydantic has read the body)."""
        if self.problems:
            raise RequestValidationError(self.problems)

    def to_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k != "problems"}


class PortfolioIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    document: dict


class PortfolioPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    document: dict | None = None


class TopUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str = Field(min_length=1, max_length=200)
    asset: str = Field(min_length=1, max_length=40, description="a collateral currency or an isolated position's symbol")
    amount: float = Field(gt=0, lt=1e15)


class WhatIfIn(BaseModel):
    """The changes of ``liqrisk what-if`` (liqrisk.advise.changes); ``"*"`` in ``shock``/``vol``
    stands for every underlying of the market block."""

    model_config = ConfigDict(extra="forbid")
    portfolio: dict
    shock: dict[str, float] = Field(default_factory=dict, description="underlying → relative move (−0.1 = −10 %)")
    vol: dict[str, float] = Field(default_factory=dict, description="underlying → absolute vol shift (+0.2)")
    time: str | None = Field(default=None, max_length=20, description="time passing, e.g. 3d")
    funding: dict[str, float] = Field(default_factory=dict, description="underlying → funding rate per 8 h, "
                                      "settled over ``time`` (0.0001 = 0.01 %)")
    topup: list[TopUpIn] = Field(default_factory=list, max_length=100)
    add: list[str] = Field(default_factory=list, max_length=100, description="ACCOUNT:SYMBOL:SIZE[@ENTRY]")
    reduce: list[str] = Field(default_factory=list, max_length=100, description="ACCOUNT:SYMBOL:FRACTION")


def _every(moves: dict[str, float], doc: dict, vol_only: bool = False) -> dict[str, float]:
    """Expand ``"*"`` to the underlyings of the market block (those with a vol, for vol shifts)."""
    if "*" not in moves:
        return moves
    market = doc.get("market") if isinstance(doc.get("market"), dict) else {}
    names = [k for k, b in market.items() if isinstance(b, dict)
             and (not vol_only or any(key in b for key in ("vol", "term", "smile")))]
    return {**{n.upper(): moves["*"] for n in names}, **{k: v for k, v in moves.items() if k != "*"}}


_CHANGE_FLAGS = ("--shock", "--vol", "--time", "--topup", "--add", "--reduce", "--funding")


def _change_field(line: str, body: WhatIfIn) -> tuple[list, str]:
    """(loc, message) of a problem of the what-if changes: the changes parser and ``apply`` name
    the CLI flag (``--add 'a:BTCUSDT:x' size: …``); here the body field and, for a list, the item
    (``add[0] 'a:BTCUSDT:x' size: …`` at ``["body", "add", 0]``)."""
    flag = next((f for f in _CHANGE_FLAGS if line.startswith(f) and line[len(f):len(f) + 1] in (" ", ":", "")), None)
    if flag is None:
        return ["body"], line
    name, rest = flag[2:], line[len(flag):]
    items = getattr(body, name)
    if isinstance(items, list):
        hits = [i for i, x in enumerate(items) if isinstance(x, str) and rest.lstrip(" :").startswith(f"'{x}'")]
        if len(hits) == 1 or len(items) == 1:
            i = hits[0] if hits else 0
            return ["body", name, i], f"{name}[{i}]{rest}"
    return ["body", name], f"{name}{rest}"


def run_analysis(doc: dict, opts: AnalyzeOptions, limits: Limits) -> dict:
    """Validate, check the cost, analyse: the CLI's ``analyze --json`` document (+ ``curves``)."""
    opts.check()
    limits.check_portfolio(doc)
    pf = parse_portfolio(doc)
    if opts.horizon and opts.range_paths_run() > limits.paths:
        raise LimitError("range_paths", f"{opts.range_paths:,} paths; at most {limits.paths:,}")
    others = len(MODELS) - 1                     # the most models a range adds
    limits.check_probability(opts.horizon, opts.paths, len(pf.accounts), extra_paths=others * opts.range_paths_run())
    prob = (ProbabilitySettings(list(opts.horizon), opts.paths, opts.seed, opts.model, opts.drift,
                                range_paths=opts.range_paths, fhs_tails=opts.fhs_tails) if opts.horizon else None)
    result, data = analyze_document(pf, prob, ExitSettings(horizon_hours=opts.exit_horizon_hours,
                                                            participation=opts.participation, stress=opts.stress),
                                    curves=opts.curves)    # data: checked (report/guards.py)
    if opts.curves:
        data["curves"] = plain(result.curves)
    return data


def json_document(raw):
    """A decoded YAML document as JSON values (YAML timestamps → ISO 8601 strings)."""
    if isinstance(raw, dict):
        return {str(k): json_document(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [json_document(v) for v in raw]
    if isinstance(raw, (datetime, date)):
        return raw.isoformat().replace("+00:00", "Z")
    return raw


def _detail(status: int, lines: list[tuple[list, str]]) -> JSONResponse:
    return JSONResponse({"detail": [{"loc": loc, "msg": msg, "type": "value_error"} for loc, msg in lines]},
                        status_code=status)


PARSED_BODY = "liqrisk.json_body"
"""Scope key of the JSON body the :class:`Guard` decoded: the routes read it (:class:`_ParsedBodyRoute`)
instead of decoding the bytes a second time."""


def read_body(body: bytes, max_depth: int):
    """(the decoded JSON request body, None), or (None, why it cannot be read as one line naming
    ``body``). The portfolio loader's rules for a file (io.documents): UTF-8, JSON, no
    duplicated key (JSON decoders keep the last one silently), bounded nesting. Found by the
    service fuzz target: a non-UTF-8 or deeply nested body was a bare 400 "There was an error
    parsing the body"."""
    from liqrisk.io import limits as io_limits
    from liqrisk.io.documents import DocumentError, parse_document
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, f"body: not UTF-8 text (byte {e.start}: {body[e.start:e.start + 1]!r})"
    try:
        with io_limits.using(max_depth=max_depth):
            return parse_document(text, "json", "body"), None
    except DocumentError as e:
        line = str(e).split(" (raise it with")[0]     # the CLI's flag: no such option here
        return None, line if line.startswith("body") else f"body: {line}"


def is_json(content_type: bytes) -> bool:
    """FastAPI's rule for a body it decodes as JSON: ``application/json`` or ``application/*+json``
    (parameters such as ``; charset=utf-8`` aside)."""
    kind = content_type.split(b";")[0].strip().lower()
    return kind == b"application/json" or (kind.startswith(b"application/") and kind.endswith(b"+json"))


class _ParsedBodyRequest(Request):
    async def json(self):
        return self.scope[PARSED_BODY] if PARSED_BODY in self.scope else await super().json()


class _ParsedBodyRoute(APIRoute):
    """A route whose request's ``json()`` is the document the :class:`Guard` decoded."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def parsed(request: Request):
            return await handler(_ParsedBodyRequest(request.scope, request.receive))
        return parsed


class Guard:
    """ASGI middleware: API key on every route but /healthz, the body-size limit (413), and a
    JSON body that is UTF-8, valid JSON without duplicated keys and not nested deeper than
    ``max_depth`` (422 at ``["body"]``), decoded once: the routes read the document from the
    scope (``PARSED_BODY``)."""

    def __init__(self, app, api_key: str | None, max_body: int, max_depth: int = 20):
        self.app, self.api_key, self.max_body, self.max_depth = app, api_key, max_body, max_depth

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if self.api_key and scope["path"] not in PUBLIC and not self._authorised(scope):
            return await JSONResponse({"detail": "missing or wrong API key (header X-API-Key, or "
                                                 "Authorization: Bearer KEY)"}, status_code=401,
                                      headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        too_big = JSONResponse({"detail": f"request body over {self.max_body:,} bytes"}, status_code=413)
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return await too_big(scope, receive, send)
        body, more = b"", True
        while more:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
            if len(body) > self.max_body:
                return await too_big(scope, receive, send)
        if scope["method"] in ("POST", "PUT", "PATCH") and body and is_json(headers.get(b"content-type", b"")):
            doc, problem = read_body(body, self.max_depth)
            if problem:
                return await _detail(422, [(["body"], problem)])(scope, receive, send)
            scope = {**scope, PARSED_BODY: doc}
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _authorised(self, scope) -> bool:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        given = [headers.get("x-api-key", "")]
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given.append(auth[7:].strip())
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                given.append(value)
        if scope["path"] == "/":       # the dashboard link ?api_key=KEY (the page then sets the cookie)
            given += parse_qs(scope.get("query_string", b"").decode("latin-1")).get("api_key", [])
        return any(g and hmac.compare_digest(g.encode(), self.api_key.encode()) for g in given)


def create_app(database_url: str, api_key: str | None = None, limits: Limits = Limits(),
               warm_up: bool = False) -> FastAPI:
    """The service on ``database_url`` (migrated at startup). ``api_key`` None: no key required.
    ``warm_up``: load the compiled kernels on a background thread at startup
    (:mod:`liqrisk.service.warmup`; ``liqrisk serve`` does)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        store = Store(database_url)
        store.migrate()
        store.interrupt_unfinished()
        app.state.store, app.state.jobs = store, Jobs(store, limits)
        app.state.warmup = Warmup() if warm_up else None
        yield
        app.state.jobs.close()
        store.close()

    app = FastAPI(title="liqrisk", version="1", lifespan=lifespan,
                  description="Liquidation risk of crypto portfolios: the `liqrisk analyze --json` document "
                              "over HTTP, saved portfolios and their run history, cascade jobs.")
    app.router.route_class = _ParsedBodyRoute          # before the routes: each reads the Guard's decode
    app.add_middleware(Guard, api_key=api_key, max_body=limits.body_bytes, max_depth=limits.body_depth)
    def store(request: Request) -> Store:
        return request.app.state.store

    @app.exception_handler(InputError)
    async def _input_error(_, e: InputError):
        return _detail(422, [(["body"], line) for line in e.problems])

    @app.exception_handler(LimitError)
    async def _limit_error(_, e: LimitError):
        return _detail(e.status, [(["body" if e.field.split(".")[0] not in ("paths", "horizon", "range_paths") else "query",
                                    *e.field.split(".")], str(e))])

    @app.exception_handler(ValueError)
    async def _value_error(_, e: ValueError):
        field = getattr(e, "field", None)
        return _detail(422, [(["body", *field.split(".")] if field else ["body"], str(e).splitlines()[0] if str(e)
                              else type(e).__name__)])

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, e: RequestValidationError):
        errors = list(e.errors())
        return JSONResponse({"detail": jsonable_encoder(
            [{"loc": list(err.get("loc", [])), "msg": err.get("msg", ""), "type": err.get("type", "")}
             for err in errors + shared_rule_errors(request, errors)])}, status_code=422)

    @app.get("/healthz", tags=["meta"])
    def healthz(request: Request) -> dict:
        s = store(request)
        warm = request.app.state.warmup
        return {"status": "ok", "database": s.engine.dialect.name, **(warm.to_dict() if warm else {})}

    @app.get("/", include_in_schema=False)
    def dashboard(request: Request, api_key: str | None = None):
        resp = FileResponse(STATIC / "index.html")
        if api_key:
            resp.set_cookie(COOKIE, api_key, httponly=True, samesite="strict")
        return resp

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js():
        return FileResponse(str(PLOTLY_JS), media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")   # after plotly_js: it wins

    portfolio_body = Body(..., description="the portfolio document (the input file's schema, as JSON)")

    @app.post("/v1/analyze", tags=["analysis"], openapi_extra=_doc_body("PortfolioFile"))
    def analyze_route(request: Request, doc: dict = portfolio_body, opts: AnalyzeOptions = Depends()) -> dict:
        """Margin, liquidation boundaries, probabilities and exit cost per account."""
        data = run_analysis(doc, opts, limits)
        store(request).add_run("analyze", doc, opts.to_dict(), data)
        return data

    @app.post("/v1/what-if", tags=["analysis"])
    def what_if_route(request: Request, body: WhatIfIn, opts: AnalyzeOptions = Depends()) -> dict:
        """Before and after the changes, by :func:`liqrisk.advise.whatif.what_if` (the document of
        ``liqrisk what-if --json``: ``changes``, ``accounts`` side by side, ``before``, ``after``)."""
        from liqrisk.advise.changes import TopUp
        from liqrisk.advise.whatif import what_if
        opts.check()
        doc = body.portfolio
        limits.check_portfolio(doc)
        pf = parse_portfolio(doc)
        limits.check_probability(opts.horizon, opts.paths, 2 * len(pf.accounts))
        try:
            result = what_if(pf, shock=_every(body.shock, doc), vol=_every(body.vol, doc, vol_only=True),
                             time=body.time, add=body.add, reduce=body.reduce, funding=_every(body.funding, doc),
                             topup=[TopUp(t.account, t.asset.upper(), t.amount) for t in body.topup],
                             horizons=list(opts.horizon) or None, paths=opts.paths, seed=opts.seed, model=opts.model,
                             fhs_tails=opts.fhs_tails)
        except InputError as e:
            return _detail(422, [_change_field(line, body) for line in e.problems])
        data = result.to_dict()
        store(request).add_run("what-if", body.model_dump(), opts.to_dict(), data)
        return data

    @app.post("/v1/advise", tags=["analysis"], openapi_extra=_doc_body("PortfolioFile"))
    def advise_route(request: Request, doc: dict = portfolio_body,
                     target: str = Query(..., max_length=40, description="e.g. p(7d)<=1% or distance>=3sd"),
                     paths: int = Query(2_000, ge=100), seed: int = Query(7, ge=0, lt=2 ** 32),
                     model: str = MODEL_QUERY, fhs_tails: str = FHS_TAILS_QUERY) -> dict:
        """Top-ups, deleveraging and hedges that meet the target, cheapest first, by
        :func:`liqrisk.advise.advice.advise` (the document of ``liqrisk advise --json``)."""
        from liqrisk.advise.advice import advise
        t, problems = target_lines(target)
        if problems := option_lines(model=model, fhs_tails=fhs_tails) + problems:
            raise RequestValidationError(problems)
        model = MODEL_ALIASES.get(model, model)
        limits.check_portfolio(doc)
        pf = parse_portfolio(doc)
        if t.kind == "probability":
            limits.check_probability([t.horizon], paths, ADVISE_EVALUATIONS * len(pf.accounts))
        data = advise(pf, target, paths=paths, seed=seed, model=model, fhs_tails=fhs_tails).to_dict()
        store(request).add_run("advise", doc, {"target": target, "paths": paths, "seed": seed, "model": model,
                                               "fhs_tails": fhs_tails}, data)
        return data

    @app.get("/v1/demo", tags=["portfolios"])
    def demo_route() -> dict:
        """The demo portfolio (examples/multi_venue.yaml, shipped in the package as
        liqrisk/data/multi_venue.yaml) as a document."""
        return json_document(yaml.safe_load(DEMO.read_text()))

    @app.post("/v1/parse", tags=["portfolios"])
    async def parse_route(request: Request) -> dict:
        """A YAML or JSON portfolio file's text → the validated JSON document (for uploads).
        Decoded as the CLI reads a file (io.documents): UTF-8, no duplicated key, nesting and
        alias expansion bounded — ``yaml.safe_load`` here answered a deeply nested text with a
        RecursionError (500) and expanded a 300-byte alias bomb to millions of nodes."""
        from liqrisk.io import limits as io_limits
        from liqrisk.io.documents import DocumentError, parse_document
        body = await request.body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError([f"file: not UTF-8 text (byte {e.start}: {body[e.start:e.start + 1]!r})"]) from None
        try:
            with io_limits.using(max_depth=limits.body_depth):
                raw = parse_document(text, "yaml", "file")
        except DocumentError as e:
            raise InputError([str(e).split(" (raise it with")[0]]) from None
        doc = json_document(raw)
        limits.check_portfolio(doc)
        parse_portfolio(doc)
        return doc

    # saved portfolios
    @app.get("/v1/portfolios", tags=["portfolios"])
    def list_portfolios(request: Request) -> list[dict]:
        return [p.to_dict(document=False) for p in store(request).portfolios()]

    @app.post("/v1/portfolios", status_code=201, tags=["portfolios"])
    def create_portfolio(request: Request, body: PortfolioIn) -> dict:
        limits.check_portfolio(body.document)
        parse_portfolio(body.document)
        return store(request).add_portfolio(body.name, body.document).to_dict()

    def _portfolio(request: Request, pid: Id):
        p = store(request).portfolio(pid)
        if p is None:
            raise HTTPException(404, f"no portfolio {pid}")
        return p

    @app.get("/v1/portfolios/{pid}", tags=["portfolios"])
    def get_portfolio(request: Request, pid: Id) -> dict:
        return _portfolio(request, pid).to_dict()

    @app.put("/v1/portfolios/{pid}", tags=["portfolios"])
    def update_portfolio(request: Request, pid: Id, body: PortfolioPatch) -> dict:
        _portfolio(request, pid)
        if body.document is not None:
            limits.check_portfolio(body.document)
            parse_portfolio(body.document)
        return store(request).update_portfolio(pid, body.name, body.document).to_dict()

    @app.delete("/v1/portfolios/{pid}", status_code=204, tags=["portfolios"])
    def delete_portfolio(request: Request, pid: Id) -> None:
        if not store(request).delete_portfolio(pid):
            raise HTTPException(404, f"no portfolio {pid}")

    @app.post("/v1/portfolios/{pid}/runs", tags=["portfolios"])
    def run_portfolio(request: Request, pid: Id, opts: AnalyzeOptions = Depends()) -> JSONResponse:
        """Analyse the saved portfolio and store the run (its id in the ``Location`` header)."""
        p = _portfolio(request, pid)
        data = run_analysis(p.document, opts, limits)
        run = store(request).add_run("analyze", p.document, opts.to_dict(), data, portfolio_id=pid)
        return JSONResponse(data, headers={"Location": f"/v1/runs/{run.id}"})

    @app.get("/v1/portfolios/{pid}/runs", tags=["portfolios"])
    def portfolio_runs(request: Request, pid: Id, limit: int = Query(100, ge=1, le=1000)) -> list[dict]:
        """Newest first, each with ``summary``: account → horizon → P(liquidation)."""
        _portfolio(request, pid)
        return [{**r.to_dict(full=False), "summary": summary(r.result)}
                for r in store(request).runs(portfolio_id=pid, limit=limit)]

    @app.get("/v1/runs/{rid}", tags=["portfolios"])
    def get_run(request: Request, rid: Id) -> dict:
        r = store(request).run(rid)
        if r is None:
            raise HTTPException(404, f"no run {rid}")
        return r.to_dict()

    @app.get("/v1/alerts", tags=["portfolios"])
    def alerts(request: Request, portfolio_id: int | None = Query(None, ge=0, lt=2 ** 31)) -> list[dict]:
        return [a.to_dict() for a in store(request).alerts(portfolio_id)]

    # cascade jobs
    @app.post("/v1/cascade", status_code=202, tags=["cascade"])
    def cascade_route(request: Request, scenario: dict = Body(..., description=(
            "a cascade scenario document (the scenario file's schema as JSON) with a synthetic population"))) -> dict:
        rid = request.app.state.jobs.submit(scenario)
        return {"id": rid, "status": "queued", "url": f"/v1/jobs/{rid}"}

    @app.get("/v1/jobs/{rid}", tags=["cascade"])
    def job(request: Request, rid: Id) -> dict:
        """``status`` queued | running | done | failed | cancelled, ``progress`` 0…1, ``result``."""
        r = store(request).run(rid)
        if r is None or r.kind != "cascade":
            raise HTTPException(404, f"no job {rid}")
        return r.to_dict()

    @app.delete("/v1/jobs/{rid}", tags=["cascade"])
    def cancel_job(request: Request, rid: Id) -> dict:
        if not request.app.state.jobs.cancel(rid):
            raise HTTPException(404, f"no job {rid}")
        return store(request).run(rid).to_dict(full=False)

    app.openapi = lambda: _openapi(app)
    return app


def summary(result: dict | None) -> dict:
    """account id → horizon → P(liquidation) of one analysis document."""
    out = {}
    for a in (result or {}).get("accounts", []):
        out[a["id"]] = {h: b.get("p") for h, b in (a.get("probability") or {}).items()}
    return out


def _doc_body(name: str) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{name}"}}}}}


def _openapi(app: FastAPI) -> dict:
    """FastAPI's schema plus the portfolio document's schema (from the validator's own model)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    doc = PortfolioFile.model_json_schema(ref_template="#/components/schemas/{model}")
    comps = schema.setdefault("components", {}).setdefault("schemas", {})
    comps.update(doc.pop("$defs", {}))
    comps["PortfolioFile"] = doc
    app.openapi_schema = json.loads(json.dumps(schema))
    return app.openapi_schema
