"""Issue 13's done-means: `liqrisk serve` on a fresh clone shows the dashboard on the demo data
with nothing else to install — checked on the package as it installs, not on this source tree.

The fixture clones this checkout (``git clone``: the committed tree, what a fresh clone gets),
builds an sdist from the clone (``python -m build --sdist``) and the wheel from that sdist
(``pip wheel``), each in an isolated build environment with the build requirements of
pyproject.toml (as a release is built) — so a file missing from the sdist
or from the package data is missing from the install — deletes the clone, and installs the wheel
with ``--no-deps`` into a new virtual environment. The dependencies are not downloaded again (a
full install of numpy, scipy, numba, fastapi … would take minutes of network and CPU for
nothing this test checks): a ``.pth`` line puts the test interpreter's site-packages *after* the
new environment's own, so ``liqrisk`` is imported from the wheel and everything else from the
shared environment; the first test checks that the import comes from the wheel. The server runs
as the wheel's ``liqrisk`` console script, without PYTHONPATH, from an empty folder, with a new
HOME (its default database, ``~/.liqrisk/liqrisk.db``, is created there): nothing of the source
tree is on its path. Its numba kernels compile from scratch (1–3 min of CPU, longer on a loaded
machine), as on a user's first run.

Found by it: ``GET /v1/demo`` (the dashboard's Demo button) read ``examples/multi_venue.yaml``
relative to the source tree, so an installed server answered 404 "no demo portfolio in this
installation"; the demo now ships as package data (``liqrisk/data/multi_venue.yaml``;
``examples/multi_venue.yaml`` links to it)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import time
from importlib.resources import files
from pathlib import Path

import httpx
import pytest
import yaml

from liqrisk.service.loopback import free_port

from .conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 600        # s: isolated sdist and wheel builds (each fetches setuptools and wheel)
START_TIMEOUT = 180        # s: the server's imports, before /healthz answers
ANALYSIS_TIMEOUT = 1200    # s: the first analysis compiles every kernel of the fresh install


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout[-3000:]}\n"
                             f"{done.stderr[-3000:]}")
    return done


def _digests(folder: Path, names) -> dict[str, str]:
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from a fresh clone's sdist, installed in a new venv: a dict with the venv's
    python and liqrisk script, its package folder, the clone's tracked package files (path →
    SHA-256), the clone's demo document, and an environment without PYTHONPATH."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        if IN_CI:
            pytest.fail(f"{ROOT} is not a git checkout (CI runs in a fresh clone)")
        pytest.skip(f"{ROOT} is not a git checkout: nothing to clone")
    work = tmp_path_factory.mktemp("fresh")
    clone, dist, wheels, venv = work / "clone", work / "sdist", work / "wheels", work / "venv"
    _run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)], timeout=BUILD_TIMEOUT)
    tracked = [line.removeprefix("src/liqrisk/") for line in
               _run(["git", "ls-files", "src/liqrisk"], cwd=clone).stdout.splitlines()]
    package_files = _digests(clone / "src" / "liqrisk", tracked)
    static = {name: (clone / "src/liqrisk/service/static" / name).read_bytes()
              for name in ("index.html", "dashboard.js", "dashboard.css")}
    demo = (clone / "examples" / "multi_venue.yaml").read_text()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LIQRISK_DATABASE_URL", "LIQRISK_API_KEY")}
    # the sdist in an isolated build environment from [build-system] (setuptools >= 77), as a release
    _run([sys.executable, "-m", "build", "--sdist", "--outdir", str(dist), str(clone)], cwd=work, env=env,
         timeout=BUILD_TIMEOUT)
    sdist, = (p.name for p in dist.glob("liqrisk-*.tar.gz"))
    shutil.rmtree(clone)                                      # nothing can be read from it now
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(dist / sdist)],
         cwd=work, env=env, timeout=BUILD_TIMEOUT)
    wheel, = wheels.glob("liqrisk-*.whl")
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=120)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
          str(wheel)], cwd=work, env=env, timeout=BUILD_TIMEOUT)
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                        env=env).stdout.strip())
    (purelib / "zz_shared_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run_dir, home = work / "run", work / "home"
    run_dir.mkdir()
    home.mkdir()
    return {"python": python, "liqrisk": venv / "bin" / "liqrisk", "package": purelib / "liqrisk",
            "package_files": package_files, "static": static, "demo": demo, "cwd": run_dir,
            "env": {**env, "HOME": str(home)}, "home": home}


def test_the_installed_package_holds_every_file_of_the_source_package(installed):
    """Every file git tracks under src/liqrisk (modules, bundled market data, margin tables, the
    demo portfolio, Alembic's env.py, script template and revisions, the dashboard's static
    files) is in the installed package with the same bytes, and ``liqrisk`` imports from there."""
    where = _run([str(installed["python"]), "-c", "import liqrisk, liqrisk.service.app as a; "
                  "print(liqrisk.__file__); print(a.DEMO)"], cwd=installed["cwd"], env=installed["env"]).stdout.split()
    assert Path(where[0]).parent == installed["package"] and Path(where[1]).is_relative_to(installed["package"])
    package = installed["package"]
    have = sorted(str(p.relative_to(package)) for p in package.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts)
    want = sorted(installed["package_files"])
    assert set(want) - set(have) == set(), "tracked but not installed (pyproject package-data?)"
    assert set(have) - set(want) == set(), "installed but not tracked"
    assert _digests(package, want) == installed["package_files"]
    for name in ("data/multi_venue.yaml", "data/btcusd_1h_coinbase.csv", "margin/data/venue_defaults.json",
                 "service/migrations/env.py", "service/migrations/script.py.mako",
                 "service/migrations/versions/0001_initial.py", "service/static/index.html"):
        assert name in have, name


@pytest.fixture(scope="module")
def fresh_server(installed):
    """``liqrisk serve --port P`` of the installed wheel, default database (in the new HOME)."""
    port = free_port()
    proc = subprocess.Popen([str(installed["liqrisk"]), "serve", "--port", str(port)], cwd=installed["cwd"],
                            env=installed["env"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    t0 = time.monotonic()
    try:
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise AssertionError("server exited: " + proc.stderr.read().decode()[-3000:])
            if time.monotonic() - t0 > START_TIMEOUT:
                raise AssertionError(f"no answer on /healthz in {START_TIMEOUT} s")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)


def test_the_installed_server_serves_the_dashboard_its_assets_and_the_demo(installed, fresh_server):
    """/, the dashboard's script and style sheet are the clone's files; /static/plotly.min.js is
    the plotly package's bundle (served by the app, nothing fetched from a CDN); /v1/demo is the
    clone's examples/multi_venue.yaml as JSON; the default SQLite database is created in HOME
    and migrated to the newest Alembic revision of the clone."""
    from liqrisk.service.app import json_document
    health = httpx.get(fresh_server + "/healthz").json()
    assert health["status"] == "ok" and health["database"] == "sqlite"
    page = httpx.get(fresh_server + "/")
    assert page.status_code == 200 and page.content == installed["static"]["index.html"]
    assert '<script src="/static/plotly.min.js"></script>' in page.text
    for name in ("dashboard.js", "dashboard.css"):
        r = httpx.get(f"{fresh_server}/static/{name}")
        assert r.status_code == 200 and r.content == installed["static"][name], name
    plotly = httpx.get(fresh_server + "/static/plotly.min.js")
    bundle = (files("plotly") / "package_data" / "plotly.min.js").read_bytes()
    assert plotly.status_code == 200 and plotly.content == bundle
    assert plotly.headers["content-type"].startswith("text/javascript")
    demo = httpx.get(fresh_server + "/v1/demo")
    assert demo.status_code == 200, demo.text
    assert demo.json() == json_document(yaml.safe_load(installed["demo"]))
    db = installed["home"] / ".liqrisk" / "liqrisk.db"
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {"portfolios", "runs", "alerts", "alembic_version"} <= tables
    revisions = sorted(p.name for p in (installed["package"] / "service/migrations/versions").glob("*.py"))
    assert version == [(revisions[-1].split("_")[0],)]


def test_the_installed_dashboard_shows_the_demo_analysis(installed, fresh_server, browser, demo_doc, tmp_path):
    """In Chromium: the Demo button of the installed server's page fills the accounts table; the
    analysis it stored (run 1 of the new database) is, for the options the page sent, the
    document this checkout's engine computes in this process, and the table shows its numbers."""
    from liqrisk.analysis import ExitSettings, ProbabilitySettings, analyze
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(fresh_server + "/")
    page.click("#demo")
    page.wait_for_function("document.getElementById('status').dataset.done || "
                           "document.getElementById('error').textContent", timeout=ANALYSIS_TIMEOUT * 1000)
    assert page.inner_text("#error") == "" and not errors, (page.inner_text("#error"), errors)
    run = httpx.get(fresh_server + "/v1/runs/1").json()
    opts = run["options"]
    assert run["kind"] == "analyze" and run["inputs"] == demo_doc
    assert (opts["horizon"], opts["paths"], opts["model"], opts["seed"]) == (
        page.input_value("#horizons").split(","), int(page.input_value("#paths")), page.input_value("#model"),
        int(page.input_value("#seed")))
    expected = analyze(demo_doc, ProbabilitySettings(opts["horizon"], opts["paths"], opts["seed"], opts["model"],
                                                     opts["drift"], range_paths=opts["range_paths"]),
                       ExitSettings(horizon_hours=opts["exit_horizon_hours"], participation=opts["participation"],
                                    stress=opts["stress"])).to_dict()
    result = {k: v for k, v in run["result"].items() if k != "curves"}
    assert result == json.loads(json.dumps(expected))
    first = opts["horizon"][0]
    shown = {row.get_attribute("data-account"): {td.get_attribute("data-key"): td.get_attribute("data-value")
                                                 for td in row.query_selector_all("td[data-key]")}
             for row in page.query_selector_all("#accounts tbody tr")}
    assert list(shown) == [a["id"] for a in expected["accounts"]]
    for a in expected["accounts"]:
        assert float(shown[a["id"]]["equity"]) == a["equity"]
        assert float(shown[a["id"]]["maintenance_margin"]) == a["maintenance_margin"]
        assert float(shown[a["id"]]["p"]) == a["probability"][first]["p"]
    folder = Path(os.environ.get("LIQRISK_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "fresh_install_demo.png"), full_page=True)
    page.close()
