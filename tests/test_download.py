import socket
import subprocess
import sys

import pytest
import yaml

from artfinetune.data.download import DownloadError, parse_label_list, prepare_dataset
from artfinetune.data.store import build_store, read_store_info

from .conftest import REPO, read_rows
from .fixtures_http import ICONART_CLASSES, Server, make_iconart_zip, make_paintings, make_rasta_tgz

STYLES = ["Baroque", "Naïve_Art_(Primitivism)", "Ukiyo-e"]


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
    spec["url"] = f"{url}/wikipaintings_full.tgz"
    out = tmp_path / "rasta"
    table = prepare_dataset("rasta", spec, out)
    rows = read_rows(table)
    assert len(rows) == 18
    assert {r["labels"] for r in rows} == set(STYLES)  # the NFD folder name comes back as the spec's NFC name
    assert sum(r["split"] == "val" for r in rows) == 3
    summary = build_store(table, out, out / "store.h5", out / "manifest.csv", spec["classes"], "single_label", 32)
    assert summary == {"stored": 18, "left_out": 0, "splits": {"train": 9, "val": 3, "test": 6}}
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
    spec["url"] = f"{url}/IconArt_v1.zip"
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
    spec["url"] = f"{url}/painting_dataset_2021.csv"
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
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec["url"] = f"http://127.0.0.1:{port}/IconArt_v1.zip"
    with pytest.raises(DownloadError, match=r"could not download .*check the network, or put the file at"):
        prepare_dataset("iconart", spec, tmp_path / "offline")
    spec.update(url=f"{url}/IconArt_v1.zip", sha256="0" * 64)
    with pytest.raises(DownloadError, match="does not match the checksum in the dataset spec"):
        prepare_dataset("iconart", spec, tmp_path / "checksum")
    spec.update(url="htp://127.0.0.1/IconArt_v1.zip", sha256=None)
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
    spec["url"] = f"{url}/IconArt_v1.zip"
    (tmp_path / "iconart.yaml").write_text(yaml.safe_dump(spec))
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"] = {"iconart": config["datasets"]["iconart"]}
    config["datasets"]["iconart"]["source"]["spec"] = str(tmp_path / "iconart.yaml")
    config["datasets"]["iconart"]["store_size"] = 224
    config["runs"] = {k: v for k, v in config["runs"].items() if k == "iconart_A"}
    config["comparisons"] = [["imagenet", "iconart_A/1"]]
    config["ensembles"], config["tables"] = {}, {}
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
