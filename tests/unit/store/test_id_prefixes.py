"""A shortened id names its record only when exactly one id begins with it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from keel.errors import InvalidInput, NotFound
from keel.store.id_prefixes import resolve_id

IDS = ["5b2c2648cc41", "5b2c99aa0000", "6ddbf87f8709", "a_b%cdef0000", "a_bxcdef1111"]
metadata = sa.MetaData()
things = sa.Table("things", metadata, sa.Column("id", sa.String, primary_key=True))


@pytest.fixture(scope="module")
def conn() -> Iterator[Any]:
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(things.insert(), [{"id": i} for i in IDS])
        yield connection


def resolve(conn: Any, given: str) -> str:
    return resolve_id(conn, things.c.id, given, "thing", "thing_id")


def test_a_whole_id_names_itself(conn: Any) -> None:
    assert resolve(conn, "6ddbf87f8709") == "6ddbf87f8709"


def test_a_prefix_only_one_id_begins_names_it(conn: Any) -> None:
    assert resolve(conn, "6ddb") == "6ddbf87f8709"
    assert resolve(conn, "5b2c26") == "5b2c2648cc41"


def test_a_shared_prefix_is_refused_naming_the_candidates(conn: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve(conn, "5b2c")
    assert caught.value.field == "thing_id"
    assert "5b2c2648cc41, 5b2c99aa0000" in caught.value.problem
    assert "give more characters" in caught.value.problem


def test_too_short_is_bad_input_and_unknown_is_not_found(conn: Any) -> None:
    with pytest.raises(InvalidInput, match="at least 4 characters"):
        resolve(conn, "6dd")
    with pytest.raises(NotFound):
        resolve(conn, "ffff")
    for wrong in ("", "  ", None, 123):
        with pytest.raises(InvalidInput, match="non-empty string"):
            resolve(conn, wrong)  # type: ignore[arg-type]


def test_case_counts(conn: Any) -> None:
    with pytest.raises(NotFound):
        resolve(conn, "6DDB")  # SQLite's LIKE would have matched it


def test_wildcards_in_a_prefix_are_taken_literally(conn: Any) -> None:
    # "_" and "%" would match any character in LIKE; here they match only themselves
    assert resolve(conn, "a_b%") == "a_b%cdef0000"
    with pytest.raises(NotFound):
        resolve(conn, "a%bx")


@given(st.sampled_from(IDS), st.integers(4, 12))
def test_any_prefix_resolves_to_the_id_or_is_refused_as_shared(
    conn: Any, whole: str, length: int
) -> None:
    prefix = whole[:length]
    sharing = [i for i in IDS if i.startswith(prefix)]
    if len(sharing) == 1 or prefix in IDS:
        assert resolve(conn, prefix) == whole
    else:
        with pytest.raises(InvalidInput):
            resolve(conn, prefix)
