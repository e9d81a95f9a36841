"""The demo starts from an empty store but never deletes what it did not write."""

from __future__ import annotations

from pathlib import Path

import pytest

from keel.demo.closed_loop import _clear
from keel.errors import InvalidInput


def test_an_earlier_demo_store_is_cleared(tmp_path: Path) -> None:
    folder = tmp_path / "keel-demo"
    (folder / "artifacts").mkdir(parents=True)
    (folder / "keel.db").write_text("")
    (folder / "closed-loop-credit-risk.html").write_text("")
    _clear(folder)
    assert not folder.exists()


def test_a_folder_with_other_files_is_refused_and_kept(tmp_path: Path) -> None:
    (tmp_path / "thesis.tex").write_text("years of work")
    with pytest.raises(InvalidInput) as caught:
        _clear(tmp_path)
    assert caught.value.fields["field"] == "folder" and "thesis.tex" in caught.value.message
    assert (tmp_path / "thesis.tex").read_text() == "years of work"


def test_a_missing_folder_is_fine(tmp_path: Path) -> None:
    _clear(tmp_path / "new")
