"""One nginx in the foreground on 127.0.0.1, one port per served folder, two ways of serving:

- `static`: as a plain static host serves a site: on-the-fly gzip of text (`gzip on`, level 6, no
  `gzip_static`), nothing else (the untouched site and eleventy-img's output);
- `assetpipe`: assetpipe's own snippets (`assetpipe config nginx-http` / `nginx-server`, the files in
  config/nginx/), as tests/test_serving.py serves them: precompressed sidecars, same-URL image formats.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")
MIME_TYPES = Path("/etc/nginx/mime.types")
GZIP_TYPES = ("text/css application/javascript text/javascript application/json application/xml "
              "image/svg+xml text/plain application/manifest+json application/geo+json")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def snippets(folder: Path, assetpipe_bin: str) -> tuple[Path, Path]:
    """The shipped snippets as the installed assetpipe prints them."""
    paths = []
    for name in ("nginx-http", "nginx-server"):
        out = folder / f"assetpipe-{name.removeprefix('nginx-')}.conf"
        out.write_bytes(subprocess.run([assetpipe_bin, "config", name], check=True, capture_output=True).stdout)
        paths.append(out)
    return paths[0], paths[1]


def config(state: Path, servers: dict[int, tuple[Path, str]], assetpipe_bin: str) -> str:
    http_snippet, server_snippet = snippets(state, assetpipe_bin)
    blocks = []
    for port, (root, how) in sorted(servers.items()):
        serving = (f"include {server_snippet};" if how == "assetpipe" else
                   f"gzip on; gzip_comp_level 6; gzip_vary on; gzip_min_length 256; gzip_types {GZIP_TYPES};")
        blocks.append(f"    server {{ listen 127.0.0.1:{port}; root {root}; {serving} }}")
    temp = "\n".join(f"    {n}_temp_path {state / n};" for n in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""load_module {BROTLI_MODULE};
{'user root;' if os.geteuid() == 0 else ''}
daemon off;
worker_processes 1;
pid {state / 'nginx.pid'};
error_log {state / 'error.log'} warn;
events {{ worker_connections 256; }}
http {{
    include {MIME_TYPES};
    types {{ text/javascript mjs; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
{temp}
    include {http_snippet};
{chr(10).join(blocks)}
}}
"""


class Nginx:
    """`with Nginx(state, {port: (root, "static" | "assetpipe")}, assetpipe_bin):` serves until the block ends."""

    def __init__(self, state: Path, servers: dict[int, tuple[Path, str]], assetpipe_bin: str) -> None:
        self.state, self.servers, self.assetpipe_bin = state, servers, assetpipe_bin
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Nginx:
        self.state.mkdir(parents=True, exist_ok=True)
        conf = self.state / "nginx.conf"
        conf.write_text(config(self.state, self.servers, self.assetpipe_bin))
        self.process = subprocess.Popen([NGINX, "-p", str(self.state), "-c", str(conf), "-e",
                                         str(self.state / "error.log")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        pending = set(self.servers)
        while pending:
            if self.process.poll() is not None:
                said = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"nginx exited: {said}")
            for port in list(pending):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    pending.discard(port)
                except OSError:
                    pass
            if pending and time.monotonic() > deadline:
                raise RuntimeError("nginx did not listen within 10 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
