"""io.documents: an input file's every failure is one line naming the file."""
import sys

import pytest

from liqrisk.io.documents import DocumentError, parse_document


@pytest.mark.parametrize("fmt, text", [("json", '{"a": ' + "9" * 5000 + "}"), ("yaml", "a: " + "9" * 5000 + "\n")])
def test_an_integer_beyond_pythons_digit_limit_names_the_file(fmt, text):
    """Issue 9 (hand probes): from JSON the interpreter's ValueError reached the CLI as "error:
    Exceeds the limit (4300 digits) for integer string conversion: … use
    sys.set_int_max_str_digits() to increase the limit" — no file, advice for programmers."""
    with pytest.raises(DocumentError) as e:
        parse_document(text, fmt, "book.x")
    kind = "JSON" if fmt == "json" else "YAML"
    assert str(e.value) == (f"book.x: not valid {kind}: an integer of more than {sys.get_int_max_str_digits()} "
                            "digits (no field takes such a number)")


def test_an_integer_within_the_limit_reads():
    assert parse_document('{"a": ' + "9" * 400 + "}", "json") == {"a": int("9" * 400)}
