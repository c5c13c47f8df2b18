"""`mvc` tables: the fast path prints exactly what tabulate prints (mvc/cli/output.py, _plain)."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tabulate import tabulate

from mvc.cli.output import _plain

cell = st.one_of(st.none(), st.integers(-10**6, 10**12), st.booleans(), st.floats(allow_nan=False, allow_infinity=False),
                 st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12), st.just(""),
                 st.sampled_from([" pad ", "latest, best", "1.2 KiB", "-", "2026-11-30 10:00"]))


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 7).flatmap(lambda n: st.tuples(
    st.lists(st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=10), min_size=n,
             max_size=n),
    st.lists(st.lists(cell, min_size=n, max_size=n), min_size=1, max_size=8))))
def test_fast_table_is_tabulate_byte_for_byte(table):
    headers, rows = table
    assert _plain(rows, headers) == tabulate(rows, headers=headers, tablefmt="plain", disable_numparse=True)


def test_anything_else_is_left_to_tabulate():
    assert _plain([["é"]], ["a"]) is None and _plain([["a\tb"]], ["a"]) is None and _plain([[object()]], ["a"]) is None
    assert _plain([["a", "b"]], ["x"]) is None
