"""A small static file server on 127.0.0.1 for loading a build folder in Chromium.

It serves only regular files inside its folder (links resolved; nothing hidden, such as `.assetpipe/`),
answers GET and HEAD, and can serve some pages from memory instead of the disk (`overlay`: a page as it
would be written, loaded before it is). One thread per connection; an ephemeral port; stopped on leaving
the `with` block. No compression and no caching headers: a load measures the markup, not the host.
"""

from __future__ import annotations

import mimetypes
import os
import threading
import urllib.parse
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TYPES = {".avif": "image/avif", ".webp": "image/webp", ".mjs": "text/javascript", ".js": "text/javascript",
         ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml", ".json": "application/json",
         ".woff2": "font/woff2", ".wasm": "application/wasm", ".webmanifest": "application/manifest+json"}


def _media_type(rel: str) -> str:
    suffix = os.path.splitext(rel)[1].lower()
    found = TYPES.get(suffix) or mimetypes.guess_type(rel)[0] or "application/octet-stream"
    return f"{found}; charset=utf-8" if found.startswith("text/") and suffix != ".html" else found


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet: the build's terminal is not this server's log

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        found = self.server.lookup(self.path)
        if found is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        rel, data = found
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", _media_type(rel))
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, overlay: Mapping[str, bytes]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = os.path.realpath(root)
        self.overlay = dict(overlay)

    def lookup(self, raw_path: str) -> tuple[str, bytes] | None:
        """(the file's path in the folder, its bytes) for a request path; None when it is not a file
        inside the folder."""
        path = urllib.parse.unquote(urllib.parse.urlsplit(raw_path).path)
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") or p.startswith(".") or "\\" in p or "\0" in p for p in parts):
            return None
        rel = "/".join(parts) or "index.html"
        if path.endswith("/") and parts:
            rel += "/index.html"
        if rel in self.overlay:
            return rel, self.overlay[rel]
        full = os.path.realpath(os.path.join(self.root, *rel.split("/")))
        if os.path.commonpath([full, self.root]) != self.root or not os.path.isfile(full):
            return None
        try:
            with open(full, "rb") as file:
                return rel, file.read()
        except OSError:
            return None


class StaticServer:
    """Serve `root` (and `overlay`, path -> bytes, in place of those files) on 127.0.0.1 while in `with`."""

    def __init__(self, root: Path, overlay: Mapping[str, bytes] | None = None) -> None:
        self._server = _Server(root, overlay or {})
        self._thread = threading.Thread(target=self._server.serve_forever, name="assetpipe-static", daemon=True)

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, rel: str) -> str:
        """The URL of a file of the folder (a POSIX path relative to it)."""
        return f"{self.origin}/{urllib.parse.quote(rel)}"

    def rel(self, url: str) -> str | None:
        """The folder path a URL of this server names; None for another origin."""
        parts = urllib.parse.urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            return None
        return urllib.parse.unquote(parts.path).lstrip("/")

    def __enter__(self) -> StaticServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
