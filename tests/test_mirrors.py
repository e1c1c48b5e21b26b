"""Sources that outlive a dead link: each download tries its mirrors in turn and keeps only the expected file.

Every test runs against the local HTTP server; a URL on a port nobody listens on stands for a dead host.
"""

import hashlib
import re
import zipfile

import pytest
import yaml

from artfinetune.data import download
from artfinetune.data.download import DownloadError
from artfinetune.data.layouts import download_job, prepare_dataset
from artfinetune.model import lucid_weights

from .conftest import REPO, read_rows
from .fixtures_http import ICONART_CLASSES, RangeServer, make_iconart_zip
from .lucid_graph import build_lucid_graphdef
from .test_download import unused_port

ITEMS = [(f"Q{i}", [ICONART_CLASSES[i % 7]], "train" if i < 4 else "test") for i in range(6)]
TABLE = "IconArt_v1/ImageSets/Main/IconArt_v1.csv"


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def iconart_spec(mirrors: list) -> dict:
    spec = yaml.safe_load((REPO / "resources/datasets/iconart.yaml").read_text())
    spec["mirrors"] = mirrors
    return spec


@pytest.fixture
def www(tmp_path):
    """The served folder: IconArt_v1.zip, the same bytes under copy/, another version under v2/."""
    root = tmp_path / "www"
    (root / "copy").mkdir(parents=True)
    (root / "v2").mkdir()
    make_iconart_zip(root / "IconArt_v1.zip", ITEMS)
    (root / "copy/IconArt_v1.zip").write_bytes((root / "IconArt_v1.zip").read_bytes())
    with zipfile.ZipFile(root / "v2/IconArt_v1.zip", "w") as z:  # a zip without IconArt_v1's table
        z.writestr("IconArt_v2/ImageSets/Main/IconArt_v2.csv", "item,set\n")
    return root


def test_a_dead_host_and_a_404_then_the_mirror_that_serves_the_file(www, tmp_path):
    dead = f"http://127.0.0.1:{unused_port()}/IconArt_v1.zip"
    with RangeServer(www) as server:
        spec = iconart_spec([dead, f"{server.url}/gone/IconArt_v1.zip", f"{server.url}/IconArt_v1.zip"])
        rows = read_rows(prepare_dataset("iconart", spec, tmp_path / "iconart"))
    assert [r["path"] for r in server.log] == ["/gone/IconArt_v1.zip", "/IconArt_v1.zip"]  # in order, each once
    assert [r["status"] for r in server.log] == [404, 200]
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows)
    record = tmp_path / "iconart/download/IconArt_v1.zip.sha256"
    assert record.read_text() == f"{sha256(www / 'IconArt_v1.zip')}  IconArt_v1.zip\n"


def test_the_configs_mirrors_come_before_the_specs(www, tmp_path):
    """download_job (the rule's function): source.mirrors first, the spec's after; the file keeps the spec's name."""
    (www / "copy/IconArt_v1.zip").rename(www / "copy/mine.zip")
    with RangeServer(www) as server:
        (tmp_path / "iconart.yaml").write_text(yaml.safe_dump(iconart_spec([f"{server.url}/IconArt_v1.zip"])))
        source = {"kind": "iconart", "spec": str(tmp_path / "iconart.yaml"), "mirrors": [f"{server.url}/copy/mine.zip"]}
        rows = read_rows(download_job("iconart", {"source": source}, tmp_path / "iconart"))
    assert [r["path"] for r in server.log] == ["/copy/mine.zip"]  # the spec's mirror was not needed
    assert len(rows) == 6 and sha256(tmp_path / "iconart/download/IconArt_v1.zip") == sha256(www / "IconArt_v1.zip")


def test_a_mirror_serving_another_file_is_refused_by_its_structure_then_by_its_hash(www, tmp_path):
    out = tmp_path / "iconart"
    archive, record = out / "download/IconArt_v1.zip", out / "download/IconArt_v1.zip.sha256"
    with RangeServer(www) as server:
        # First download: no hash recorded yet, so the structure refuses the zip without IconArt_v1's table.
        spec = iconart_spec([f"{server.url}/v2/IconArt_v1.zip", f"{server.url}/IconArt_v1.zip"])
        prepare_dataset("iconart", spec, out)
        good = sha256(www / "IconArt_v1.zip")
        assert sha256(archive) == good and record.read_text().startswith(good)
        # Later: a mirror serving other bytes (a well-formed IconArt_v1 zip) is refused by the recorded hash.
        make_iconart_zip(www / "copy/IconArt_v1.zip", ITEMS[:3])
        archive.unlink()
        spec = iconart_spec([f"{server.url}/copy/IconArt_v1.zip", f"{server.url}/IconArt_v1.zip"])
        prepare_dataset("iconart", spec, out)
        assert sha256(archive) == good
        with pytest.raises(DownloadError) as err:
            archive.unlink()
            prepare_dataset("iconart", iconart_spec([f"{server.url}/copy/IconArt_v1.zip"]), out)
    msg = str(err.value)
    other = sha256(www / "copy/IconArt_v1.zip")
    assert f"{server.url}/copy/IconArt_v1.zip (refused: its sha256 {other} does not match the sha256 recorded" in msg
    assert f"at its first download in {record} ({good})" in msg
    assert not archive.exists() and not (out / "download/IconArt_v1.zip.part").exists()  # nothing refused is kept


def test_a_part_from_a_mirror_that_died_mid_transfer_is_not_resumed_from_another(www, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "CHUNK", 1024)  # small reads, so bytes received before the cut reach the part
    size = (www / "IconArt_v1.zip").stat().st_size
    with RangeServer(www, cut_after=size // 2) as server:
        spec = iconart_spec([f"{server.url}/IconArt_v1.zip", f"{server.url}/copy/IconArt_v1.zip"])
        prepare_dataset("iconart", spec, tmp_path / "iconart")
    assert [(r["path"], r["range"]) for r in server.log] == [("/IconArt_v1.zip", None), ("/copy/IconArt_v1.zip", None)]
    assert server.log[0]["sent"] == size // 2 and server.log[1]["sent"] == size
    assert sha256(tmp_path / "iconart/download/IconArt_v1.zip") == sha256(www / "IconArt_v1.zip")


def test_every_mirror_dead_is_one_sentence_naming_each_url_and_the_file_to_place_by_hand(www, tmp_path):
    dead = f"http://127.0.0.1:{unused_port()}/IconArt_v1.zip"
    with RangeServer(www) as server:
        gone, wrong = f"{server.url}/gone/IconArt_v1.zip", f"{server.url}/v2/IconArt_v1.zip"
        (tmp_path / "iconart.yaml").write_text(yaml.safe_dump(iconart_spec([gone, wrong])))
        source = {"kind": "iconart", "spec": str(tmp_path / "iconart.yaml"), "mirrors": [dead]}
        with pytest.raises(DownloadError) as err:
            download_job("iconart", {"source": source}, tmp_path / "iconart")
    msg = str(err.value)
    target = tmp_path / "iconart/download/IconArt_v1.zip"
    assert msg.startswith(f"could not download IconArt_v1.zip from any of its 3 mirrors: {dead} (ConnectionError: ")
    assert f"; {gone} (HTTP 404); {wrong} (refused: not the expected file: the zip archive has no {TABLE})" in msg
    assert msg.endswith(
        f"; check the network, or put the file at {target} by hand, or add the URL of a copy to "
        "datasets.iconart.source.mirrors in the config, and rerun"
    )
    assert not re.search(r"\.\s", msg.replace(str(target), "")), "one sentence"


@pytest.fixture
def lucid_www(tmp_path, monkeypatch):
    """Lucid's graph (10-class heads: the check reads the class count) served as a .pb and in DeepDream's zip, a
    graph with a renamed node, and the known mirrors replaced by local ones: a dead host, then the zip."""
    root = tmp_path / "www"
    root.mkdir()
    good = build_lucid_graphdef(num_classes=10).SerializeToString()
    (root / "InceptionV1.pb").write_bytes(good)
    renamed = build_lucid_graphdef(num_classes=10, rename={"mixed4d_3x3_pre_relu": "mixed4d_3x3_prerelu"})
    (root / "renamed.pb").write_bytes(renamed.SerializeToString())
    with zipfile.ZipFile(root / "inception5h.zip", "w") as z:
        z.writestr("tensorflow_inception_graph.pb", good)
        z.writestr("imagenet_comp_graph_label_strings.txt", "dummy\n")
    with RangeServer(root) as server:
        spec = tmp_path / "inception_v1.yaml"
        mirrors = [f"http://127.0.0.1:{unused_port()}/InceptionV1.pb"]
        mirrors.append({"url": f"{server.url}/inception5h.zip", "member": "tensorflow_inception_graph.pb"})
        spec.write_text(yaml.safe_dump({"mirrors": mirrors}))
        monkeypatch.setattr(lucid_weights, "SPEC_PATH", spec)
        yield root, server, hashlib.sha256(good).hexdigest()


def test_lucid_graph_refused_by_structure_then_taken_from_deepdreams_zip(lucid_www, tmp_path):
    root, server, good = lucid_www
    out = tmp_path / "init/InceptionV1.pb"
    assert lucid_weights.fetch_lucid([f"{server.url}/renamed.pb"], None, out) == str(out)
    assert sha256(out) == good and (tmp_path / "init/InceptionV1.pb.sha256").read_text() == f"{good}  InceptionV1.pb\n"
    assert not (tmp_path / "init/inception5h.zip").exists()  # only the graph is kept
    assert [r["path"] for r in server.log] == ["/renamed.pb", "/inception5h.zip"]


def test_lucid_graph_every_mirror_dead_names_each_and_the_file_in_the_zip(lucid_www, tmp_path):
    root, server, _ = lucid_www
    (root / "inception5h.zip").unlink()
    out = tmp_path / "init/InceptionV1.pb"
    with pytest.raises(DownloadError) as err:
        lucid_weights.fetch_lucid([f"{server.url}/renamed.pb"], None, out)
    msg = str(err.value)
    assert msg.startswith(f"could not download InceptionV1.pb from any of its 3 mirrors: {server.url}/renamed.pb ")
    assert "(refused: not the expected file: node 'mixed4d_3x3_pre_relu' (BiasAdd) is missing from" in msg
    assert f"; {server.url}/inception5h.zip (tensorflow_inception_graph.pb) (HTTP 404); check the network" in msg
    assert f"put the file at {out} by hand (tensorflow_inception_graph.pb from inception5h.zip will do)" in msg
    assert not out.exists()
