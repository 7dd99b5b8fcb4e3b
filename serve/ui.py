"""The dashboard's static export (``dashboard/out``, built by ``make dashboard``), served by the
gateway under ``/`` beside the API, so one port serves both and the browser talks to one origin.

The files are read once, when the gateway is deployed, and handed to each replica in memory (a
replica on another node needs no copy of the build); each is kept as it is and gzipped. Pages are
public (they hold no data: every figure comes from the API, with the viewer's credentials); each
answer carries a Content-Security-Policy that lets a page load only its own origin's scripts, the
inline ones of its build by their hashes, and connect only back to the gateway.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILT = ROOT / "dashboard" / "out"
MAX_BYTES = 64 * 1024 * 1024  # a build over this is not one of ours
INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8", ".json": "application/json",
         ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".woff2": "font/woff2"}
SECURITY = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
            "Cross-Origin-Opener-Policy": "same-origin"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None  # None when gzip does not make it smaller
    content_type: str
    csp: str  # for a page: its inline scripts' hashes


@dataclass
class Site:
    """The build, by URL path (``/``, ``/desk/``, ``/_next/static/...``)."""

    assets: dict[str, Asset] = field(default_factory=dict)
    not_found: Asset | None = None

    def find(self, path: str) -> Asset | None:
        """The asset a GET of ``path`` names (a page by its directory, with or without the slash)."""
        if ".." in path or "\x00" in path:
            return None
        for p in (path, path.rstrip("/") + "/", path + ".html"):
            if p in self.assets:
                return self.assets[p]
        return None

    @staticmethod
    def cache_control(path: str) -> str:
        # Next names its chunks by their content hash: kept a year; pages are checked every time
        return "public, max-age=31536000, immutable" if path.startswith("/_next/static/") else "no-cache"


def csp(body: bytes, html: bool) -> str:
    hashes = ""
    if html:
        hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(m).digest()).decode()}'"
                          for m in INLINE_SCRIPT.findall(body) if m.strip())
    return ("default-src 'self'; script-src 'self' " + hashes + "; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def load(root: Path | None = None) -> Site | None:
    """The build under ``root`` (default ``dashboard/out``), or None when it is not built."""
    root = BUILT if root is None else root
    if not (root / "index.html").is_file():
        return None
    site, total = Site(), 0
    for f in sorted(root.rglob("*")):
        if not f.is_file() or f.is_symlink():
            continue
        body = f.read_bytes()
        total += len(body)
        if total > MAX_BYTES:
            raise ValueError(f"{root} holds over {MAX_BYTES // 2**20} MiB: not a dashboard build")
        rel = f.relative_to(root).as_posix()
        kind = TYPES.get(f.suffix) or mimetypes.guess_type(f.name)[0] or "application/octet-stream"
        packed = gzip.compress(body, 6, mtime=0)
        asset = Asset(body, packed if len(packed) < len(body) else None, kind, csp(body, f.suffix == ".html"))
        if rel in ("404.html", "404/index.html"):
            site.not_found = asset  # only ever answered with a 404: /404.html, /404/ are not pages of their own
            continue
        if rel.split("/")[0] == "_not-found":  # Next's own copy of the not-found page, and its payloads
            continue
        if rel == "index.html":
            site.assets["/"] = asset
        elif rel.endswith("/index.html"):
            site.assets["/" + rel[: -len("index.html")]] = asset
        site.assets["/" + rel] = asset
    return site


NOT_BUILT = (b"<!doctype html><meta charset=utf-8><title>Octet</title><h1>The dashboard is not built</h1>"
             b"<p>Run <code>make dashboard</code> (or <code>make demo</code>), then restart the gateway. "
             b"The API is at <a href=/docs>/docs</a>.</p>")
