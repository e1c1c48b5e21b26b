"""What a SLURM cluster can run: the nodes of each partition, and the jobs of a run that no node can take.

SLURM accepts a job that asks a partition for more cores than any of its nodes has and leaves it pending
for ever (reason ``PartitionConfig``); a workflow of days then waits in silence. Before the first job is
submitted, the Snakefile (``onstart``, under the SLURM executor) hands every job it will submit to
:func:`check_requests`, which stops the run with one sentence per rule that can never start: the rule, what it
asks for, in which partition, and what that partition's largest nodes have.

The partitions come from ``sinfo`` (one line per node and partition: cores, memory in MB, generic resources).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from artfinetune.errors import UserError

SINFO = ["sinfo", "--noheader", "--Node", "--format=%N|%P|%c|%m|%G"]


@dataclass(frozen=True)
class Node:
    name: str
    cpus: int
    memory_mb: int
    gpus: int


@dataclass(frozen=True)
class Request:
    """What one job asks of the cluster (what the SLURM executor passes to sbatch)."""

    rule: str
    partition: str | None  # None: the cluster's default partition
    cpus: int
    memory_mb: int | None
    gpus: int


@dataclass(frozen=True)
class Partitions:
    nodes: dict[str, list[Node]]  # partition -> its nodes
    default: str | None


def gres_gpus(gres: str) -> int:
    """GPUs in a generic-resource string such as ``gpu:2``, ``gpu:a100:4(S:0-1)`` or ``(null)``."""
    total = 0
    for item in gres.split(","):
        match = re.match(r"gpu(?::[^:(]+)?:(\d+)", item.strip())
        if match:
            total += int(match[1])
    return total


def parse_sinfo(text: str) -> Partitions:
    """Partitions from the output of :data:`SINFO` (the default partition is marked with ``*``)."""
    nodes: dict[str, list[Node]] = {}
    default = None
    for line in text.splitlines():
        if not line.strip():
            continue
        name, partition, cpus, memory, gres = line.split("|")
        if partition.endswith("*"):
            partition = default = partition[:-1]
        node = Node(name, int(cpus), int(memory.rstrip("+")), gres_gpus(gres))
        nodes.setdefault(partition, []).append(node)
    return Partitions(nodes, default)


def cluster_partitions() -> Partitions:
    """This cluster's partitions, asked of ``sinfo``."""
    try:
        out = subprocess.run(SINFO, capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError) as err:
        detail = getattr(err, "stderr", "") or err
        raise UserError(f"could not list the cluster's partitions with `{' '.join(SINFO)}`: {detail}") from None
    return parse_sinfo(out)


def _amount(n: int, unit: str) -> str:
    return f"{n} {unit}" + ("" if n == 1 or unit == "MB" else "s")


def _describe(cpus: int, memory_mb: int | None, gpus: int) -> str:
    parts = [_amount(cpus, "CPU")]
    if memory_mb is not None:
        parts.append(_amount(memory_mb, "MB"))
    parts.append(_amount(gpus, "GPU"))
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def unsatisfiable(requests: list[Request], partitions: Partitions) -> list[str]:
    """One sentence per rule whose request no node of its partition can satisfy (first job of each rule)."""
    problems, seen = [], set()
    for req in requests:
        partition = req.partition or partitions.default
        key = (req.rule, partition, req.cpus, req.memory_mb, req.gpus)
        if key in seen:
            continue
        seen.add(key)
        asks = f"rule {req.rule} asks for {_describe(req.cpus, req.memory_mb, req.gpus)}"
        nodes = partitions.nodes.get(partition or "")
        if not nodes:
            known = ", ".join(sorted(partitions.nodes)) or "none"
            problems.append(f"{asks} in partition {partition}, which this cluster does not have (it has: {known})")
            continue
        fits = any(
            n.cpus >= req.cpus and (req.memory_mb is None or n.memory_mb >= req.memory_mb) and n.gpus >= req.gpus
            for n in nodes
        )
        if not fits:
            largest = _describe(max(n.cpus for n in nodes), max(n.memory_mb for n in nodes), max(n.gpus for n in nodes))
            problems.append(
                f"{asks} in partition {partition}, whose nodes have at most {largest}, so it would wait for ever; "
                "lower its threads or resources in the SLURM profile (set-threads, set-resources) or send it to "
                "another partition"
            )
    return problems


def check_requests(requests: list[Request], partitions: Partitions | None = None) -> None:
    """Stop with one sentence (a line) per rule that no node of its partition can run (``partitions``: asked of
    sinfo)."""
    if not requests:
        return
    problems = unsatisfiable(requests, partitions or cluster_partitions())
    if problems:
        raise UserError("".join(f"{problem}.\n" for problem in problems).rstrip("\n"))


def job_request(job) -> Request:
    """The request of a Snakemake job as the SLURM executor makes it: CPUs per task (``cpus_per_task``, else the
    job's threads), ``mem_mb`` (or ``mem_mb_per_cpu`` times the CPUs), GPUs (``gpu``, else a ``gres`` of gpus)."""
    resources = job.resources
    cpus = int(resources.get("cpus_per_task") or job.threads or 1)
    memory = resources.get("mem_mb")
    if memory is None and resources.get("mem_mb_per_cpu") is not None:
        memory = resources.get("mem_mb_per_cpu") * cpus
    gpus = resources.get("gpu") or gres_gpus(str(resources.get("gres") or ""))
    return Request(
        rule=job.rule.name,
        partition=resources.get("slurm_partition") or None,
        cpus=cpus,
        memory_mb=int(memory) if memory is not None else None,
        gpus=int(gpus),
    )


def check_workflow(workflow) -> None:
    """Under the SLURM executor, every job this run will submit checked against the cluster's partitions."""
    plugin = getattr(workflow, "executor_plugin", None)
    if plugin is None or plugin.name != "slurm":
        return
    jobs = [job for job in workflow.dag.needrun_jobs() if not job.is_local]
    check_requests([job_request(job) for job in jobs])
