"""The SLURM profile on a real one-node cluster (tests/slurm/), and the rules it sends to each partition."""

import os
import re
import subprocess
import sysconfig
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from artfinetune.cluster import Node, Partitions, Request, check_requests, gres_gpus, parse_sinfo, unsatisfiable
from artfinetune.data.store import read_store_info
from artfinetune.errors import UserError
from artfinetune.model.files import load_model

from .conftest import DEMO_CONFIG, REPO
from .fixtures_http import Server, make_iconart_zip
from .slurm_cluster import PACE, PROFILE, cluster_env, rule_of, show_jobs, site_profile

SCRIPTS = Path(sysconfig.get_path("scripts"))  # .venv/bin: its snakemake, without activating the environment
RULE = re.compile(r"^(local)?rule (\w+):\n((?:[ \t]+.*\n|\n)*)", re.M)


def workflow_text() -> str:
    """The Snakefile and every rules file, one after the other."""
    return "\n".join(p.read_text() for p in [REPO / "Snakefile", *sorted((REPO / "workflow/rules").glob("*.smk"))])


def rules_with_resources() -> dict[str, str]:
    """Every rule of the workflow and the text of its ``resources:`` block ('' when it has none)."""
    text = workflow_text()
    rules = {}
    for match in RULE.finditer(text + "\n"):
        body = match[3]
        block = re.search(r"^    resources:\n((?:        .*\n)*)", body, re.M)
        rules[match[2]] = block[1] if block else ""
    return rules


def gpu_rules() -> set[str]:
    return {rule for rule, resources in rules_with_resources().items() if re.search(r"\bgpu\s*=", resources)}


def local_rules() -> set[str]:
    """Every rule a ``localrules:`` directive names (the Snakefile's, and a rules file's for a rule of its own)."""
    blocks = re.findall(r"^( *)localrules:\n((?:\1    .*\n)*)", workflow_text(), re.M)
    return {name.strip(" ,") for _, block in blocks for name in block.split() if name.strip(" ,")}


def test_every_gpu_rule_runs_in_the_gpu_partition_of_the_shipped_profile():
    rules = rules_with_resources()
    assert {"train", "pretrain", "activations", "render", "render_changed"} <= gpu_rules() <= set(rules)
    profile = yaml.safe_load(PROFILE.read_text())
    settings = profile["set-resources"]
    for rule in gpu_rules():
        assert rule in settings, (
            f"rule {rule} asks for a GPU but the SLURM profile does not send it to the GPU partition"
        )
        assert settings[rule]["slurm_partition"] == "gpu", rule
        assert settings[rule]["runtime"] >= 60 and settings[rule]["mem_mb"] >= 8000, rule
    for rule, resources in settings.items():  # and only those: the site policy refuses CPU jobs in gpu
        assert rule in rules, f"the SLURM profile sets resources of {rule}, which is no rule"
        assert (resources.get("slurm_partition") == "gpu") == (rule in gpu_rules()), rule
    assert profile["default-resources"]["slurm_partition"] == "cpu"
    assert not gpu_rules() & local_rules()
    assert profile["retries"] >= 1  # a preempted job is submitted again


def test_a_rule_that_no_node_can_run_is_named_with_its_request_and_the_partitions_limits():
    partitions = parse_sinfo("n1|cpu*|2|22000|(null)\nn1|gpu|2|22000|gpu:2\nn2|gpu|16|64000|gpu:a100:4(S:0-1)\n")
    assert partitions.default == "cpu"
    assert partitions.nodes["gpu"][1] == Node("n2", 16, 64000, 4)
    assert gres_gpus("gpu:2,gpu:v100:1") == 3 and gres_gpus("(null)") == 0
    fits = [
        Request("train", "gpu", 16, 64000, 1),  # the larger gpu node
        Request("topk", None, 2, 8000, 0),  # the default partition
        Request("render", "gpu", 2, None, 4),
    ]
    check_requests(fits, partitions)
    too_big = [
        Request("train", "gpu", 32, 8000, 1),
        Request("train", "gpu", 32, 8000, 1),  # another job of the same rule: one sentence
        Request("topk", None, 2, 30000, 0),
        Request("render", "gpu", 2, 8000, 8),
        Request("l2", "bigmem", 1, 1000, 0),
    ]
    problems = unsatisfiable(too_big, partitions)
    assert problems == [
        "rule train asks for 32 CPUs, 8000 MB and 1 GPU in partition gpu, whose nodes have at most 16 CPUs, "
        "64000 MB and 4 GPUs, so it would wait for ever; lower its threads or resources in the SLURM profile "
        "(set-threads, set-resources) or send it to another partition",
        "rule topk asks for 2 CPUs, 30000 MB and 0 GPUs in partition cpu, whose nodes have at most 2 CPUs, "
        "22000 MB and 0 GPUs, so it would wait for ever; lower its threads or resources in the SLURM profile "
        "(set-threads, set-resources) or send it to another partition",
        "rule render asks for 2 CPUs, 8000 MB and 8 GPUs in partition gpu, whose nodes have at most 16 CPUs, "
        "64000 MB and 4 GPUs, so it would wait for ever; lower its threads or resources in the SLURM profile "
        "(set-threads, set-resources) or send it to another partition",
        "rule l2 asks for 1 CPU, 1000 MB and 0 GPUs in partition bigmem, which this cluster does not have "
        "(it has: cpu, gpu)",
    ]
    with pytest.raises(UserError, match="^rule train asks for 32 CPUs"):
        check_requests(too_big, partitions)
    check_requests([], Partitions({}, None))  # nothing to submit: nothing asked of sinfo


# -- on the real cluster


def tiny_study(folder: Path, **changes) -> Path:
    """The demo cut to what reaches every GPU rule: tiny stores, one seed, mode A for 2 epochs, renders of a few
    steps, one gallery pair (its changed renders need every earlier stage)."""
    config = yaml.safe_load(DEMO_CONFIG.read_text())
    config["results"] = str(folder / "results")
    config["datasets"] = {"demo_styles": config["datasets"]["demo_styles"]}  # the pretraining's too: two jobs fewer
    config["init"]["imagenet"]["dataset"] = "demo_styles"
    for ds in config["datasets"].values():
        ds["source"].update(images_per_class=6, image_size=72)
    config["modes"] = {
        "pretrain": {**config["modes"]["pretrain"], "epochs": 1},
        "A": {**config["modes"]["A"], "epochs": 2},
    }
    config["seeds"] = [1]
    config["runs"] = {"styles_A": {"dataset": "demo_styles", "init": "imagenet", "mode": "A"}}
    config["topk"] = [3]
    config["render"] = {"size": 32, "steps": 2, "batch": 8, "per_layer": 1, "channels": ["mixed4a:10"]}
    config["layers"] = ["mixed3a", "mixed4a"]
    config["galleries"] = [["imagenet", "styles_A/1"]]
    for key in ("ensembles", "tables", "figures", "comparison_tables", "mode_tables", "panels", "findings"):
        config[key] = {}
    config["comparisons"] = []
    config.update(changes)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def without_the_environment(env: dict) -> dict:
    """``env`` with a PATH that does not have the .venv's bin/ (as if it were not activated), pacing squeue first."""
    bare = [p for p in ("/usr/local/bin", "/usr/bin", "/bin") if Path(p).is_dir()]
    env = {k: v for k, v in env.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    return {**env, "PATH": os.pathsep.join([str(PACE), *bare])}


def snakemake(folder: Path, config: Path, profile: Path, env: dict, *targets, timeout=600):
    cmd = [
        SCRIPTS / "snakemake",
        *targets,
        "--configfile",
        config,
        "--workflow-profile",
        profile,
        "--snakefile",
        REPO / "Snakefile",
        "--directory",
        folder,
        # the plugin's pace, for a test (a site keeps its defaults)
        "--latency-wait",
        "5",
        "--seconds-between-status-checks",
        "2",
        "--slurm-init-seconds-before-status-checks",
        "1",
    ]
    env = without_the_environment(env)
    proc = subprocess.run([str(c) for c in cmd], cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def cluster():
    return cluster_env()


@pytest.fixture(scope="module")
def study(cluster, tmp_path_factory):
    """The pretrained model's renders of the tiny study's gallery pair, named and changed (and a downloaded IconArt
    store), built through the shipped profile: every GPU rule (pretrain, train, activations, render,
    render_changed) and the CPU rules between them, one job each where one is enough."""
    folder = tmp_path_factory.mktemp("slurm_study")
    www = folder / "www"
    www.mkdir()
    make_iconart_zip(www / "IconArt_v1.zip", [(f"Q{i}", ["Mary"], "train" if i < 6 else "test") for i in range(8)])
    with Server(www) as server:
        spec = yaml.safe_load((REPO / "resources/datasets/iconart.yaml").read_text())
        spec["mirrors"] = [f"{server.url}/IconArt_v1.zip"]
        (folder / "iconart.yaml").write_text(yaml.safe_dump(spec))
        iconart = yaml.safe_load((REPO / "config.yaml").read_text())["datasets"]["iconart"]
        iconart["source"]["spec"] = str(folder / "iconart.yaml")
        iconart["store_size"] = 64
        config = tiny_study(folder)
        data = yaml.safe_load(config.read_text())
        data["datasets"]["iconart"] = iconart
        config.write_text(yaml.safe_dump(data))
        profile = site_profile(folder / "profile", cluster)
        results = folder / "results"
        renders = results / "renders/imagenet"
        targets = [renders / "named", renders / "changed/imagenet_vs_styles_A.1", results / "data/iconart/store.h5"]
        code, out = snakemake(folder, config, profile, cluster, *targets)
    assert code == 0, out[-5000:]
    return folder, config, profile, out, targets


def test_each_job_runs_in_its_partition_with_its_gpu_request(cluster, study):
    folder, _, _, out, targets = study
    assert all(t.exists() for t in targets)
    assert read_store_info(folder / "results/data/iconart/store.h5")["n"] == 8
    jobs = show_jobs(cluster, folder)
    table = sorted((rule_of(j), j["Partition"], j.get("TresPerJob", "(null)"), j["JobState"]) for j in jobs)
    print("\n".join(" ".join(row) for row in table))  # the job table, for the record
    rules = {row[0] for row in table}
    assert {"train", "pretrain", "activations", "render", "render_changed"} <= rules  # every GPU rule ran
    assert {"demo_dataset", "image_store", "topk", "overlap"} <= rules
    assert "download_dataset" not in rules  # a localrule: run by Snakemake itself
    assert "localrule download_dataset:" in out
    for rule, partition, tres, state in table:
        assert state == "COMPLETED", (rule, state)
        if rule in gpu_rules():
            assert (partition, tres) == ("gpu", "gres:gpu:1"), rule
        else:
            assert (partition, tres) == ("cpu", "(null)"), rule


def test_a_cancelled_training_is_submitted_again_and_resumes_to_the_uninterrupted_result(cluster, study):
    folder, config, profile, _, _ = study
    data = yaml.safe_load(config.read_text())
    data["modes"]["long"] = {**data["modes"]["A"], "epochs": 6}
    data["runs"]["styles_long"] = {"dataset": "demo_styles", "init": "imagenet", "mode": "long"}
    long_config = folder / "long.yaml"
    long_config.write_text(yaml.safe_dump(data))
    target = folder / "results/models/styles_long/1/model.keras"
    code, dry = snakemake(folder, long_config, profile, cluster, target, "-n", "-p")
    assert code == 0 and re.findall(r"^rule (\w+):", dry, re.M) == ["train"], dry[-3000:]  # only the training
    command = re.search(r"^Shell command: (artfinetune train .*) 2> \S+$", dry, re.M)[1]

    cmd = [SCRIPTS / "snakemake", target, "--configfile", long_config, "--workflow-profile", profile]
    cmd += ["--snakefile", REPO / "Snakefile", "--directory", folder, "--latency-wait", "5"]
    cmd += ["--seconds-between-status-checks", "2", "--slurm-init-seconds-before-status-checks", "1"]
    env = without_the_environment(cluster)
    proc = subprocess.Popen([str(c) for c in cmd], cwd=folder, env=env, stdout=subprocess.PIPE, text=True,
                            stderr=subprocess.STDOUT)  # fmt: skip
    state = folder / "results/models/styles_long/1/checkpoint/state.npz"
    deadline = time.monotonic() + 300
    while not state.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert state.exists(), "no epoch finished"
    (first,) = [j for j in show_jobs(cluster, folder) if rule_of(j) == "train" and j["JobState"] == "RUNNING"]
    subprocess.run(["scancel", first["JobId"]], env=cluster, check=True)  # preempted after its first epoch(s)
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-5000:]
    trains = [j for j in show_jobs(cluster, folder) if rule_of(j) == "train" and "styles_long" in j["Comment"]]
    assert sorted(j["JobState"] for j in trains) == ["CANCELLED", "COMPLETED"], trains
    log = (folder / "results/logs/train/styles_long/1.log").read_text()
    resumed = re.search(r"resuming after epoch (\d)", log)
    assert resumed and 1 <= int(resumed[1]) < 6, log[-3000:]

    # The same command, uninterrupted, on this machine: the same weights, bit for bit.
    again = folder / "uninterrupted"
    alone = re.sub(r"--out \S+", f"--out {again}", command)
    done = subprocess.run(alone, shell=True, cwd=folder, capture_output=True, text=True,
                          env={**cluster, "PATH": f"{SCRIPTS}:{cluster['PATH']}"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    resumed_weights = load_model(target).get_weights()
    clean_weights = load_model(again / "model.keras").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(resumed_weights, clean_weights, strict=True))


def test_a_request_no_node_can_satisfy_stops_the_workflow_before_any_submission(cluster, study):
    folder, config, _, _, _ = study
    cpus = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout)
    profile = site_profile(folder / "greedy", cluster)
    settings = yaml.safe_load((profile / "config.yaml").read_text())
    settings["set-threads"]["train"] = 64
    settings["cores"] = 64
    (profile / "config.yaml").write_text(yaml.safe_dump(settings))
    before = len(show_jobs(cluster, folder))
    target = folder / "results/models/styles_A/1/model.keras"
    code, out = snakemake(folder, config, profile, cluster, target, "--forcerun", "train", timeout=120)
    assert code != 0
    assert "rule train asks for 64 CPUs" in out, out[-3000:]
    assert f"and 1 GPU in partition gpu, whose nodes have at most {cpus} CPUs" in out, out[-3000:]
    assert len(show_jobs(cluster, folder)) == before  # nothing submitted


def test_preflight_finds_the_clusters_partitions(cluster, tmp_path):
    config = tiny_study(tmp_path)
    proc = subprocess.run([SCRIPTS / "artfinetune", "preflight", config, "--slurm"], env=cluster, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    row = next(line for line in proc.stdout.splitlines() if line.startswith("slurm"))
    assert "answers" in row and "partition cpu* up, 1 node(s), gres gpu:2" in row, proc.stdout
    assert "partition gpu up, 1 node(s), gres gpu:2" in row
