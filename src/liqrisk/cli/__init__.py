"""The `liqrisk` command line. Each command lives in its own module and only parses arguments
and renders a result object; nothing is computed here."""
from liqrisk.cli._app import app


def main() -> None:
    """Console-script entry point."""
    app()
