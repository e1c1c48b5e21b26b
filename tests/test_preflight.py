"""artfinetune preflight: sources asked over HTTP (the local server), the disk estimate with known answers, and the
GPU and SLURM rows from stand-ins."""

import collections
import os
import stat

import pytest
import yaml

from artfinetune.cli import main
from artfinetune.model import keras_weights, lucid_weights
from artfinetune.study.config import prepare_config
from artfinetune.study.disk import disk_needs, size_text
from artfinetune.study.preflight import Report, gpu_row, preflight, slurm_check

from .conftest import DEMO_CONFIG, REPO
from .fixtures_http import RangeServer
from .test_download import unused_port

Usage = collections.namedtuple("Usage", "total used free")
PLENTY = lambda path: Usage(0, 0, 10**15)  # noqa: E731
NO_GPU = list


def rows_of(report: Report, check: str) -> dict[str, tuple[str, str, str]]:
    return {r.what: (r.status, r.size, r.detail) for r in report.rows if r.check == check}


@pytest.fixture
def paper_config(tmp_path, monkeypatch):
    """The paper config pointed at the local server: iconart on three mirrors (a dead host, a 404, the file:
    2.5 MB), rasta and paintings already downloaded, Lucid's graph (1.5 MB) at the init's url and the known
    mirrors replaced by a 404."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "IconArt_v1.zip").write_bytes(b"z" * 2_500_000)
    (www / "InceptionV1.pb").write_bytes(b"g" * 1_500_000)
    (www / "resnet50_notop.h5").write_bytes(b"w" * 2_000_000)
    monkeypatch.chdir(tmp_path)
    vgg16 = tmp_path / "results/models/init/imagenet_vgg16/weights.h5"  # placed by hand
    vgg16.parent.mkdir(parents=True)
    vgg16.write_bytes(b"v" * 700_000)
    for name, size in [("rasta/download/wikipaintings_full.tgz", 3_000_000), ("paintings/download/p.csv", 100)]:
        path = tmp_path / "results/data" / name
        path.parent.mkdir(parents=True)
        path.write_bytes(b"r" * size)
    (tmp_path / "results/data/paintings/download/p.csv").rename(
        tmp_path / "results/data/paintings/download/painting_dataset_2021.csv"
    )
    with RangeServer(www) as server:
        dead = f"http://127.0.0.1:{unused_port()}/IconArt_v1.zip"
        spec = yaml.safe_load((REPO / "resources/datasets/iconart.yaml").read_text())
        spec["mirrors"] = [dead, f"{server.url}/gone/IconArt_v1.zip", f"{server.url}/IconArt_v1.zip"]
        (tmp_path / "iconart.yaml").write_text(yaml.safe_dump(spec))
        (tmp_path / "inception_v1.yaml").write_text(
            yaml.safe_dump({"mirrors": [f"{server.url}/gone/InceptionV1.pb"], "download_bytes": 54_000_000})
        )
        monkeypatch.setattr(lucid_weights, "SPEC_PATH", tmp_path / "inception_v1.yaml")
        for arch in ("resnet50", "vgg16"):  # the known mirrors of the Keras weights: a 404 each
            gone = {"mirrors": [f"{server.url}/gone/{arch}_notop.h5"], "download_bytes": 90_000_000}
            (tmp_path / f"{arch}.yaml").write_text(yaml.safe_dump(gone))
        monkeypatch.setattr(keras_weights, "SPEC_DIR", tmp_path)
        config = yaml.safe_load((REPO / "config.yaml").read_text())
        config["datasets"]["iconart"]["source"]["spec"] = str(tmp_path / "iconart.yaml")
        config["init"]["imagenet"]["url"] = f"{server.url}/InceptionV1.pb"
        config["init"]["imagenet_resnet50"]["mirrors"] = [f"{server.url}/resnet50_notop.h5"]
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        yield tmp_path / "config.yaml", server


def test_each_mirror_is_asked_and_a_downloaded_file_is_not(paper_config):
    cfg, server = paper_config
    report = preflight(cfg, gpus=NO_GPU, sinfo="no-sinfo-here", disk_usage=PLENTY)
    sources = rows_of(report, "source")
    assert (
        sources["iconart (1/3)"][0] == "unreachable" and "ConnectionError: [Errno 111]" in sources["iconart (1/3)"][2]
    )
    assert sources["iconart (2/3)"] == ("dead", "", f"{server.url}/gone/IconArt_v1.zip: HTTP 404")
    assert sources["iconart (3/3)"] == ("reachable", "2.5 MB", f"{server.url}/IconArt_v1.zip: HTTP 200")
    assert sources["rasta"] == ("downloaded", "3.0 MB", "results/data/rasta/download/wikipaintings_full.tgz")
    assert sources["init imagenet (1/2)"] == ("reachable", "1.5 MB", f"{server.url}/InceptionV1.pb: HTTP 200")
    assert sources["init imagenet (2/2)"][0] == "dead"
    assert sources["paintings"][0] == "downloaded"
    assert sources["init imagenet_resnet50 (1/2)"] == (
        "reachable",
        "2.0 MB",
        f"{server.url}/resnet50_notop.h5: HTTP 200",
    )
    assert sources["init imagenet_resnet50 (2/2)"][0] == "dead"
    weights = "results/models/init/imagenet_vgg16/weights.h5"
    assert sources["init imagenet_vgg16"] == ("downloaded", "700.0 kB", weights)
    assert sorted(r["path"] for r in server.log) == [
        "/IconArt_v1.zip",
        "/InceptionV1.pb",
        "/gone/IconArt_v1.zip",
        "/gone/InceptionV1.pb",
        "/gone/resnet50_notop.h5",
        "/resnet50_notop.h5",
    ]  # one HEAD each; none for rasta nor for the VGG16 weights already there
    # The sizes found go into the estimate: an archive twice (with its unpacked copy), the graph once; the
    # Paintings images at the spec's estimate (2.6 GB) beside its table.
    disk = rows_of(report, "disk")
    assert disk["source files"][2] == (
        "iconart 5.0 MB, paintings 2.6 GB, rasta 6.0 MB, imagenet 1.5 MB, imagenet_resnet50 2.0 MB, "
        "imagenet_vgg16 700.0 kB"
    )
    assert report.problems == [] and report.text().endswith("the study fits on disk")


def test_no_mirror_answering_is_a_problem_and_exit_status_1(paper_config, monkeypatch, capsys):
    cfg, server = paper_config
    (cfg.parent / "www/IconArt_v1.zip").unlink()  # its three mirrors: a dead host and two 404s
    monkeypatch.setattr("artfinetune.gpu.tensorflow_gpus", NO_GPU)
    monkeypatch.setattr("shutil.disk_usage", PLENTY)
    monkeypatch.setenv("PATH", os.path.dirname(os.__file__))  # no sinfo
    with pytest.raises(SystemExit) as exit_:
        main(["preflight", str(cfg), "--timeout", "5"])
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert "1 problem(s): iconart: none of its 3 mirror(s) answers" in out
    assert "slurm   sinfo" in out and "not installed" in out


def tiny_config(init: dict) -> dict:
    """One demo dataset of 20 images (2 classes x 10), 40 px drawn, stored at 64 px, 3/4 in train and test; two
    layers (64 + 256 channels); one run, one seed, one pair."""
    return prepare_config(
        {
            "results": "results/tiny",
            "image_size": 64,
            "seeds": [1],
            "layers": ["conv2d0", "mixed3a"],
            "datasets": {
                "d": {
                    "source": {
                        "kind": "demo",
                        "generator": "styles",
                        "images_per_class": 10,
                        "image_size": 40,
                        "splits": {"train": 0.5, "val": 0.25, "test": 0.25},
                    },
                    "classes": ["impasto", "pointillism"],
                    "task": "single_label",
                    "store_size": 64,
                }
            },
            "init": {"base": init},
            "modes": {"m": {"lr_head": 0.1, "lr_transferred": 0.1, "epochs": 1}},
            "runs": {"r": {"dataset": "d", "init": "base", "mode": "m"}},
            "comparisons": [["base", "r/1"]],
        }
    )


def test_disk_estimate_known_answers():
    pretrain = disk_needs(tiny_config({"kind": "pretrain", "dataset": "d", "mode": "m"}))
    assert pretrain["source files"] == {"d": 20 * 40 * 48 * 3}  # drawn images, raw: 1.2 x 40 = 48 px long side
    assert pretrain["stores"] == {"d": 20 * 64 * 77 * 3}  # 1.2 x 64 = 76.8 -> 77
    assert pretrain["activations"] == {"d": 2 * 15 * (64 + 256) * 4}  # 2 models x 15 train+test images x 320 ch
    model = 24_600_000 + 4_100 * 2
    assert pretrain["models"] == {"r": 2 * model, "base": model}  # init.keras + model.keras, one seed
    lucid = disk_needs(tiny_config({"kind": "lucid"}), {"base": 1_000_000})
    assert lucid["source files"] == {"d": 115_200, "base": 1_000_000}  # the graph, at its reported size
    assert lucid["models"]["base"] == 24_600_000 + 17_400_000 + (4_100 + 8_200) * 1008  # with the aux heads
    assert disk_needs(tiny_config({"kind": "lucid"}))["source files"]["base"] == 54_000_000  # the spec's estimate
    assert [size_text(n) for n in (950, 2_500_000, 117_512_345_678)] == ["0.9 kB", "2.5 MB", "117.5 GB"]
    # ResNet-50: its 17 analysis layers (the config lists none of its own) hold 64 + 3 x 256 + 4 x 512 + 6 x 1024 +
    # 3 x 2048 channels (He et al., table 1), the weights file at the spec's estimate
    resnet = disk_needs(tiny_config({"kind": "keras", "architecture": "resnet50"}))
    assert resnet["activations"] == {"d": 2 * 15 * (64 + 3 * 256 + 4 * 512 + 6 * 1024 + 3 * 2048) * 4}
    assert resnet["models"] == {"r": 2 * (95_000_000 + 8_200 * 2), "base": 95_000_000 + 8_200 * 1000}
    assert resnet["source files"]["base"] == 95_000_000


def test_too_little_disk_is_a_problem(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    report = preflight(DEMO_CONFIG, gpus=NO_GPU, sinfo="no-sinfo-here", disk_usage=lambda p: Usage(0, 0, 10**6))
    status, size, detail = rows_of(report, "disk")["total"]
    assert status == "too little" and detail == f"1.0 MB free on the filesystem of {tmp_path}"
    assert report.problems == [
        f"the study needs about {size} but {tmp_path} has 1.0 MB free; free some space or set results to a larger "
        "filesystem"
    ]


def test_the_demo_generates_its_sources(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    report = preflight(DEMO_CONFIG, gpus=NO_GPU, sinfo="no-sinfo-here", disk_usage=PLENTY)
    assert {what: status for what, (status, _, _) in rows_of(report, "source").items()} == {
        "demo_source": "generated",
        "demo_styles": "generated",
        "demo_objects": "generated",
        "init imagenet": "generated",
    }
    assert report.problems == []


def test_gpu_row():
    assert gpu_row(lambda: ["/physical_device:GPU:0", "/physical_device:GPU:1"]).status == "2 visible"
    assert gpu_row(list).status == "none visible"

    def broken():
        raise RuntimeError("TensorFlow did not start: libcuda.so.1: cannot open shared object file")

    row = gpu_row(broken)
    assert (row.status, row.detail) == (
        "error",
        "RuntimeError: TensorFlow did not start: libcuda.so.1: cannot open shared object file",
    )


def fake_sinfo(folder, name: str, body: str) -> str:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_slurm_answering_silent_failing_or_absent(tmp_path):
    answers = fake_sinfo(tmp_path, "answers", 'printf "cpu* up 1 (null)\\ngpu up 1 gpu:2\\n"')
    silent = fake_sinfo(tmp_path, "silent", "exec sleep 5")
    failing = fake_sinfo(
        tmp_path, "failing", 'echo "slurm_load_partitions: Unable to contact slurm controller" >&2; exit 1'
    )
    cases = {
        answers: ("answers", "partition cpu* up, 1 node(s), gres (null); partition gpu up, 1 node(s), gres gpu:2"),
        silent: ("no answer", f"{silent} did not answer within 0.5 s (is slurmctld running?)"),
        failing: ("error", "slurm_load_partitions: Unable to contact slurm controller"),
        "no-sinfo-here": ("not installed", "no no-sinfo-here on PATH"),
    }
    for sinfo, expected in cases.items():
        for asked in (False, True):
            report = Report()
            slurm_check(asked, 0.5, report, sinfo)
            assert (report.rows[0].status, report.rows[0].detail) == expected, sinfo
            problem = asked and expected[0] != "answers"
            assert report.problems == ([f"SLURM: {expected[0]} ({expected[1]})"] if problem else []), (sinfo, asked)
