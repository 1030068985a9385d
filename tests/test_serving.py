"""The shipped nginx snippets serving a built tree for real: Debian's nginx with the brotli_static module
on 127.0.0.1, a real HTTP client, then headless Chromium loading the demo page. nginx includes what
`assetpipe config nginx-http` and `nginx-server` print, the files a user gets from the installed package
(tests/test_packaging.py checks that the wheel holds config/nginx/ byte for byte).

One nginx per module, three servers: the built demo site, a tiny tree of its own with a real
`photo.jpg` and a real same-URL `photo.jpg.avif` sidecar (made here with Pillow) listed in its
manifest, so Accept negotiation is tested whatever the image stage writes, and a built Vite tree whose
names test the hash rule (conftest.HASH_TREE).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.error import HTTPError

import brotli
import pytest
from click.testing import CliRunner
from PIL import Image

from assetpipe.cli import main
from assetpipe.config import UploadConfig
from assetpipe.naming import content_hash
from assetpipe.upload import plan as uploadplan
from assetpipe.upload import targets as upload

from .conftest import DEMO, make_hash_tree

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")
MIME_TYPES = Path("/etc/nginx/mime.types")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROME_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
HERO = "assets/hero-gYV4LCM5.jpg"  # imported by the demo's JS only: no markup names it

pytestmark = pytest.mark.skipif(
    NGINX is None or not BROTLI_MODULE.exists(),
    reason="needs Debian's nginx and libnginx-mod-http-brotli-static (.ci/run installs them)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_tiny_tree(root: Path) -> Path:
    """A real JPEG, a real (smaller) same-URL AVIF sidecar, and a manifest listing it under encodings."""
    root.mkdir()
    photo = Image.new("RGB", (320, 200))
    photo.putdata([((x * 7) % 256, (y * 5) % 256, ((x + y) * 3) % 256) for y in range(200) for x in range(320)])
    photo.save(root / "photo.jpg", quality=92)
    photo.save(root / "photo.jpg.avif", quality=50)
    jpg, avif = (root / "photo.jpg").read_bytes(), (root / "photo.jpg.avif").read_bytes()
    assert len(avif) < len(jpg)
    manifest = {"schema": 1, "failures": [], "files": {"photo.jpg": {
        "size": len(jpg), "sha256": hashlib.sha256(jpg).hexdigest(), "type": "image/jpeg", "immutable": False,
        "encodings": {"avif": {"file": "photo.jpg.avif", "size": len(avif)}}}}}
    (root / ".assetpipe").mkdir()
    (root / ".assetpipe" / "manifest.json").write_text(json.dumps(manifest, sort_keys=True))
    return root


def shipped_snippets(folder: Path) -> Path:
    """The nginx snippets as `assetpipe config` prints them, written into `folder`."""
    for name in ("nginx-http", "nginx-server"):
        result = CliRunner().invoke(main, ["config", name], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        (folder / f"assetpipe-{name.removeprefix('nginx-')}.conf").write_bytes(result.stdout_bytes)
    return folder


def nginx_conf(state: Path, servers: dict[int, Path]) -> str:
    snippets = shipped_snippets(state)
    temp_paths = "\n".join(f"    {name}_temp_path {state / name};" for name in
                           ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    blocks = "\n".join(f"""    server {{
        listen 127.0.0.1:{port};
        root {root};
        include {snippets / 'assetpipe-server.conf'};
    }}""" for port, root in servers.items())
    return f"""load_module {BROTLI_MODULE};
{'user root;' if os.geteuid() == 0 else ''}
daemon off;
worker_processes 1;
pid {state / 'nginx.pid'};
error_log {state / 'error.log'} warn;
events {{ worker_connections 64; }}
http {{
    include {MIME_TYPES};
    types {{ text/javascript mjs; }}
    default_type application/octet-stream;
    access_log {state / 'access.log'};
{temp_paths}
    include {snippets / 'assetpipe-http.conf'};
{blocks}
}}
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """nginx over the built demo site (`site`) and the tiny image tree (`tiny`); base URLs for both."""
    root = tmp_path_factory.mktemp("serving")
    site = root / "dist"
    shutil.copytree(DEMO, site)
    result = CliRunner().invoke(main, ["build", str(site), "--cache-dir", str(root / "cache"), "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    tiny = make_tiny_tree(root / "tiny")
    hashes = make_hash_tree(root / "hashes")
    result = CliRunner().invoke(main, ["build", str(hashes), "--cache-dir", str(root / "cache"), "-q"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    state = root / "nginx"
    state.mkdir()
    ports = {"site": free_port(), "tiny": free_port(), "hashes": free_port()}
    conf = state / "nginx.conf"
    conf.write_text(nginx_conf(state, {ports["site"]: site, ports["tiny"]: tiny, ports["hashes"]: hashes}))
    process = subprocess.Popen([str(NGINX), "-p", str(state), "-c", str(conf), "-e", str(state / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                pytest.fail(f"nginx exited: {process.stderr.read().decode()}"
                            f"{(state / 'error.log').read_text() if (state / 'error.log').exists() else ''}")
            try:
                for port in ports.values():
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("nginx did not start listening within 10 s")
                time.sleep(0.02)
        yield {"site": site, "tiny": tiny, "hashes": hashes, "site_url": f"http://127.0.0.1:{ports['site']}",
               "tiny_url": f"http://127.0.0.1:{ports['tiny']}", "hashes_url": f"http://127.0.0.1:{ports['hashes']}",
               "state": state}
    finally:
        process.terminate()
        process.wait(timeout=10)


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={k.replace("_", "-"): v for k, v in headers.items()})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def test_precompressed_sidecars_are_served_by_accept_encoding(served) -> None:
    site, base = served["site"], served["site_url"]
    for rel in ("assets/index-2vZXRZ4C.js", "assets/index-AVh2cVPR.css", "index.html", "data/products.json"):
        original = (site / rel).read_bytes()
        status, plain, body = get(f"{base}/{rel}")
        assert status == 200 and body == original and "content-encoding" not in plain, rel
        status, headers, body = get(f"{base}/{rel}", Accept_Encoding="br")
        assert status == 200, rel
        assert body == (site / f"{rel}.br").read_bytes() and brotli.decompress(body) == original, rel
        assert headers["content-encoding"] == "br" and headers["content-type"] == plain["content-type"], rel
        assert "Accept-Encoding" in headers.get("vary", ""), rel
        status, headers, body = get(f"{base}/{rel}", Accept_Encoding="gzip")
        assert body == (site / f"{rel}.gz").read_bytes() and gzip.decompress(body) == original, rel
        assert headers["content-encoding"] == "gzip" and headers["content-type"] == plain["content-type"], rel
    # the original's type (Debian's mime.types), never application/x-brotli
    assert get(f"{base}/assets/index-2vZXRZ4C.js", Accept_Encoding="br")[1]["content-type"] == "application/javascript"
    # a browser's Accept-Encoding prefers br; the directory index is negotiated too
    status, headers, body = get(f"{base}/", Accept_Encoding="gzip, deflate, br, zstd")
    assert headers["content-encoding"] == "br" and brotli.decompress(body) == (site / "index.html").read_bytes()


def served_cache_control(root: Path, base: str) -> dict[str, tuple[str, str]]:
    """Every planned file (sidecars aside) -> (what the upload plan stores, what nginx sends)."""
    found: dict[str, tuple[str, str]] = {}
    for item in upload.read_plan(root, UploadConfig()).items():
        if not item.sidecar and not item.file.startswith("docs/"):
            status, headers, _ = get(f"{base}/{item.file}")
            assert status == 200, item.file
            found[item.file] = (item.cache_control, headers["cache-control"])
    return found


def test_cache_control_follows_the_upload_plan(served) -> None:
    """nginx sees URLs only: what the plan stores, except that a file the plan knows is hashed from Vite's
    manifest, though its name does not pass the name rule, gets the short time (never the other way)."""
    for root, base in ((served["site"], served["site_url"]), (served["hashes"], served["hashes_url"])):
        for rel, (planned, sent) in served_cache_control(root, base).items():
            by_url = planned if planned != uploadplan.IMMUTABLE or content_hash(rel) else uploadplan.SHORT
            assert sent == by_url, rel
        assert get(f"{base}/")[1]["cache-control"] == "no-cache"
    shorter = {rel for rel, (planned, sent) in served_cache_control(served["site"], served["site_url"]).items()
               if planned != sent}
    assert shorter == {"assets/astronaut-K5G3V5PE.png"}  # Vite lists it; its hash has no small letter


def test_words_that_look_like_hashes_are_never_cached_for_a_year(served) -> None:
    """Issue 24: `arrow-90deg-up.svg` and `grid-1x2-fill.svg` were cached for a year by the plan, by
    _headers and by this map, while Vite's own `main-qvvkftmj.css` got five minutes."""
    found = served_cache_control(served["hashes"], served["hashes_url"])
    for rel in ("icons/arrow-90deg-up.svg", "icons/grid-1x2-fill.svg", "report-20240101.txt",
                "assets/index-B7PI925R.js.map"):
        assert found[rel] == (uploadplan.SHORT, uploadplan.SHORT), rel
    assert found["page-Ab3dE5f9.html"] == (uploadplan.NO_CACHE, uploadplan.NO_CACHE)
    assert found["assets/main-qvvkftmj.css"] == (uploadplan.IMMUTABLE, uploadplan.SHORT)  # Vite's; a pattern can't know
    for rel in ("assets/vendor-Xk4mQp2Z.js", "static/lib-Ab3dE5f9.js", "static/app.3f9a1c2e.js"):
        assert found[rel] == (uploadplan.IMMUTABLE, uploadplan.IMMUTABLE), rel


def test_build_metadata_is_never_served(served) -> None:
    """assetpipe's state and Vite's manifest are in the folder, and nginx answers 404 for them."""
    site, base = served["site"], served["site_url"]
    for rel in (".assetpipe/manifest.json", ".assetpipe/outputs.json", ".vite/manifest.json"):
        assert (site / rel).is_file(), rel
        for encoding in ("identity", "br", "gzip"):
            status, _, body = get(f"{base}/{rel}", Accept_Encoding=encoding)
            assert status == 404 and b'"files"' not in body and b'"outputs"' not in body, (rel, encoding)
    assert get(f"{base}/index.html")[0] == 200


def test_same_url_avif_sidecar_is_served_by_accept(served) -> None:
    tiny, base = served["tiny"], served["tiny_url"]
    jpg, avif = (tiny / "photo.jpg").read_bytes(), (tiny / "photo.jpg.avif").read_bytes()
    status, headers, body = get(f"{base}/photo.jpg", Accept=CHROME_ACCEPT)
    assert status == 200 and body == avif
    assert headers["content-type"] == "image/avif" and "content-encoding" not in headers
    assert headers["vary"] == "Accept"
    assert Image.open(io.BytesIO(body)).format == "AVIF"
    for accept in ("image/webp,*/*", "*/*", None):  # no AVIF in Accept (WebP has no sidecar here): the original
        status, headers, body = get(f"{base}/photo.jpg", **({"Accept": accept} if accept else {}))
        assert status == 200 and body == jpg, accept
        assert headers["content-type"] == "image/jpeg" and headers["vary"] == "Accept", accept
    assert get(f"{base}/missing.jpg", Accept=CHROME_ACCEPT)[0] == 404
    # the upload plan stores the sidecar under its own image type, with the original's Cache-Control
    plan = upload.read_plan(tiny, UploadConfig())
    by_file = {item.file: item for item in plan.items()}
    assert by_file["photo.jpg.avif"].as_json() == {
        "file": "photo.jpg.avif", "key": "photo.jpg.avif", "content_type": "image/avif", "content_encoding": None,
        "cache_control": by_file["photo.jpg"].cache_control, "size": len(avif),
        "sha256": hashlib.sha256(avif).hexdigest()}
    assert by_file["photo.jpg"].cache_control == uploadplan.SHORT


def test_webp_is_next_when_there_is_no_avif(served, tmp_path) -> None:
    tiny, base = served["tiny"], served["tiny_url"]
    with Image.open(tiny / "photo.jpg") as photo:
        photo.save(tiny / "only-webp.jpg", quality=92)
        photo.save(tiny / "only-webp.jpg.webp", quality=60)
    webp = (tiny / "only-webp.jpg.webp").read_bytes()
    status, headers, body = get(f"{base}/only-webp.jpg", Accept=CHROME_ACCEPT)
    assert status == 200
    assert body == webp and headers["content-type"] == "image/webp" and headers["vary"] == "Accept"
    assert get(f"{base}/only-webp.jpg", Accept="image/avif,*/*")[2] == (tiny / "only-webp.jpg").read_bytes()


@pytest.mark.skipif(not CHROMEDRIVER.exists(), reason="needs Debian's chromium-driver (.ci/run installs it)")
def test_chromium_loads_the_page_with_no_failed_request_and_gets_avif(served) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    base = served["site_url"]
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):  # offline: external URLs fail fast
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        driver.get(base + "/")
        responses: dict[str, dict] = {}
        failed: list[str] = []
        urls: dict[str, str] = {}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for entry in driver.get_log("performance"):
                message = json.loads(entry["message"])["message"]
                params = message.get("params", {})
                if message["method"] == "Network.requestWillBeSent":
                    urls[params["requestId"]] = params["request"]["url"]
                elif message["method"] == "Network.responseReceived":
                    responses[params["response"]["url"]] = params["response"]
                elif message["method"] == "Network.loadingFailed":
                    failed.append(f"{urls.get(params['requestId'])}: {params.get('errorText')}")
            ready = driver.execute_script("return document.readyState") == "complete"
            if ready and f"{base}/{HERO}" in responses:
                break
            time.sleep(0.1)
    finally:
        driver.quit()
    ours = {url: r for url, r in responses.items() if url.startswith(base)}
    assert f"{base}/" in ours and ours[f"{base}/"]["status"] == 200
    assert [f for f in failed if f.startswith(base)] == []
    assert {url: r["status"] for url, r in ours.items() if r["status"] >= 400} == {}
    script = ours[f"{base}/assets/index-2vZXRZ4C.js"]
    assert {k.lower(): v for k, v in script["headers"].items()}["content-encoding"] == "br"
    # TODO(issue 7): the AVIF for the JS-imported hero is the image stage's same-URL sidecar
    # (assets/hero-gYV4LCM5.jpg.avif). Until that stage is committed the build may not write it; the
    # nginx side of this is covered for real by test_same_url_avif_sidecar_is_served_by_accept.
    if not (served["site"] / f"{HERO}.avif").exists():
        pytest.skip("TODO(issue 7): the image stage wrote no same-URL sidecar for the JS-imported hero image")
    hero = ours[f"{base}/{HERO}"]
    assert hero["status"] == 200 and hero["mimeType"] == "image/avif"
    assert {k.lower(): v for k, v in hero["headers"].items()}["vary"] == "Accept"
