"""What /find matches (bot.core.search): case- and accent-insensitive, in Python, the same on
every database; and the query read back from the message the answer replies to."""

from __future__ import annotations

import pytest

from bot.core.search import MAX_QUERY_LENGTH, clean_query, fold, matches
from bot.handlers.search import query_in, query_problem

CODE = "RR123456785IT"


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Perché", "perche"),
        ("PERCHÉ", "perche"),
        ("perche\u0301", "perche"),  # already decomposed
        ("Città di Castello", "citta di castello"),
        ("Straße", "strasse"),
        ("ﬁore", "fiore"),  # a ligature (NFKD)
        ("İstanbul", "istanbul"),
        ("  due   spazi\n", "due spazi"),
        ("", ""),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_is_idempotent() -> None:
    for text in ("Perché", "ÀÉÎÕÜ ñ ç", "Straße", "ﬁ"):
        assert fold(fold(text)) == fold(text)


@pytest.mark.parametrize(
    ("query", "fields", "expected"),
    [
        ("perche", ("Perché no",), True),
        ("PERCHÉ", ("perche no",), True),
        ("rossi", ("Cliente Rossi", None), True),
        ("bologna", (None, "In transito", "CMP BOLOGNA"), True),
        ("in trans", (None, "In   transito", None), True),
        ("milano", ("Cliente Rossi", "In transito", "ROMA"), False),
        ("rossi", (None, None, None), False),
    ],
)
def test_matches_the_fields(query: str, fields: tuple[str | None, ...], expected: bool) -> None:
    assert matches(query, code=CODE, fields=fields) is expected


@pytest.mark.parametrize("query", ["785it", "RR123", "123 456", "5678-5IT", CODE.lower()])
def test_matches_part_of_the_code(query: str) -> None:
    assert matches(query, code=CODE, fields=())


@pytest.mark.parametrize("query", ["", "  ", "-", "RR999"])
def test_nothing_to_match(query: str) -> None:
    assert not matches(query, code=CODE, fields=("Perché", "ROMA"))


def test_html_is_plain_text_to_the_matcher() -> None:
    assert matches("<b>", code=CODE, fields=("Tom <b> Jerry",))
    assert not matches("<b>", code=CODE, fields=("Tom &lt;b&gt; Jerry",))


def test_clean_query() -> None:
    assert clean_query("  due \n spazi ") == "due spazi"


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("/find Rossi", "Rossi"),
        ("/find@postino_bot  Perché  no", "Perché no"),
        ("/FIND rossi", "rossi"),
        ("/find", ""),
        ("/findme", "/findme"),  # not the command: a plain text is searched whole
        ("Cliente Rossi", "Cliente Rossi"),
    ],
)
def test_query_in(text: str, query: str) -> None:
    assert query_in(text) == query


def test_query_problems() -> None:
    assert query_problem("") == "find.usage"
    assert query_problem("x") == "find.too_short"
    assert query_problem("x" * 300) == "find.too_long"
    assert query_problem("x" * (MAX_QUERY_LENGTH + 1)) == "find.too_long"
    assert query_problem("xy") is None and query_problem("x" * MAX_QUERY_LENGTH) is None
