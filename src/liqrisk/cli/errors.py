"""Bad input → one line per problem on stderr and exit status 2; never a traceback."""
from __future__ import annotations

import contextlib
import sys

import typer


@contextlib.contextmanager
def fail_on_bad_input():
    """Turn the project's input errors (and file errors) into exit status 2."""
    from liqrisk.dynamics.ohlc import DataError
    from liqrisk.io.portfolio import InputError
    from liqrisk.liquidity.book import BookError
    try:
        yield
    except InputError as e:
        for line in e.problems:
            sys.stderr.write(f"error: {line}\n")
        raise typer.Exit(2)
    except (DataError, BookError, FileNotFoundError, ValueError) as e:
        sys.stderr.write(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}\n")
        raise typer.Exit(2)
