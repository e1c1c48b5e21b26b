"""Small dataset fixtures in the real formats, served over HTTP on 127.0.0.1."""

import csv
import functools
import http.server
import io
import re
import tarfile
import threading
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image


def jpeg_bytes(seed: int, size=(48, 40)) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def make_rasta_tgz(path: Path, styles: list[str], per_split: dict[str, int]) -> None:
    """wikipaintings_full/wikipaintings_<split>/<Style>/<n>.jpg, style names stored decomposed (NFD)."""
    with tarfile.open(path, "w:gz") as tar:
        seed = 0
        for split, n in per_split.items():
            for style in styles:
                for i in range(n):
                    data = jpeg_bytes(seed)
                    seed += 1
                    name = unicodedata.normalize("NFD", f"wikipaintings_full/wikipaintings_{split}/{style}/p{i}.jpg")
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        readme = b"RASTA fixture"
        info = tarfile.TarInfo("wikipaintings_full/README.txt")
        info.size = len(readme)
        tar.addfile(info, io.BytesIO(readme))


ICONART_CLASSES = ["angel", "Child_Jesus", "crucifixion_of_Jesus", "Mary", "nudity", "ruins", "Saint_Sebastien"]


def make_iconart_zip(path: Path, items: list[tuple[str, list[str], str]], corrupt: str | None = None) -> None:
    """IconArt_v1/JPEGImages/<item>.jpg and ImageSets/Main/IconArt_v1.csv (item, 7 classes, set, Anno)."""
    table = io.StringIO()
    w = csv.writer(table)
    w.writerow(["item", *ICONART_CLASSES, "set", "Anno"])
    for item, labels, split in items:
        w.writerow([item, *[int(c in labels) for c in ICONART_CLASSES], split, int(split == "test")])
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("IconArt_v1/ImageSets/Main/IconArt_v1.csv", table.getvalue())
        for k, (item, _, _) in enumerate(items):
            data = b"\xff\xd8broken" if item == corrupt else jpeg_bytes(100 + k)
            z.writestr(f"IconArt_v1/JPEGImages/{item}.jpg", data)


def make_paintings(folder: Path, base_url: str, rows: list[tuple[str, str, str]]) -> Path:
    """painting_dataset_2021.csv ("Image URL", "Web page URL", "Subset", "Labels") plus the images it names.

    rows: (image name or 'DEAD:<name>' for a link that 404s, subset, labels text).
    """
    (folder / "img").mkdir(parents=True, exist_ok=True)
    table = folder / "painting_dataset_2021.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Image URL", "Web page URL", "Subset", "Labels"])
        for k, (name, subset, labels) in enumerate(rows):
            dead = name.startswith("DEAD:")
            name = name.removeprefix("DEAD:")
            if not dead:
                (folder / "img" / f"{name}.jpg").write_bytes(jpeg_bytes(200 + k))
            w.writerow([f"{base_url}/img/{name}.jpg", f"https://artuk.example/{name}", f"'{subset}'", labels])
    return table


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _RangeHandler(_Quiet):
    """Serves files with ``Range: bytes=N-`` support (206 + Content-Range, 416 past the end), as web servers do."""

    def __init__(self, *args, state, **kwargs):
        self.state = state  # set before the base class, whose __init__ already handles the request
        super().__init__(*args, **kwargs)

    def do_HEAD(self):
        path = Path(self.translate_path(self.path))
        size = path.stat().st_size if path.is_file() else None
        self.send_response(404 if size is None else 200)
        self.send_header("Content-Length", str(size or 0))
        self.end_headers()
        self.state.log.append({"method": "HEAD", "path": self.path, "status": 404 if size is None else 200})

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            self.state.log.append({"path": self.path, "range": self.headers.get("Range"), "status": 404, "sent": 0})
            return
        data = path.read_bytes()
        asked = self.headers.get("Range")
        match = re.fullmatch(r"bytes=(\d+)-", asked or "")
        start = int(match[1]) if match and self.state.honour_range else 0
        with self.state.lock:
            cut, self.state.cut_after = self.state.cut_after, None  # only the first response is cut
        if start >= len(data) > 0:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.state.log.append({"path": self.path, "range": asked, "status": 416, "sent": 0})
            return
        status = 206 if start else 200
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        sent = body if cut is None else body[:cut]
        self.wfile.write(sent)
        if cut is not None:
            self.close_connection = True  # the client sees the connection drop before Content-Length bytes
        self.state.log.append({"path": self.path, "range": asked, "status": status, "sent": len(sent)})


class Server:
    """A static file server on 127.0.0.1 (a free port) for the duration of a test."""

    def __init__(self, root: Path, handler=None):
        handler = handler or functools.partial(_Quiet, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class RangeServer(Server):
    """A file server that honours ``Range: bytes=N-`` and logs each GET (path, Range header, status, bytes sent),
    a missing file's too (404), and each HEAD (method HEAD, path, status).

    cut_after: send only this many body bytes on the first GET, then drop the connection (an interrupted download).
    honour_range: False makes it answer every GET with the whole file (200), as servers without Range support do.
    """

    def __init__(self, root: Path, cut_after: int | None = None, honour_range: bool = True):
        self.cut_after, self.honour_range = cut_after, honour_range
        self.log: list[dict] = []
        self.lock = threading.Lock()
        super().__init__(root, functools.partial(_RangeHandler, directory=str(root), state=self))
