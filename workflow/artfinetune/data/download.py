"""Downloads that survive interruptions and dead links, and are checked: archives, tables and weights, with pooch.

Archives (and the Paintings table, and Lucid's weights) are fetched with pooch
into ``<out>/download`` by :func:`fetch`:

- each file has an ordered list of mirrors (:class:`~artfinetune.data.mirrors.Mirror`: a URL, or a member
  of the zip archive at a URL), the config's own first, then those of its spec;
  they are tried in turn until one serves a file that passes the checks below,
  and if none does, one sentence names every URL tried, why each failed, and
  where to put the file by hand;
- the partial bytes of an interrupted download stay in ``<file>.part`` and the
  next run resumes from them with an HTTP Range request (RASTA is ~20 GiB), from
  the mirror that sent them (``<file>.part.url``; another mirror starts over);
- the file is placed under its name only once complete and checked;
- the authors publish no checksums, so the sha256 of the first download is
  recorded beside it in ``<file>.sha256`` (``sha256sum`` format), and every
  later use checks the file against it (and against the spec's sha256, when
  given) before anything is unpacked; a mirror whose file does not match is
  refused and the next one tried;
- the caller's ``accept`` check (an archive's layout, the importer's structural
  check of Lucid's graph) must pass too, whichever mirror the file came from,
  and for a file placed by hand before its hash is recorded;
- a file already there is reused (and its hash recorded), so an offline machine
  can be given the archive by hand.

What a mirror is, and asking one without downloading, is :mod:`artfinetune.data.mirrors`; how a dataset's
files become its source table, :mod:`artfinetune.data.layouts`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pooch
import requests
from tqdm import tqdm

from artfinetune.data.mirrors import DownloadError, Mirror, mirror_list, network_reason, url_file_name
from artfinetune.errors import UserError
from artfinetune.io import atomic_path, file_sha256

log = logging.getLogger(__name__)
# pooch's hint to pass the logged hash as known_hash does not apply here: fetch records it in <file>.sha256 itself.
pooch.get_logger().addFilter(lambda record: not str(record.msg).startswith("SHA256 hash of downloaded file"))

CHUNK = 1 << 20  # bytes per read when streaming or hashing a file
TIMEOUT = (30, 300)  # seconds to connect, and to wait for the next bytes of a response


class MirrorRefused(DownloadError):
    """A mirror served a file that is not the expected one (its checksum or its structure); the next one is tried."""


def record_path(target: Path) -> Path:
    """Where the sha256 of ``target``'s first download is kept."""
    return target.with_name(f"{target.name}.sha256")


def part_path(target: Path) -> Path:
    """Where the bytes of an unfinished download of ``target`` are kept (stable across runs, unlike pooch's)."""
    return target.with_name(f"{target.name}.part")


def part_url_path(target: Path) -> Path:
    """Where the URL the bytes of ``target``'s ``.part`` came from is kept: only that mirror can resume them."""
    return target.with_name(f"{target.name}.part.url")


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
    ``<target>.part``; they are renamed onto pooch's name only once complete, only if their sha256 equals
    ``expected`` (when given) and only if ``accept`` (when given) passes on them; otherwise MirrorRefused. Bytes
    are resumed only from the URL that sent them (``<target>.part.url``): another mirror may serve another file.
    ``sha256`` holds the hash of the finished file.
    """

    def __init__(
        self,
        target: Path,
        expected: str | None = None,
        source: str = "",
        progressbar: bool = True,
        accept: Callable[[Path], None] | None = None,
    ):
        self.target = Path(target)
        self.part = part_path(self.target)
        self.part_url = part_url_path(self.target)
        self.validator = self.part.with_name(f"{self.part.name}.validator")
        self.expected = expected
        self.source = source
        self.progressbar = progressbar
        self.accept = accept
        self.sha256: str | None = None

    def __call__(self, url: str, output_file, pooch_instance=None, check_only: bool = False):
        if check_only:
            with requests.head(url, allow_redirects=True, timeout=TIMEOUT) as r:
                return r.status_code == 200
        have = self.part.stat().st_size if self.part.exists() and self._part_from(url) else 0
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
                elif self.part.exists():
                    log.info("%s holds bytes from another mirror; starting it over from %s", self.part, url)
                self._remember_validator(r)
                self.part_url.write_text(url + "\n")  # only now: a dead mirror leaves another mirror's part alone
                length = r.headers.get("Content-Length")
                self._stream(r, "wb", 0, total if r.status_code == 206 else int(length) if length else None)
        self._finish(url, output_file)

    def _part_from(self, url: str) -> bool:
        """Whether the bytes in the part came from ``url`` (a part without its URL is from before mirrors: kept)."""
        return not self.part_url.exists() or self.part_url.read_text().strip() == url

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
        self.validator.unlink(missing_ok=True)
        self.part_url.unlink(missing_ok=True)
        try:
            self.sha256 = check_file(self.part, self.expected, self.source, self.accept)
        except MirrorRefused:
            self.part.unlink()
            raise
        os.replace(self.part, output_file)


def check_file(path: Path, expected: str | None, source: str, accept: Callable[[Path], None] | None) -> str:
    """The sha256 of a file just obtained, once it matches ``expected`` (from ``source``) and passes ``accept``;
    otherwise MirrorRefused saying why."""
    found = file_sha256(path)
    if expected and found != expected:
        raise MirrorRefused(f"its sha256 {found} does not match {source} ({expected})")
    if accept is not None:
        try:
            accept(path)
        except UserError as err:
            raise MirrorRefused(f"not the expected file: {err}") from None
    return found


def fetch(
    mirrors: str | Sequence[str | Mirror],
    sha256: str | None,
    folder: Path,
    processor=None,
    fname: str | None = None,
    progressbar: bool = True,
    record: bool = True,
    spec_name: str = "the dataset spec",
    accept: Callable[[Path], None] | None = None,
    mirror_key: str | None = None,
):
    """Fetch a file from the first of its ``mirrors`` that serves it into ``folder`` with pooch; every failure
    becomes one clear DownloadError.

    With ``record`` (archives, tables, weights) the download resumes from ``<fname>.part``, the first download's
    sha256 is kept in ``<fname>.sha256`` and the file is checked against it (and ``sha256``) on every later use,
    before ``processor`` unpacks anything. A mirror whose file fails that check or ``accept`` (which raises a
    UserError saying why) is refused, and the next one tried. ``spec_name`` names where ``sha256`` comes from, and
    ``mirror_key`` where a user adds a mirror, for the messages. Without ``record`` (one of thousands of small
    images) only the first mirror is tried, with no sidecar files.
    """
    folder = Path(folder)
    mirrors = mirror_list(mirrors, spec_name)
    if not mirrors:
        raise DownloadError(f"{spec_name} lists no mirror for {fname or 'its file'}; add at least one URL")
    fname = fname or url_file_name(mirrors[0].url)
    target = folder / fname
    if not record:
        known = f"sha256:{sha256}" if sha256 else None
        return _retrieve(mirrors[0].url, known, target, processor, progressbar, None, mirrors[0].origin)
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
        if not recorded and accept is not None:  # placed by hand: checked as a download is, before it is recorded
            try:
                accept(target)
            except UserError as err:
                raise DownloadError(f"{target} is not the expected file ({err}); delete it and rerun") from None
    else:
        action, found = "download", _first_good(mirrors, target, expected, source, accept, progressbar, mirror_key)
    if not recorded:
        write_record(rec, found, fname)
        log.info("recorded sha256 %s of %s in %s; later runs check the file against it", found, target, rec)
    return processor(str(target), action, None) if processor is not None else str(target)


def _first_good(mirrors, target: Path, expected, source, accept, progressbar, mirror_key) -> str:
    """Download ``target`` from the first mirror that serves a file passing the checks; its sha256."""
    failed = []
    for n, mirror in enumerate(mirrors, start=1):
        get = _from_member if mirror.member else _from_url
        try:
            found = get(mirror, target, expected, source, accept, progressbar)
        except MirrorRefused as err:
            failed.append(f"{mirror} (refused: {err})")
        except _Unreachable as err:
            failed.append(f"{mirror} ({err})")
        else:
            if failed:
                log.info("%s came from mirror %d of %d, %s", target.name, n, len(mirrors), mirror)
            return found
        log.warning("mirror %d of %d for %s failed: %s", n, len(mirrors), target.name, failed[-1])
    tried = failed[0] if len(failed) == 1 else f"any of its {len(failed)} mirrors: {'; '.join(failed)}"
    members = [m for m in mirrors if m.member]
    from_archive = "".join(f" ({m.member} from {url_file_name(m.url)} will do)" for m in members[:1])
    add = f", or add the URL of a copy to {mirror_key}" if mirror_key else ""
    part = part_path(target)
    resume = ""
    if part.exists():
        came_from = part_url_path(target).read_text().strip() if part_url_path(target).exists() else None
        resume = f" (the rerun resumes from the {part.stat().st_size} bytes in {part}" + (
            f" from {came_from})" if came_from else ")"
        )
    raise DownloadError(
        f"could not download {target.name} from {tried}; check the network, or put the file at {target} by hand"
        f"{from_archive}{add}, and rerun{resume}"
    )


class _Unreachable(Exception):
    """A mirror that did not answer, or answered with an error: the reason, for the list of mirrors tried."""


def _from_url(mirror: Mirror, target: Path, expected, source, accept, progressbar) -> str:
    downloader = ResumableDownload(target, expected, source, progressbar, accept)
    _retrieve(mirror.url, None, target, None, progressbar, downloader, mirror.origin, unreachable=_Unreachable)
    return downloader.sha256 or file_sha256(target)


def _from_member(mirror: Mirror, target: Path, expected, source, accept, progressbar) -> str:
    """``mirror.member`` of the zip at ``mirror.url``: the archive is fetched (resumably) beside ``target``, the
    member extracted and checked, and the archive deleted."""
    archive = target.with_name(url_file_name(mirror.url))
    if not archive.exists():
        downloader = ResumableDownload(archive, progressbar=progressbar)
        _retrieve(mirror.url, None, archive, None, progressbar, downloader, mirror.origin, unreachable=_Unreachable)
    part = part_path(target)
    try:
        with zipfile.ZipFile(archive) as z, z.open(mirror.member) as src, open(part, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
        found = check_file(part, expected, source, accept)
    except (zipfile.BadZipFile, KeyError) as err:
        part.unlink(missing_ok=True)
        archive.unlink()
        reason = "not a zip archive" if isinstance(err, zipfile.BadZipFile) else f"it has no {mirror.member}"
        raise MirrorRefused(reason) from None
    except MirrorRefused:
        part.unlink(missing_ok=True)
        archive.unlink()
        raise
    part_url_path(target).unlink(missing_ok=True)
    os.replace(part, target)
    archive.unlink()
    log.info("extracted %s from %s as %s", mirror.member, archive.name, target)
    return found


def _retrieve(url, known_hash, target: Path, processor, progressbar, downloader, spec_name, unreachable=None):
    """pooch.retrieve; a network failure is one DownloadError sentence (or ``unreachable(reason)``, for the list of
    mirrors tried)."""
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
        if unreachable is not None:
            raise unreachable(network_reason(err)) from None
        part = part_path(target)
        resume = f" (the rerun resumes from the {part.stat().st_size} bytes in {part})" if part.exists() else ""
        raise DownloadError(
            f"could not download {url} ({type(err).__name__}: {err}); check the network, or put the file at "
            f"{target} by hand, and rerun{resume}"
        ) from None
