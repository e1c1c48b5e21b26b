import hashlib
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest
import yaml

from artfinetune.data import download
from artfinetune.data.download import DownloadError, fetch
from artfinetune.data.layouts import parse_label_list, prepare_dataset
from artfinetune.data.store import build_store, read_store_info

from .conftest import REPO, read_rows
from .fixtures_http import (
    ICONART_CLASSES,
    RangeServer,
    Server,
    make_iconart_zip,
    make_paintings,
    make_rasta_tgz,
)

STYLES = ["Baroque", "Naïve_Art_(Primitivism)", "Ukiyo-e"]


def unused_port() -> int:
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rasta_spec(url: str) -> dict:
    spec = yaml.safe_load((REPO / "resources/datasets/rasta.yaml").read_text())
    spec["mirrors"] = [url]
    return spec


def flip_a_byte(path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    with Server(root) as server:
        yield root, server.url


def test_rasta_archive_to_store(served, tmp_path):
    root, url = served
    make_rasta_tgz(root / "wikipaintings_full.tgz", STYLES, {"train": 3, "val": 1, "test": 2})
    spec = yaml.safe_load((REPO / "resources/datasets/rasta.yaml").read_text())
    spec["mirrors"] = [f"{url}/wikipaintings_full.tgz"]
    out = tmp_path / "rasta"
    table = prepare_dataset("rasta", spec, out)
    rows = read_rows(table)
    assert len(rows) == 18
    assert {r["labels"] for r in rows} == set(STYLES)  # the NFD folder name comes back as the spec's NFC name
    assert sum(r["split"] == "val" for r in rows) == 3
    summary = build_store(table, out, out / "store.h5", out / "manifest.csv", spec["classes"], "single_label", 32)
    assert (summary["stored"], summary["left_out"], summary["splits"]) == (18, 0, {"train": 9, "val": 3, "test": 6})
    # Rerunning reuses the downloaded archive (an offline node can be given it by hand).
    (root / "wikipaintings_full.tgz").unlink()
    assert read_rows(prepare_dataset("rasta", spec, out)) == rows


def test_iconart_zip_with_table_and_a_corrupt_image(served, tmp_path):
    root, url = served
    items = [
        (f"Q{i}", [ICONART_CLASSES[i % 7], ICONART_CLASSES[(i + 3) % 7]], "train" if i < 8 else "test")
        for i in range(12)
    ]
    make_iconart_zip(root / "IconArt_v1.zip", items, corrupt="Q5")
    spec = yaml.safe_load((REPO / "resources/datasets/iconart.yaml").read_text())
    spec["mirrors"] = [f"{url}/IconArt_v1.zip"]
    out = tmp_path / "iconart"
    table = prepare_dataset("iconart", spec, out)
    rows = {r["id"]: r for r in read_rows(table)}
    assert rows["Q0"]["labels"] == "angel;Mary" and rows["Q0"]["split"] == "train"
    assert rows["Q9"]["split"] == "test"
    build_store(
        table,
        out,
        out / "store.h5",
        out / "manifest.csv",
        spec["classes"],
        "multi_label",
        32,
        val_fraction=0.25,
        split_seed=0,
    )
    info = read_store_info(out / "store.h5")
    assert info["split_counts"] == {"train": 5, "val": 2, "test": 4}  # Q5 left out, val carved from train
    manifest = {r["id"]: r for r in read_rows(out / "manifest.csv")}
    assert manifest["Q5"]["status"].startswith("unreadable (")


def test_paintings_url_list_records_dead_links(served, tmp_path):
    root, url = served
    make_paintings(
        root,
        url,
        [
            ("a1", "train", "['aeroplane', 'bird']"),
            ("a2", "validation", "'boat' 'dog'"),
            ("DEAD:a3", "test", "['horse']"),
            ("a4", "test", "['dining table', 'chair']"),
            ("a4", "test", "['dining table', 'chair']"),  # the published table repeats rows
            ("a5", "holdout", "['cow']"),
        ],
    )
    spec = yaml.safe_load((REPO / "resources/datasets/paintings.yaml").read_text())
    spec["mirrors"] = [f"{url}/painting_dataset_2021.csv"]
    out = tmp_path / "paintings"
    table = prepare_dataset("paintings", spec, out, workers=2)
    rows = {r["id"]: r for r in read_rows(table)}
    assert list(rows) == ["a1", "a2", "a3", "a4", "a4_row5", "a5"]  # every row of the table is listed
    assert rows["a4_row5"]["status"] == "skipped (duplicate of a4)"
    assert rows["a1"]["labels"] == "aeroplane;bird" and rows["a2"]["split"] == "val"
    assert rows["a4"]["labels"] == "diningtable;chair"
    assert rows["a3"]["status"].startswith("dead link (could not download") and "404" in rows["a3"]["status"]
    assert rows["a5"]["status"].startswith("skipped (subset")
    summary = build_store(table, out, out / "store.h5", out / "manifest.csv", spec["classes"], "multi_label", 32)
    assert summary["stored"] == 3 and summary["left_out"] == 3
    manifest = {r["id"]: r for r in read_rows(out / "manifest.csv")}
    assert manifest["a3"]["status"] == rows["a3"]["status"]


def test_offline_and_checksum_errors_say_what_to_do(served, tmp_path):
    root, url = served
    make_iconart_zip(root / "IconArt_v1.zip", [("Q1", ["angel"], "train")])
    spec = yaml.safe_load((REPO / "resources/datasets/iconart.yaml").read_text())
    spec["mirrors"] = [f"http://127.0.0.1:{unused_port()}/IconArt_v1.zip"]
    with pytest.raises(DownloadError, match=r"could not download .*check the network, or put the file at"):
        prepare_dataset("iconart", spec, tmp_path / "offline")
    spec.update(mirrors=[f"{url}/IconArt_v1.zip"], sha256="0" * 64)
    with pytest.raises(DownloadError, match="does not match the checksum in the dataset spec"):
        prepare_dataset("iconart", spec, tmp_path / "checksum")
    spec.update(mirrors=["htp://127.0.0.1/IconArt_v1.zip"], sha256=None)
    with pytest.raises(DownloadError, match="cannot download 'htp://127.0.0.1/IconArt_v1.zip' .*fix the url"):
        prepare_dataset("iconart", spec, tmp_path / "badurl")


def test_label_list_parsing():
    assert parse_label_list("['dining table', 'dog']", {"dining table": "diningtable"}) == ["diningtable", "dog"]
    assert parse_label_list("'boat' 'dog'") == ["boat", "dog"]
    assert parse_label_list("cow,sheep") == ["cow", "sheep"]
    assert parse_label_list("[]") == []


def test_download_and_store_rules_through_snakemake(served, tmp_path):
    """The paper's data rules on a local server: download_dataset -> image_store, then a no-op rerun."""
    root, url = served
    make_iconart_zip(root / "IconArt_v1.zip", [(f"Q{i}", ["Mary"], "train" if i < 6 else "test") for i in range(8)])
    spec = yaml.safe_load((REPO / "resources/datasets/iconart.yaml").read_text())
    spec["mirrors"] = [f"{url}/IconArt_v1.zip"]
    (tmp_path / "iconart.yaml").write_text(yaml.safe_dump(spec))
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"] = {"iconart": config["datasets"]["iconart"]}
    config["datasets"]["iconart"]["source"]["spec"] = str(tmp_path / "iconart.yaml")
    config["datasets"]["iconart"]["store_size"] = 224
    config["runs"] = {k: v for k, v in config["runs"].items() if k == "iconart_A"}
    config.update(
        comparisons=[["imagenet", "iconart_A/1"]],
        figures={},
        comparison_tables={},
        galleries=[],
        panels={},
        findings={},
    )
    config["ensembles"], config["tables"] = {}, {}
    config.pop("architectures")  # its pairs' runs are gone
    config["results"] = str(tmp_path / "results")
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    target = str(tmp_path / "results/data/iconart/store.h5")
    cmd = [sys.executable, "-m", "snakemake", target, "--cores", "2", "--configfile", str(cfg)]
    env = {**__import__("os").environ, "PATH": f"{sys.prefix}/bin:" + __import__("os").environ["PATH"]}
    first = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "rule download_dataset:" in first.stderr and "rule image_store:" in first.stderr
    assert read_store_info(target)["split_counts"] == {"train": 5, "val": 1, "test": 2}
    again = subprocess.run([*cmd, "-n"], cwd=REPO, capture_output=True, text=True, env=env)
    assert "Nothing to be done" in again.stdout + again.stderr


def test_interrupted_download_resumes_with_a_range_request(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "CHUNK", 4096)  # small reads, so most bytes received before the cut reach disk
    root = tmp_path / "www"
    root.mkdir()
    served_archive = root / "wikipaintings_full.tgz"
    make_rasta_tgz(served_archive, STYLES, {"train": 3, "val": 1, "test": 2})
    size = served_archive.stat().st_size
    out = tmp_path / "rasta"
    archive, part = out / "download/wikipaintings_full.tgz", out / "download/wikipaintings_full.tgz.part"
    with RangeServer(root, cut_after=size // 2) as server:
        spec = rasta_spec(f"{server.url}/wikipaintings_full.tgz")
        with pytest.raises(DownloadError, match=r"check the network.* rerun \(the rerun resumes from the \d+ bytes in"):
            prepare_dataset("rasta", spec, out)
        have = part.stat().st_size
        assert 0 < have <= size // 2
        assert not archive.exists() and not (out / "raw").exists()  # nothing incomplete is placed or unpacked
        rows = read_rows(prepare_dataset("rasta", spec, out))
    assert [r["range"] for r in server.log] == [None, f"bytes={have}-"]
    assert server.log[1]["status"] == 206 and server.log[1]["sent"] == size - have  # only the rest was fetched
    assert sha256(archive) == sha256(served_archive) and not part.exists()
    assert len(rows) == 18


def test_restart_when_the_server_ignores_range_and_416_when_the_part_is_complete(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    data = np.random.default_rng(0).bytes(50_000)
    (root / "w.bin").write_bytes(data)
    cases = {  # bytes already in w.bin.part, whether the server honours Range, (status, bytes sent) of each GET
        "ignored": (data[:20_000], False, [(200, 50_000)]),
        "complete": (data, True, [(416, 0)]),
        "longer": (data + b"stale", True, [(416, 0), (200, 50_000)]),
    }
    for case, (part_bytes, honour, served) in cases.items():
        folder = tmp_path / case
        folder.mkdir()
        (folder / "w.bin.part").write_bytes(part_bytes)
        with RangeServer(root, honour_range=honour) as server:
            fetch(f"{server.url}/w.bin", None, folder, progressbar=False)
        assert (folder / "w.bin").read_bytes() == data and not (folder / "w.bin.part").exists(), case
        assert server.log[0]["range"] == f"bytes={len(part_bytes)}-", case
        assert [(r["status"], r["sent"]) for r in server.log] == served, case


def test_archive_placed_by_hand_is_used_offline_and_its_hash_recorded(tmp_path):
    out = tmp_path / "rasta"
    archive = out / "download/wikipaintings_full.tgz"
    archive.parent.mkdir(parents=True)
    make_rasta_tgz(archive, STYLES, {"train": 2, "val": 1, "test": 1})
    spec = rasta_spec(f"http://127.0.0.1:{unused_port()}/wikipaintings_full.tgz")  # nobody answers there
    rows = read_rows(prepare_dataset("rasta", spec, out))
    assert len(rows) == 12 and {r["split"] for r in rows} == {"train", "val", "test"}
    assert (
        out / "download/wikipaintings_full.tgz.sha256"
    ).read_text() == f"{sha256(archive)}  wikipaintings_full.tgz\n"


def test_recorded_hash_stops_a_damaged_archive_before_unpacking(served, tmp_path):
    root, url = served
    make_rasta_tgz(root / "wikipaintings_full.tgz", STYLES, {"train": 2, "val": 1, "test": 1})
    spec = rasta_spec(f"{url}/wikipaintings_full.tgz")
    out = tmp_path / "rasta"
    prepare_dataset("rasta", spec, out)
    archive, record = out / "download/wikipaintings_full.tgz", out / "download/wikipaintings_full.tgz.sha256"
    good = sha256(root / "wikipaintings_full.tgz")
    assert record.read_text() == f"{good}  wikipaintings_full.tgz\n"
    flip_a_byte(archive)
    shutil.rmtree(out / "raw")
    with pytest.raises(DownloadError) as err:
        prepare_dataset("rasta", spec, out)
    msg = str(err.value)
    assert f"{archive} does not match the sha256 recorded at its first download in {record}" in msg
    assert f"expected sha256 {good}, found {sha256(archive)}" in msg and f"delete {archive} and {record}" in msg
    assert not (out / "raw").exists()  # checked before unpacking
    # A checksum in the spec must agree with the recorded one.
    spec["sha256"] = "0" * 64
    with pytest.raises(DownloadError, match=f"{record} records sha256 {good} .* but the dataset spec expects 0+;"):
        prepare_dataset("rasta", spec, out)
    assert not (out / "raw").exists()


def test_lucid_weights_hash_recorded_and_checked_on_reuse(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "InceptionV1.pb").write_bytes(np.random.default_rng(1).bytes(30_000))
    good = sha256(root / "InceptionV1.pb")
    folder = tmp_path / "init"
    with RangeServer(root) as server:
        url = f"{server.url}/InceptionV1.pb"
        pb = fetch(url, None, folder, fname="InceptionV1.pb")
    assert sha256(folder / "InceptionV1.pb") == good and pb == str(folder / "InceptionV1.pb")
    assert (folder / "InceptionV1.pb.sha256").read_text() == f"{good}  InceptionV1.pb\n"
    assert fetch(url, None, folder, fname="InceptionV1.pb") == pb  # reused (and checked) with the server gone
    flip_a_byte(folder / "InceptionV1.pb")
    with pytest.raises(DownloadError, match=f"InceptionV1.pb does not match .* \\(expected sha256 {good}, found "):
        fetch(url, None, folder, fname="InceptionV1.pb")
