"""The command line: a user's mistake ends in one sentence naming it (exit 2), never a traceback."""

import json

import pytest

from artfinetune.cli import main
from artfinetune.data.store import build_store

from .conftest import write_images, write_table


@pytest.fixture
def store64(tmp_path):
    write_images(tmp_path / "img", 9, size=(64, 64))
    splits = ["train"] * 3 + ["val"] * 3 + ["test"] * 3
    rows = [{"id": str(i), "path": f"img/img{i}.png", "labels": "ab"[i % 2], "split": splits[i]} for i in range(9)]
    table = write_table(tmp_path / "source.csv", rows)
    build_store(table, tmp_path, tmp_path / "store.h5", tmp_path / "manifest.csv", ["a", "b"], "single_label", 64)
    return tmp_path / "store.h5"


def test_a_mode_given_as_json_gets_the_schema_defaults(store64, tmp_path):
    """The README's example mode names only the rates and epochs: batch size, optimizer and the rest default."""
    mode = '{"lr_head": 0.01, "lr_transferred": 0.001, "epochs": 1}'
    args = ["train", "--seed", "1", "--mode-json", mode, "--store", str(store64), "--out", str(tmp_path / "run")]
    assert main([*args, "--image-size", "64"]) == 0
    result = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert result["n"] == 3 and result["deterministic"] is True


def test_train_takes_the_architecture_of_its_init_or_the_one_it_is_given(store64, tmp_path):
    import keras

    from artfinetune.model.architectures import architecture, saved_model_name
    from artfinetune.model.files import save_model

    mode = '{"lr_head": 0.01, "lr_transferred": 0.01, "epochs": 1}'
    args = ["train", "--seed", "1", "--mode-json", mode, "--store", str(store64), "--image-size", "64"]
    keras.utils.set_random_seed(0)
    init = save_model(architecture("vgg16").build(5, input_size=64), tmp_path / "vgg16.keras")
    assert main([*args, "--init", str(init), "--out", str(tmp_path / "from_init")]) == 0  # no --architecture needed
    assert saved_model_name(tmp_path / "from_init/model.keras") == "vgg16"
    assert main([*args, "--architecture", "vgg16", "--out", str(tmp_path / "random")]) == 0
    assert saved_model_name(tmp_path / "random/model.keras") == "vgg16"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["train", "--seed", "1", "--mode-json", "{lr_head: 1}", "--store", "s", "--out", "o", "--image-size", "64"],
            "--mode-json is not valid JSON",
        ),
        (
            [
                "train",
                "--seed",
                "1",
                "--mode-json",
                '{"lr_head": "fast", "lr_transferred": 0, "epochs": 1}',
                "--store",
                "s",
                "--out",
                "o",
                "--image-size",
                "64",
            ],
            "--mode-json: lr_head has the wrong type",
        ),
        (
            [
                "train",
                "--seed",
                "1",
                "--mode-json",
                '{"lr_head": 0.1, "lr_transferred": 0, "epochs": 1, "lr": 2}',
                "--store",
                "s",
                "--out",
                "o",
                "--image-size",
                "64",
            ],
            "unknown key 'lr' in --mode-json",
        ),
        (["demo-dataset", "x", "--dataset-json", '{"source": {"kind": "demo"}}', "--out", "o"], "'generator'"),
        (
            [
                "build-store",
                "x",
                "--dataset-json",
                '{"source": {"kind": "csv", "table": "t", "root": "r"}, "task": "multi_label"}',
                "--table",
                "t",
                "--root",
                "r",
                "--store",
                "s",
                "--manifest",
                "m",
            ],
            "needs a 'classes' list",
        ),
        (["store-info", "BAD"], "is not an image store (not an HDF5 file)"),
        (["export", "BAD", "--out", "m.pb"], "is not a Keras model file"),
        (["table", "--spec-json", "{}", "--out-csv", "t.csv", "--out-md", "t.md"], "the table spec lacks rows"),
        (["mode-table", "--spec-json", "{}", "--out-csv", "t.csv", "--out-md", "t.md"], "mode table spec lacks rows"),
        (
            ["activations", "--model", "m", "--store", "s", "--split", "test", "train", "--tensors", "conv2d0"]
            + ["--image-size", "64", "--out", "test.h5"],
            "--split names 2 splits but --out 1 files",
        ),
        (
            ["train", "r", "--config", "c.yaml", "--seed", "1", "--architecture", "vgg16"],
            "--architecture is for a run given in full; a config's run has its own",
        ),
    ],
)
def test_user_mistakes_end_in_one_sentence(tmp_path, capsys, argv, message):
    bad = tmp_path / "bad.file"
    bad.write_text("not what it should be")
    assert main([str(bad) if a == "BAD" else a for a in argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["random-model", "--out", "r.keras", "--classes", "0"],
        ["random-model", "--out", "r.keras", "--input-size", "10"],
    ],
)
def test_out_of_range_numbers_are_refused_by_the_parser(capsys, argv):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2 and "is below the minimum" in capsys.readouterr().err


def test_reader_workers_come_from_the_option_else_from_the_workflow_environment(monkeypatch, capsys):
    from artfinetune.cli import build_parser
    from artfinetune.cli.args import reader_workers

    argv = ["activations", "--model", "m", "--store", "s", "--split", "test", "--tensors", "conv2d0"]
    argv += ["--image-size", "64", "--out", "t.h5"]
    parse = build_parser().parse_args
    monkeypatch.delenv("ARTFT_READER_WORKERS", raising=False)
    assert reader_workers(parse(argv)) == 1
    monkeypatch.setenv("ARTFT_READER_WORKERS", "4")  # what the Snakefile sets from the config's reader_workers
    assert reader_workers(parse(argv)) == 4
    assert reader_workers(parse([*argv, "--reader-workers", "2"])) == 2
    monkeypatch.setenv("ARTFT_READER_WORKERS", "four")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "ARTFT_READER_WORKERS is 'four'; set it to a whole number of at least 1" in err and "Traceback" not in err
