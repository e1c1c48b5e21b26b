"""Where a downloaded file comes from: its mirrors, in the order they are tried, and asking one without
downloading (``artfinetune preflight``).

A spec (``resources/datasets/<kind>.yaml``, ``resources/models/inception_v1.yaml``) and a config
(``source.mirrors``, ``init.<name>.mirrors``) list mirrors as URLs, or as ``{url, member}`` for a file inside
a zip archive; :func:`mirror_list` reads such a list, :func:`merge_mirrors` joins several. Downloading from
them is :mod:`artfinetune.data.download`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlparse

import requests

from artfinetune.errors import UserError


class DownloadError(UserError):
    """A dataset could not be fetched or does not have the layout its spec describes."""


@dataclass(frozen=True)
class Mirror:
    """One place a downloaded file comes from: ``url`` itself, or the file ``member`` of the zip archive at ``url``
    (DeepDream's inception5h.zip holds InceptionV1's graph). ``origin`` names where the mirror is listed (a spec
    file, a config key), for the messages."""

    url: str
    member: str | None = None
    origin: str = "the dataset spec"

    def __str__(self) -> str:
        return f"{self.url} ({self.member})" if self.member else self.url


def url_file_name(url: str) -> str:
    """The file name at the end of a URL's path (``.../IconArt_v1.zip?download=1`` -> ``IconArt_v1.zip``)."""
    return PurePosixPath(urlparse(url).path).name


def mirror_list(entries, origin: str) -> list[Mirror]:
    """The mirrors a spec or a config lists (``origin``), in order: each a URL, or ``{url, member}`` for a file in a
    zip archive. An entry that is not an http(s) URL stops with a DownloadError naming ``origin``."""
    if isinstance(entries, str | Mirror):
        entries = [entries]
    mirrors = []
    for entry in entries or []:
        if isinstance(entry, Mirror):
            mirrors.append(entry)
            continue
        url, member = (entry.get("url"), entry.get("member")) if isinstance(entry, dict) else (entry, None)
        parsed = urlparse(url) if isinstance(url, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise DownloadError(f"cannot download {url!r} (not an http or https URL); fix the url in {origin}")
        if member is not None and not url_file_name(url).endswith(".zip"):
            raise DownloadError(f"{url} names member {member!r}, but only a .zip archive can have one; fix {origin}")
        mirrors.append(Mirror(url, member, origin))
    return mirrors


def merge_mirrors(*groups: Sequence[Mirror]) -> list[Mirror]:
    """Several lists of mirrors as one, in order, each place once (the first listing of it kept)."""
    seen, out = set(), []
    for mirror in (m for group in groups for m in group):
        if (mirror.url, mirror.member) not in seen:
            seen.add((mirror.url, mirror.member))
            out.append(mirror)
    return out


def network_reason(err: Exception) -> str:
    """Why a request failed, in a few words: ``HTTP 404``, or the error's class and the system's reason
    (``ConnectionError: [Errno 111] Connection refused``) rather than urllib3's whole chain."""
    response = getattr(err, "response", None)
    if isinstance(err, requests.HTTPError) and response is not None:
        return f"HTTP {response.status_code}"
    text = str(err)
    errno = re.search(r"\[Errno -?\d+\] [^'\")\]]+", text)
    if errno:
        text = errno[0].strip()
    elif "timed out" in text.lower():
        text = "timed out"
    return f"{type(err).__name__}: {text[:200]}"


@dataclass(frozen=True)
class Probe:
    """What a mirror answers to an HTTP HEAD: ``status`` reachable (2xx), dead (an error status) or unreachable (no
    answer); the file's size when the answer gives it; the reason in a few words."""

    status: str
    size: int | None
    reason: str


def probe(url: str, timeout: float = 10.0) -> Probe:
    """Ask the server at ``url`` about its file without downloading it: HEAD, or for a server that refuses HEAD,
    a GET whose body is not read."""
    try:
        r = requests.head(url, allow_redirects=True, timeout=timeout)
        if r.status_code in (403, 405, 501):  # some servers (and signed URLs) refuse HEAD but serve GET
            with requests.get(url, stream=True, timeout=timeout) as got:
                r = got
    except requests.RequestException as err:
        return Probe("unreachable", None, network_reason(err))
    if r.status_code >= 400:
        return Probe("dead", None, f"HTTP {r.status_code}")
    length = r.headers.get("Content-Length")
    return Probe("reachable", int(length) if length and length.isdigit() else None, f"HTTP {r.status_code}")
