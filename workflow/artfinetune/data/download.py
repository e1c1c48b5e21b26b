"""Downloads that survive interruptions and are checked: archives, tables and weights, fetched with pooch.

Archives (and the Paintings table, and Lucid's weights) are fetched with pooch
into ``<out>/download`` by :func:`fetch`:

- the partial bytes of an interrupted download stay in ``<file>.part`` and the
  next run resumes from them with an HTTP Range request (RASTA is ~20 GiB);
- the file is placed under its name only once complete;
- the authors publish no checksums, so the sha256 of the first download is
  recorded beside it in ``<file>.sha256`` (``sha256sum`` format), and every
  later use checks the file against it (and against the spec's sha256, when
  given) before anything is unpacked: a mismatch stops with a DownloadError;
- a file already there is reused (and its hash recorded), so an offline machine
  can be given the archive by hand.

How a dataset's files become its source table is :mod:`artfinetune.data.layouts`.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

import pooch
import requests
from tqdm import tqdm

from artfinetune.errors import UserError
from artfinetune.io import atomic_path, file_sha256

log = logging.getLogger(__name__)
# pooch's hint to pass the logged hash as known_hash does not apply here: fetch records it in <file>.sha256 itself.
pooch.get_logger().addFilter(lambda record: not str(record.msg).startswith("SHA256 hash of downloaded file"))

CHUNK = 1 << 20  # bytes per read when streaming or hashing a file
TIMEOUT = (30, 300)  # seconds to connect, and to wait for the next bytes of a response


class DownloadError(UserError):
    """A dataset could not be fetched or does not have the layout its spec describes."""


def record_path(target: Path) -> Path:
    """Where the sha256 of ``target``'s first download is kept."""
    return target.with_name(f"{target.name}.sha256")


def part_path(target: Path) -> Path:
    """Where the bytes of an unfinished download of ``target`` are kept (stable across runs, unlike pooch's)."""
    return target.with_name(f"{target.name}.part")


def read_record(record: Path) -> str | None:
    if not record.exists():
        return None
    fields = record.read_text().split()
    if not fields or not re.fullmatch(r"[0-9a-fA-F]{64}", fields[0]):
        raise DownloadError(
            f"{record} does not hold a line '<sha256>  <name>'; delete it to record the hash of the file beside it anew"
        )
    return fields[0].lower()


def write_record(record: Path, sha256: str, name: str) -> None:
    with atomic_path(record) as tmp:
        tmp.write_text(f"{sha256}  {name}\n")


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a Content-Range header ``bytes a-b/n`` or ``bytes */n``; None where unknown."""
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-\d+|\*)/(\d+|\*)\s*", header or "")
    if not m:
        return None, None
    return (int(m[1]) if m[1] else None), (int(m[2]) if m[2] != "*" else None)


class ResumableDownload:
    """A pooch downloader that resumes an interrupted download of ``target`` with an HTTP Range request.

    pooch passes a temporary output name that changes on every run, so the partial bytes live in
    ``<target>.part``; they are renamed onto pooch's name only once complete, and only if their sha256 equals
    ``expected`` (when given). ``sha256`` holds the hash of the finished file.
    """

    def __init__(self, target: Path, expected: str | None = None, source: str = "", progressbar: bool = True):
        self.target = Path(target)
        self.part = part_path(self.target)
        self.validator = self.part.with_name(f"{self.part.name}.validator")
        self.expected = expected
        self.source = source
        self.progressbar = progressbar
        self.sha256: str | None = None

    def __call__(self, url: str, output_file, pooch_instance=None, check_only: bool = False):
        if check_only:
            with requests.head(url, allow_redirects=True, timeout=TIMEOUT) as r:
                return r.status_code == 200
        have = self.part.stat().st_size if self.part.exists() else 0
        headers = {}
        if have:
            headers["Range"] = f"bytes={have}-"
            if self.validator.exists():  # the server then sends the whole file if it changed since the first bytes
                headers["If-Range"] = self.validator.read_text().strip()
        with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT) as r:
            start, total = _content_range(r.headers.get("Content-Range"))
            if have and r.status_code == 416:  # no bytes after `have`: the part is complete, or longer than the file
                if total != have:
                    log.warning("%s holds %d bytes but %s has %s; starting over", self.part, have, url, total)
                    return self._restart(url, output_file, pooch_instance)
            elif have and r.status_code == 206:
                if start != have:
                    log.warning("%s sent bytes from %s, not from %d; starting %s over", url, start, have, self.part)
                    return self._restart(url, output_file, pooch_instance)
                log.info("resuming %s from byte %d of %s", self.target.name, have, url)
                self._stream(r, "ab", have, total)
            else:
                r.raise_for_status()
                if have:
                    log.info("%s ignored the Range request (or the file changed); starting %s over", url, self.part)
                self._remember_validator(r)
                length = r.headers.get("Content-Length")
                self._stream(r, "wb", 0, total if r.status_code == 206 else int(length) if length else None)
        self._finish(url, output_file)

    def _restart(self, url, output_file, pooch_instance):
        self.part.unlink(missing_ok=True)
        return self(url, output_file, pooch_instance)  # without a part no Range is sent, so this recurses once

    def _remember_validator(self, r) -> None:
        etag, modified = r.headers.get("ETag"), r.headers.get("Last-Modified")
        value = etag if etag and not etag.startswith("W/") else modified  # If-Range takes no weak ETag
        if value:
            self.validator.write_text(value + "\n")
        elif self.validator.exists():
            self.validator.unlink()

    def _stream(self, r, mode: str, have: int, total: int | None) -> None:
        with (
            open(self.part, mode) as f,
            tqdm(
                total=total,
                initial=have,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=self.target.name,
                mininterval=5,
                disable=not self.progressbar,
            ) as bar,
        ):
            for chunk in r.iter_content(CHUNK):
                f.write(chunk)
                bar.update(len(chunk))
        size = self.part.stat().st_size
        if total is not None and size != total:  # a transfer cut short that requests did not report
            raise requests.exceptions.ConnectionError(f"the transfer stopped at byte {size} of {total}")

    def _finish(self, url: str, output_file) -> None:
        found = file_sha256(self.part)
        self.validator.unlink(missing_ok=True)
        if self.expected and found != self.expected:
            self.part.unlink()
            raise DownloadError(
                f"{self.target} as downloaded from {url} does not match {self.source} (expected sha256 "
                f"{self.expected}, found {found}), so it was not kept; rerun to download it again, or fix the "
                "expected checksum if the authors changed the file"
            )
        self.sha256 = found
        os.replace(self.part, output_file)


def fetch(
    url: str,
    sha256: str | None,
    folder: Path,
    processor=None,
    fname: str | None = None,
    progressbar: bool = True,
    record: bool = True,
    spec_name: str = "the dataset spec",
):
    """Fetch ``url`` into ``folder`` with pooch; every failure becomes one clear DownloadError.

    With ``record`` (archives, tables, weights) the download resumes from ``<fname>.part``, the first download's
    sha256 is kept in ``<fname>.sha256`` and the file is checked against it (and ``sha256``) on every later use,
    before ``processor`` unpacks anything. ``spec_name`` names where ``url`` and ``sha256`` come from, for the messages.
    """
    folder = Path(folder)
    fname = fname or PurePosixPath(urlparse(url).path).name
    target = folder / fname
    if not record:  # one of thousands of small images: no sidecar files
        known = f"sha256:{sha256}" if sha256 else None
        return _retrieve(url, known, target, processor, progressbar, None, spec_name)
    spec = sha256.lower() if sha256 else None
    rec = record_path(target)
    recorded = read_record(rec)
    if spec and recorded and spec != recorded:
        raise DownloadError(
            f"{rec} records sha256 {recorded} for {target} but {spec_name} expects {spec}; delete {target} and "
            f"{rec} to download it again, or fix the checksum in {spec_name}"
        )
    expected = spec or recorded
    source = f"the checksum in {spec_name}" if spec else f"the sha256 recorded at its first download in {rec}"
    if target.exists():
        action, found = "fetch", file_sha256(target)
        if expected and found != expected:
            raise DownloadError(
                f"{target} does not match {source} (expected sha256 {expected}, found {found}); it is damaged or "
                f"was replaced, so delete {target} and {rec} to download it again"
            )
    else:
        downloader = ResumableDownload(target, expected, source, progressbar)
        _retrieve(url, None, target, None, progressbar, downloader, spec_name)
        action, found = "download", downloader.sha256 or file_sha256(target)
    if not recorded:
        write_record(rec, found, fname)
        log.info("recorded sha256 %s of %s in %s; later runs check the file against it", found, target, rec)
    return processor(str(target), action, None) if processor is not None else str(target)


def _retrieve(url, known_hash, target: Path, processor, progressbar, downloader, spec_name):
    try:
        return pooch.retrieve(
            url,
            known_hash=known_hash,
            fname=target.name,
            path=target.parent,
            processor=processor,
            progressbar=progressbar,
            downloader=downloader,
        )
    except DownloadError:
        raise
    except ValueError as err:  # pooch and requests raise ValueError for a malformed URL too
        if "hash" not in str(err).lower():
            raise DownloadError(f"cannot download {url!r} ({err}); fix the url in {spec_name}") from None
        raise DownloadError(
            f"{target} does not match the checksum in {spec_name} ({err}); delete it to download again, or fix "
            "the checksum if the authors changed the file"
        ) from None
    except Exception as err:  # network errors come from requests, whose classes we do not need to name
        part = part_path(target)
        resume = f" (the rerun resumes from the {part.stat().st_size} bytes in {part})" if part.exists() else ""
        raise DownloadError(
            f"could not download {url} ({type(err).__name__}: {err}); check the network, or put the file at "
            f"{target} by hand, and rerun{resume}"
        ) from None


def fetch_file(url: str, sha256: str | None, out: str | Path, spec_name: str = "the dataset spec") -> str:
    """Fetch ``url`` to the file ``out`` (Lucid's weights: the download_lucid_weights rule), as :func:`fetch` does."""
    out = Path(out)
    return fetch(url, sha256, out.parent, fname=out.name, spec_name=spec_name)
