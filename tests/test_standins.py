"""Same-URL sidecars of the fallback renditions an `<img>` given attributes in place names (issue 23,
images/standins.py), on a real framework's output (fixtures/hydrated/sveltekit): on disk once (a hard link,
a copy where links fail), in the manifest and the upload plan, removed when no longer needed, the same from
an incremental build as from a clean one, and served as AVIF at the rendition's own URL by the shipped nginx
snippets to a real Chromium. A `<picture>` page gets none.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from assetpipe.config import UploadConfig
from assetpipe.html.inplace import MARK
from assetpipe.upload import plan as uploadplan
from assetpipe.upload import targets as upload

from .conftest import DEMO, REPO, build_hydrated, snapshot
from .test_serving import BROTLI_MODULE, CHROME_ACCEPT, CHROMEDRIVER, NGINX, free_port, get, nginx_conf

FIXTURE = REPO / "fixtures" / "hydrated" / "sveltekit"
SCHEMA = json.loads((REPO / "config" / "manifest.schema.json").read_text())
STRACE = shutil.which("strace")
# a fallback rendition's same-URL sidecar: `hero.cf892927.451w.jpg.avif`
STAND_IN = re.compile(r"\.[0-9a-f]{8}\.[0-9]+w\.(?:jpg|png|gif|webp)\.(?:avif|webp)$")


def _copy(into: Path, source: Path = FIXTURE) -> Path:
    shutil.copytree(source, into)
    return into


def _stand_ins(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if STAND_IN.search(p.name))


def _in_place_srcsets(root: Path) -> list[str]:
    """Every URL of the srcset of each <img> given attributes in place, as a path in the folder."""
    page = (root / "index.html").read_text()
    urls = []
    for tag in re.findall(r"<img\b[^>]*>", page):
        if MARK in tag:
            srcset = re.search(r'\ssrcset="([^"]*)"', tag.split(MARK, 1)[1])
            assert srcset is not None, tag
            urls += [c.strip().split()[0].lstrip("/") for c in srcset.group(1).split(",")]
    return urls


def _manifest(root: Path) -> dict:
    return json.loads((root / ".assetpipe" / "manifest.json").read_text())


def _without_journal(found: dict[str, str]) -> dict[str, str]:
    return {rel: digest for rel, digest in found.items() if not rel.startswith(".assetpipe/journal")}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("standins")
    site = _copy(root / "site")
    build_hydrated(site, root / "cache")
    return site


def test_each_rendition_an_in_place_img_names_has_avif_and_webp_stored_once(built: Path) -> None:
    urls = _in_place_srcsets(built)
    assert len(urls) >= 4  # the fixture's images, each at its widths
    files = _manifest(built)["files"]
    variants = {v["file"]: (rel, v) for rel, entry in files.items()
                for v in (entry.get("image") or {}).get("variants", ())}
    for url in urls:
        rel, fallback = variants[url]
        modern = {v["format"]: v for _, v in variants.values()
                  if v["file"].startswith(rel.rsplit(".", 1)[0] + ".") and v["width"] == fallback["width"]}
        listed = fallback["encodings"]
        for fmt in ("avif", "webp"):  # every one smaller than the JPEG/PNG on this fixture
            sidecar = built / f"{url}.{fmt}"
            assert listed[fmt] == {"file": f"{url}.{fmt}", "size": sidecar.stat().st_size}
            assert os.path.samefile(sidecar, built / modern[fmt]["file"])  # one file, two names
            assert sidecar.stat().st_size < (built / url).stat().st_size
    jsonschema.Draft202012Validator(SCHEMA).validate(_manifest(built))
    ledger = json.loads((built / ".assetpipe" / "outputs.json").read_text())
    assert set(_stand_ins(built)) <= set(json.dumps(ledger).replace('"', " ").split())


def test_the_upload_plan_carries_them_with_their_own_type(built: Path) -> None:
    items = {item.file: item for item in upload.read_plan(built, UploadConfig()).items()}
    assert _stand_ins(built)
    for rel in _stand_ins(built):
        item = items[rel]
        assert item.content_type == f"image/{rel.rsplit('.', 1)[1]}" and item.content_encoding is None
        assert item.cache_control == uploadplan.IMMUTABLE and item.sidecar


def test_a_picture_page_gets_none(tmp_path: Path) -> None:
    demo = _copy(tmp_path / "demo", DEMO)
    build_hydrated(demo, tmp_path / "cache")
    assert "<picture" in (demo / "index.html").read_text() and _stand_ins(demo) == []
    site = _copy(tmp_path / "site")
    build_hydrated(site, tmp_path / "cache", "picture")
    assert _stand_ins(site) == []


def test_incremental_is_clean_and_they_go_when_no_longer_needed(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    clean = {}
    for mode in ("attributes", "picture"):
        clean[mode] = snapshot(_build_fresh(tmp_path / f"clean-{mode}", cache, mode))
    site = _copy(tmp_path / "site")
    for mode in ("picture", "attributes", "attributes", "picture"):
        build_hydrated(site, cache, mode)
        assert _without_journal(snapshot(site)) == _without_journal(clean[mode]), mode
    assert _stand_ins(site) == []
    assert any(STAND_IN.search(rel) for rel in clean["attributes"])


def _build_fresh(site: Path, cache: Path, mode: str) -> Path:
    _copy(site)
    build_hydrated(site, cache, mode)
    return site


@pytest.mark.skipif(STRACE is None, reason="needs strace (.ci/run installs it)")
def test_without_hard_links_they_are_copies(tmp_path: Path) -> None:
    """Every link() fails with EXDEV (injected by strace): each rendition sidecar is a file of its own
    holding the modern variant's bytes, and a second build changes nothing."""
    site = _copy(tmp_path / "site")
    env = {k: v for k, v in os.environ.items() if k != "ASSETPIPE_CACHE_DIR"}
    env["PYTHONPATH"] = str(REPO)
    states = []
    for _ in range(2):
        done = subprocess.run([STRACE, "-f", "--seccomp-bpf", "-qq", "-o", os.devnull, "-e", "trace=link,linkat", "-e",
                               "inject=link,linkat:error=EXDEV", sys.executable, "-m", "assetpipe", "build",
                               str(site), "--cache-dir", str(tmp_path / "cache"), "-q"], env=env, text=True,
                              capture_output=True, timeout=300)
        assert done.returncode == 0, done.stderr
        states.append(_without_journal(snapshot(site)))
    assert states[0] == states[1]
    found = _stand_ins(site)
    assert found
    for rel in found:
        assert (site / rel).stat().st_nlink == 1
    listed = {e["file"]: e["size"] for entry in _manifest(site)["files"].values()
              for v in (entry.get("image") or {}).get("variants", ()) for e in v.get("encodings", {}).values()}
    assert {rel: (site / rel).stat().st_size for rel in found} == listed


# --- served by the shipped nginx snippets ------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if NGINX is None or not BROTLI_MODULE.exists():
        pytest.skip("needs Debian's nginx and libnginx-mod-http-brotli-static (.ci/run installs them)")
    state = tmp_path_factory.mktemp("nginx")
    port = free_port()
    conf = state / "nginx.conf"
    conf.write_text(nginx_conf(state, {port: built}))
    process = subprocess.Popen([str(NGINX), "-p", str(state), "-c", str(conf), "-e", str(state / "error.log")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(500):
            if process.poll() is not None:
                pytest.fail(f"nginx exited: {process.stderr.read().decode() if process.stderr else ''}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_nginx_answers_a_rendition_by_accept(built: Path, served: str) -> None:
    for url in _in_place_srcsets(built):
        status, headers, body = get(f"{served}/{url}", Accept=CHROME_ACCEPT)
        assert status == 200 and headers["content-type"] == "image/avif", url
        assert body == (built / f"{url}.avif").read_bytes() and headers["vary"] == "Accept", url
        status, headers, body = get(f"{served}/{url}", Accept="image/webp,*/*")
        assert headers["content-type"] == "image/webp" and body == (built / f"{url}.webp").read_bytes(), url
        status, headers, body = get(f"{served}/{url}", Accept="*/*")
        assert body == (built / url).read_bytes() and headers["content-type"] != "image/avif", url


@pytest.mark.skipif(not CHROMEDRIVER.exists(), reason="needs Debian's chromium-driver (.ci/run installs it)")
def test_chromium_gets_avif_for_the_rendition_it_chose(built: Path, served: str) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=412,915", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        driver.get(served + "/")
        chosen: list[str] = []
        responses: dict[str, dict] = {}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for entry in driver.get_log("performance"):
                message = json.loads(entry["message"])["message"]
                if message["method"] == "Network.responseReceived":
                    response = message["params"]["response"]
                    responses[response["url"]] = response
            chosen = driver.execute_script(
                f"return [...document.querySelectorAll('img[{MARK}]')].map(i => i.complete ? i.currentSrc : '')")
            if chosen and all(chosen) and all(url in responses for url in chosen):
                break
            time.sleep(0.1)
    finally:
        driver.quit()
    assert chosen and all(chosen), chosen
    for url in chosen:
        assert STAND_IN.search(url + ".avif"), url  # a fallback rendition's URL, as the srcset names it
        assert responses[url]["mimeType"] == "image/avif", (url, responses[url]["mimeType"])
        assert responses[url]["headers"].get("Vary", responses[url]["headers"].get("vary")) == "Accept"
