"""Bad input → one line per problem on stderr and exit status 2; never a traceback. Output
edge: JSON is strict (``null``, never ``NaN``/``Infinity``)."""
from __future__ import annotations

import contextlib
import json
import math
import sys

import typer

MAX_ERROR_LINES = 50    # a huge invalid file prints its first problems and a count, not all


class OutputError(ValueError):
    """A result that fails the output checks (a number the model could not compute)."""


def one_line(text: str) -> str:
    """A message on one line (a library's message may carry newlines: pandas' tokenizer error)."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def print_problems(lines: list[str]) -> None:
    """Each problem once, as ``error: …`` lines (one line each), the first MAX_ERROR_LINES of
    them and a count."""
    unique = list(dict.fromkeys(one_line(line) for line in lines)) or ["bad input"]
    for line in unique[:MAX_ERROR_LINES]:
        sys.stderr.write(f"error: {line}\n")
    if len(unique) > MAX_ERROR_LINES:
        sys.stderr.write(f"error: … and {len(unique) - MAX_ERROR_LINES:,} more problems "
                         f"(the first {MAX_ERROR_LINES} are shown)\n")


@contextlib.contextmanager
def fail_on_bad_input():
    """Turn the project's input errors (and file errors) into exit status 2. Every error class
    of the input layers is a ``ValueError`` (InputError, DocumentError, DataError, BookError,
    ScenarioError, PopulationError, OutputError), so none of their modules — and none of what
    they import — is loaded here."""
    from liqrisk.io.portfolio import InputError
    try:
        yield
    except InputError as e:
        print_problems(e.problems)
        raise typer.Exit(2)
    except (OSError, ValueError) as e:
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        print_problems([text])
        raise typer.Exit(2)


def _first_non_finite(x, path: str = "") -> str | None:
    if isinstance(x, float) and not math.isfinite(x):
        return path or "value"
    items = x.items() if isinstance(x, dict) else enumerate(x) if isinstance(x, (list, tuple)) else ()
    for k, v in items:
        found = _first_non_finite(v, f"{path}.{k}" if isinstance(k, str) else f"{path}[{k}]")
        if found:
            return found
    return None


def strict_json(document, **kwargs) -> str:
    """``json.dumps`` that refuses NaN/Infinity (:class:`OutputError` naming where it is)."""
    try:
        return json.dumps(document, allow_nan=False, **kwargs)
    except ValueError:
        where = _first_non_finite(document) or "a value"
        raise OutputError(f"result check: {where.lstrip('.')} is not a finite number (the input is outside "
                          f"what the model computes; it would be reported as null)") from None
