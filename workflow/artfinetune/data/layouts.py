"""A real dataset's files as a source table: its archive or table downloaded, its layout read.

The spec of each dataset (``resources/datasets/<kind>.yaml``) gives its mirrors
(the authors' URL first, then known deposits; a config adds its own before them),
the checksum when the authors publish one, the class names and the layout:

- ``folders`` (RASTA): an archive of ``<split folder>/<class>/<image>``;
- ``csv`` (IconArt): an archive with a table of items, one 0/1 column per class
  and a split column;
- ``url_list`` (Paintings): a table of image URLs with subset and labels; every
  image is fetched on its own, and a dead link is recorded with its reason.

The output is the same source table (id, path, labels, split, status) a demo or
``csv`` dataset has, so every dataset goes through one store builder.
"""

from __future__ import annotations

import csv
import logging
import re
import tarfile
import unicodedata
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import pooch
from tqdm import tqdm

from artfinetune.data.download import fetch
from artfinetune.data.mirrors import DownloadError, Mirror, mirror_list, url_file_name
from artfinetune.io import atomic_path

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def _nfc(text: str) -> str:
    # Folder names such as "Naïve_Art_(Primitivism)" may be stored decomposed in an archive.
    return unicodedata.normalize("NFC", text)


def write_source_table(rows: list[dict], path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "path", "labels", "split", "status"])
        writer.writeheader()
        writer.writerows(rows)


def prepare_dataset(
    name: str, spec: dict, out_dir: str | Path, workers: int = 8, mirrors: list[Mirror] | None = None
) -> Path:
    """Download dataset ``name`` as ``spec`` describes and write ``<out_dir>/source.csv``.

    ``mirrors`` (default: the spec's) are tried in turn; the file keeps the name of the spec's first mirror.
    """
    out_dir = Path(out_dir)
    layout = spec.get("layout")
    spec_mirrors = mirror_list(spec.get("mirrors"), "the dataset spec")
    if not spec_mirrors:
        raise DownloadError(f"the dataset spec of {name} lists no mirrors; add the authors' URL under mirrors")
    get = _Fetch(spec, out_dir, mirrors or spec_mirrors, url_file_name(spec_mirrors[0].url), name)
    if layout == "folders":
        rows = _prepare_folders(spec, get)
    elif layout == "csv":
        rows = _prepare_csv(spec, get)
    elif layout == "url_list":
        rows = _prepare_url_list(spec, get, workers)
    else:
        raise DownloadError(f"dataset spec of {name} has layout {layout!r}; use folders, csv or url_list")
    table = out_dir / "source.csv"
    write_source_table(rows, table)
    bad = sum(1 for r in rows if r["status"] != "ok")
    log.info("%s: listed %d images in %s (%d not available, see its status column)", name, len(rows), table, bad)
    return table


class _Fetch:
    """A dataset's download: its mirrors, the name its file is kept under in ``<out_dir>/download``, and where a
    user adds a mirror."""

    def __init__(self, spec: dict, out_dir: Path, mirrors: list[Mirror], fname: str, name: str):
        self.spec, self.out_dir, self.mirrors, self.fname = spec, out_dir, mirrors, fname
        self.mirror_key = f"datasets.{name}.source.mirrors in the config"

    def __call__(self, processor=None, accept=None) -> str:
        return fetch(
            self.mirrors,
            self.spec.get("sha256"),
            self.out_dir / "download",
            processor=processor,
            fname=self.fname,
            accept=accept,
            mirror_key=self.mirror_key,
        )

    def archive(self) -> Path:
        """Fetch the archive (checked to be one, holding the spec's table if it names one) and unpack it into
        ``<out_dir>/raw``; returns that folder."""
        extract = self.out_dir / "raw"
        if self.fname.endswith(".zip"):
            processor = pooch.Unzip(extract_dir=str(extract.resolve()))
        elif self.fname.endswith((".tar.gz", ".tgz", ".tar")):
            processor = pooch.Untar(extract_dir=str(extract.resolve()))
        else:
            raise DownloadError(
                f"{self.fname} is not a .zip, .tar, .tgz or .tar.gz archive; fix the mirrors in the dataset spec"
            )
        self(processor, accept=lambda path: check_archive(path, self.spec.get("table")))
        return extract


def check_archive(path: Path, table: str | None = None) -> None:
    """A downloaded archive is one (zip or tar), and holds ``table`` when the spec names one (IconArt's CSV): what
    refuses an error page, or another version of the dataset, served under the archive's name."""
    if zipfile.is_zipfile(path):
        if table is not None:
            with zipfile.ZipFile(path) as z:
                if table not in z.namelist():
                    raise DownloadError(f"the zip archive has no {table}")
    elif not tarfile.is_tarfile(path):
        raise DownloadError("it is neither a zip nor a tar archive")


def _prepare_folders(spec: dict, get: _Fetch) -> list[dict]:
    root, out_dir = get.archive(), get.out_dir
    rows = []
    for split, folder in spec["splits"].items():
        found = sorted(p for p in root.rglob(folder) if p.is_dir())
        if not found:
            raise DownloadError(
                f"the archive {get.fname} has no folder {folder!r} (split {split}); its top level holds "
                f"{sorted(p.name for p in root.iterdir())}"
            )
        for class_dir in sorted(p for p in found[0].iterdir() if p.is_dir()):
            for image in sorted(class_dir.iterdir()):
                if image.suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                rel = image.relative_to(out_dir).as_posix()
                rows.append(
                    {
                        "id": _nfc(f"{split}/{class_dir.name}/{image.stem}"),
                        "path": rel,
                        "labels": _nfc(class_dir.name),
                        "split": split,
                        "status": "ok",
                    }
                )
    return rows


def _prepare_csv(spec: dict, get: _Fetch) -> list[dict]:
    root, out_dir = get.archive(), get.out_dir
    table = root / spec["table"]
    if not table.exists():
        raise DownloadError(f"the archive {get.fname} has no table {spec['table']}; check table in the spec")
    split_of = {v: k for k, v in spec["splits"].items()}
    with open(table, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ["item", "set", *spec["classes"]] if c not in (reader.fieldnames or [])]
        if missing:
            raise DownloadError(f"{table} lacks columns {missing}; it has {reader.fieldnames}")
        rows = []
        for rec in reader:
            labels = [c for c in spec["classes"] if rec[c].strip() not in ("", "0", "0.0")]
            split = split_of.get(rec["set"].strip())
            status = "ok" if split else f"skipped (set {rec['set']!r} is not one of {list(split_of)})"
            path = (root / spec["images"].format(item=rec["item"])).relative_to(out_dir).as_posix()
            rows.append(
                {"id": rec["item"], "path": path, "labels": ";".join(labels), "split": split or "", "status": status}
            )
    return rows


def parse_label_list(text: str, aliases: dict[str, str] | None = None) -> list[str]:
    """Labels of a Paintings row: a list written with brackets, quotes, commas and/or spaces.

    ``aliases`` rewrite multi-word names first (``dining table`` -> ``diningtable``).
    """
    for name, alias in (aliases or {}).items():
        text = text.replace(name, alias)
    return [t for t in re.split(r"[\s,;]+", re.sub(r"[\[\]'\"]", " ", text)) if t]


def _clean(value: str) -> str:
    return value.strip().strip("'\"").strip()


URL_LIST_COLUMNS = ["Image URL", "Subset", "Labels"]


def _url_list_reader(f) -> csv.DictReader:
    header = f.readline()
    f.seek(0)
    # Published versions use ',' or ';'; quotes inside fields are single quotes, so only '"' quotes.
    delimiter = max(",;\t", key=header.count)
    return csv.DictReader(f, delimiter=delimiter, quotechar='"')


def check_url_list(path: Path) -> None:
    """A downloaded table of image URLs has the columns Paintings' has (an error page does not)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            found = _url_list_reader(f).fieldnames or []
    except UnicodeDecodeError:
        raise DownloadError("it is not a text table") from None
    missing = [c for c in URL_LIST_COLUMNS if c not in found]
    if missing:
        raise DownloadError(f"the table lacks columns {missing}; it has {found[:10]}")


def _prepare_url_list(spec: dict, get: _Fetch, workers: int) -> list[dict]:
    out_dir = get.out_dir
    table = Path(get(accept=check_url_list))
    split_of = {v: k for k, v in spec["splits"].items()}
    with open(table, newline="", encoding="utf-8-sig") as f:
        reader = _url_list_reader(f)
        missing = [c for c in URL_LIST_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise DownloadError(f"{table} lacks columns {missing}; it has {reader.fieldnames}")
        records = list(reader)
    images = out_dir / "images"
    aliases = spec.get("label_aliases", {})
    rows, jobs, first_of_url, ids = [], [], {}, set()
    for n, rec in enumerate(records, start=1):
        url = _clean(rec["Image URL"])
        split = split_of.get(_clean(rec["Subset"]))
        stem = PurePosixPath(urlparse(url).path).stem if url.startswith("http") else ""
        row_id = stem or f"row{n}"
        if row_id in ids:  # a repeated row, or another painting with the same file name
            row_id = f"{row_id}_row{n}"
        ids.add(row_id)
        labels = ";".join(parse_label_list(rec["Labels"], aliases))
        row = {"id": row_id, "path": f"images/{row_id}.jpg", "labels": labels, "split": split or ""}
        if not stem:
            row["status"] = f"skipped (no image URL: {url!r})"
        elif url in first_of_url:  # the published table repeats some paintings
            row["status"] = f"skipped (duplicate of {first_of_url[url]})"
        elif split is None:
            row["status"] = f"skipped (subset {rec['Subset']!r} is not one of {list(split_of)})"
        else:
            row["status"] = "pending"
            jobs.append((row, url))
        if stem:
            first_of_url.setdefault(url, row_id)
        rows.append(row)

    def get(job):
        row, url = job
        try:
            fetch(url, None, images, fname=f"{row['id']}.jpg", progressbar=False, record=False)
            row["status"] = "ok"
        except DownloadError as err:
            row["status"] = f"dead link ({err})"

    log.info("fetching %d images with %d threads", len(jobs), workers)
    with ThreadPoolExecutor(workers) as pool:
        list(tqdm(pool.map(get, jobs), total=len(jobs), desc="images", mininterval=5, unit="img"))
    return rows


def download_job(name: str, dataset: dict, out_dir: str | Path, workers: int = 8) -> Path:
    """The download_dataset rule: dataset ``name`` (its config section, a real source) listed in ``source.csv``,
    from the config's mirrors, then the spec's."""
    from artfinetune.data.sources import REAL_KINDS, load_spec, source_mirrors

    source = dataset["source"]
    if source["kind"] not in REAL_KINDS:
        raise DownloadError(f"dataset {name!r} is not downloaded (source kind {source['kind']!r})")
    spec = load_spec(source)
    return prepare_dataset(name, spec, out_dir, workers=workers, mirrors=source_mirrors(name, source, spec))
