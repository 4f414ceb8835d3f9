"""`liqrisk serve`: the REST API and the dashboard (the ``web`` extra: FastAPI + uvicorn)."""
from __future__ import annotations

import ipaddress
import os

import typer

from liqrisk.cli._app import app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST", help="address to bind (anything but loopback needs an API key)"),
    port: int = typer.Option(8000, "--port", min=0, max=65535),
    database_url: str = typer.Option(None, "--database-url", metavar="URL", help="SQLite file path or URL, or "
                                     "postgresql+psycopg://user@host/db (default ~/.liqrisk/liqrisk.db, "
                                     "or env LIQRISK_DATABASE_URL)"),
    api_key: str = typer.Option(None, "--api-key", metavar="KEY", envvar="LIQRISK_API_KEY",
                                help="required on every route but /healthz (env LIQRISK_API_KEY)"),
    max_paths: int = typer.Option(200_000, "--max-paths", min=100, help="Monte Carlo paths a request may ask for"),
) -> None:
    """Serve the API (/v1/…, /openapi.json, /healthz) and the dashboard at /."""
    try:
        import uvicorn
        from liqrisk.service import create_app
        from liqrisk.service.limits import Limits
        from liqrisk.service.store import default_url
    except ImportError as e:
        typer.echo(f"error: liqrisk serve needs the web extra (pip install 'liqrisk[web]'): {e}", err=True)
        raise typer.Exit(2) from None
    if not is_loopback(host) and not api_key:
        typer.echo(f"error: --host {host} is not loopback: give --api-key KEY (or env LIQRISK_API_KEY)", err=True)
        raise typer.Exit(2)
    url = database_url or default_url()
    typer.echo(f"liqrisk serving on http://{host}:{port}/ (database {url.split('@')[-1]})", err=True)
    uvicorn.run(create_app(url, api_key, Limits(paths=max_paths), warm_up=True), host=host, port=port,
                log_level=os.environ.get("LIQRISK_LOG_LEVEL", "warning"))
