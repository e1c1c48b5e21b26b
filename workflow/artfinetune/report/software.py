"""The software record of the report: the versions the study's numbers were computed with."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from artfinetune.io import atomic_path

# Distributions whose versions the report records (the numbers depend on them).
SOFTWARE = (
    "artfinetune",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
    "numpy",
    "h5py",
    "pandas",
    "scikit-learn",
    "scipy",
    "lucid",
    "snakemake",
    "matplotlib",
    "seaborn",
    "pillow",
)


def software_versions() -> dict[str, str]:
    """Python, the platform, and the installed version of each distribution in SOFTWARE (absent ones left out)."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in SOFTWARE:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def write_software(out: str | Path) -> Path:
    """The software record of the report: one ``name version`` line per distribution, as installed here."""
    lines = [f"{name} {version}" for name, version in software_versions().items()]
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return Path(out)
