"""Data snapshots on both back ends: content identity, versions, profile, schema, round trip."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from keel.client import Client
from keel.errors import InvalidInput, NotFound


@pytest.fixture
def files(cancer_frame: pd.DataFrame, tmp_path: Path) -> dict[str, Path]:
    parquet = tmp_path / "cancer.parquet"
    csv = tmp_path / "cancer.csv"
    cancer_frame.to_parquet(parquet, index=False)
    cancer_frame.to_csv(csv, index=False)
    return {"parquet": parquet, "csv": csv}


def test_dataframe_parquet_and_csv_of_the_same_data_share_a_hash(
    client: Client, cancer_frame: pd.DataFrame, files: dict[str, Path]
) -> None:
    from_frame = client.register_snapshot(cancer_frame, "frame")
    from_parquet = client.register_snapshot(files["parquet"], "parquet")
    from_csv = client.register_snapshot(str(files["csv"]), "csv")
    assert from_frame.sha256 == from_parquet.sha256 == from_csv.sha256
    assert from_frame.artifact_sha256 == from_parquet.artifact_sha256 == from_csv.artifact_sha256
    assert (from_frame.source, from_parquet.source) == ("dataframe", str(files["parquet"]))
    assert from_csv.source == str(files["csv"])


def test_the_same_name_and_data_give_the_same_snapshot(
    client: Client, cancer_frame: pd.DataFrame, files: dict[str, Path]
) -> None:
    first = client.register_snapshot(cancer_frame, "cancer")
    again = client.register_snapshot(files["csv"], "cancer")
    reindexed = client.register_snapshot(
        cancer_frame.set_index(cancer_frame.index + 1000), "cancer"
    )
    assert first == again == reindexed
    assert first.version == 1
    assert [s.version for s in client.list_snapshots("cancer")] == [1]
    assert len(client.audit_log(action="snapshot.register")) == 1


def test_new_data_under_a_name_is_the_next_version(
    client: Client, cancer_frame: pd.DataFrame
) -> None:
    first = client.register_snapshot(cancer_frame, "cancer")
    second = client.register_snapshot(cancer_frame.iloc[:100], "cancer")
    reordered = client.register_snapshot(cancer_frame.iloc[::-1], "cancer")
    assert [first.version, second.version, reordered.version] == [1, 2, 3]
    assert len({first.sha256, second.sha256, reordered.sha256}) == 3
    assert client.get_snapshot("cancer") == reordered  # the newest
    assert client.get_snapshot("cancer/2") == second
    assert client.get_snapshot("datasets:/cancer/1") == first
    assert [s.version for s in client.list_snapshots("cancer")] == [3, 2, 1]


def test_the_same_data_under_two_names_is_two_snapshots(
    client: Client, cancer_frame: pd.DataFrame
) -> None:
    one = client.register_snapshot(cancer_frame, "one")
    two = client.register_snapshot(cancer_frame, "two")
    assert (one.name, two.name) == ("one", "two")
    assert one.sha256 == two.sha256
    assert client.get_snapshot(f"sha256:{one.sha256[:12]}").sha256 == one.sha256
    assert [s.name for s in client.list_snapshots()] == ["one", "two"]


def test_recorded_fields_profile_and_schema(client: Client, cancer_frame: pd.DataFrame) -> None:
    frame = cancer_frame.assign(
        site=["north" if i % 3 else "south" for i in range(len(cancer_frame))],
        gap=[None if i % 10 == 0 else float(i) for i in range(len(cancer_frame))],
    )
    snapshot = client.register_snapshot(
        frame, "cancer", description="UCI breast cancer", tags={"owner": "risk", "n": 1}
    )
    assert (snapshot.rows, snapshot.columns) == (len(frame), len(frame.columns))
    assert snapshot.author == "tester"
    assert snapshot.description == "UCI breast cancer"
    assert snapshot.tags == {"owner": "risk", "n": "1"}
    assert snapshot.created_at.tzinfo is not None
    assert snapshot.schema["mean radius"] == "float64"
    assert snapshot.schema["target"] == "int64"
    assert list(snapshot.schema) == list(frame.columns)
    profile = snapshot.profile
    assert profile["rows"] == len(frame)
    radius = profile["columns"]["mean radius"]
    assert radius["kind"] == "number"
    assert radius["min"] == frame["mean radius"].min()
    assert radius["max"] == frame["mean radius"].max()
    assert radius["mean"] == pytest.approx(frame["mean radius"].mean())
    assert radius["quantiles"]["0.5"] == pytest.approx(frame["mean radius"].median())
    target = profile["columns"]["target"]
    assert target["kind"] == "integer"
    assert (target["min"], target["max"]) == (0, 1)
    site = profile["columns"]["site"]
    assert site["kind"] == "category"
    assert site["categories"]["north"] == pytest.approx(2 / 3, abs=0.01)
    assert profile["columns"]["gap"]["missing_share"] == pytest.approx(0.1, abs=0.01)
    stored = client.get_snapshot("cancer/1")
    assert stored == snapshot  # the store gives back exactly what was recorded


def test_load_snapshot_round_trips(client: Client, cancer_frame: pd.DataFrame) -> None:
    frame = cancer_frame.assign(
        label=pd.Series(["a", "b"] * (len(cancer_frame) // 2) + ["a"] * (len(cancer_frame) % 2)),
        flag=cancer_frame["target"] == 1,
        when=pd.Timestamp("2026-01-01", tz="UTC"),
    )
    snapshot = client.register_snapshot(frame.set_index(frame.index * 2), "mixed")
    loaded = client.load_snapshot("mixed/1")
    pd.testing.assert_frame_equal(loaded, frame.reset_index(drop=True))
    pd.testing.assert_frame_equal(client.load_snapshot(snapshot), loaded)
    empty = client.register_snapshot(pd.DataFrame({"a": pd.Series([], dtype="float64")}), "e")
    assert empty.rows == 0
    assert empty.profile["columns"]["a"]["count"] == 0
    assert len(client.load_snapshot("e")) == 0


def test_unknown_snapshots_and_bad_input(
    client: Client, tmp_path: Path, cancer_frame: pd.DataFrame
) -> None:
    for ref in ("nothing", "cancer/2", "sha256:0123456789abcdef"):
        with pytest.raises(NotFound) as not_found:
            client.get_snapshot(ref)
        assert not_found.value.kind == "snapshot"
    with pytest.raises(InvalidInput) as caught:
        client.register_snapshot(cancer_frame, "bad name")
    assert caught.value.field == "name"
    with pytest.raises(InvalidInput, match="duplicate column names: a"):
        client.register_snapshot(pd.DataFrame([[1, 2]], columns=["a", "a"]), "dupes")
    with pytest.raises(InvalidInput, match="no columns"):
        client.register_snapshot(pd.DataFrame(), "empty")
    text = tmp_path / "data.txt"
    text.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInput, match=r"only \.parquet and \.csv"):
        client.register_snapshot(text, "text")
    with pytest.raises(NotFound):
        client.register_snapshot(tmp_path / "absent.csv", "absent")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(InvalidInput) as caught:
        client.register_snapshot(broken, "broken")
    assert caught.value.field == "data"
    with pytest.raises(InvalidInput):
        client.register_snapshot([1, 2, 3], "list")  # type: ignore[arg-type]
    assert client.list_snapshots() == []
    assert client.audit_log() == []
    with pytest.raises(NotFound):
        client.load_snapshot("nothing")
