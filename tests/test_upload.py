"""`assetpipe upload`: the plan (pure), the command target, and the s3 target against a real
S3-compatible server (moto's standalone server on 127.0.0.1, boto3 as the client, no mocks of the
network), with a small local proxy in front of it that fails chosen PUTs."""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from click.testing import CliRunner

from assetpipe.cli import main
from assetpipe.config import UploadConfig, UploadRule
from assetpipe.upload import plan as uploadplan
from assetpipe.upload.plan import FileFacts, PlanError
from assetpipe.upload.targets import _Stored, prune_choice

from .conftest import DEMO, HASH_TREE, HASH_TREE_IMMUTABLE, make_hash_tree

IMMUTABLE = "public, max-age=31536000, immutable"
VENDOR = "assets/vendor-w039_3iX.js"


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo site, built once for the module (copy it before changing it)."""
    root = tmp_path_factory.mktemp("built")
    shutil.copytree(DEMO, root / "dist")
    result = run("build", str(root / "dist"), "--cache-dir", str(root / "cache"), "-q")
    assert result.exit_code == 0, result.stderr
    return root / "dist"


@pytest.fixture
def site_copy(built: Path, tmp_path: Path) -> Path:
    shutil.copytree(built, tmp_path / "dist")
    return tmp_path / "dist"


# --- the plan: pure -------------------------------------------------------------------------------


def facts(data: bytes) -> FileFacts:
    return FileFacts(len(data), hashlib.sha256(data).hexdigest())


def tiny_manifest() -> tuple[dict, dict[str, FileFacts]]:
    blobs = {"index.html": b"<p>hi", "index.html.br": b"b1", "assets/app-Ab12Cd34.js": b"js",
             "assets/app-Ab12Cd34.js.br": b"b2", "assets/app-Ab12Cd34.js.gz": b"g2", "favicon.ico": b"ico",
             "sw.js": b"sw", "img/hero-Zz9Yy8Xx.jpg": b"jpg", "img/hero-Zz9Yy8Xx.jpg.avif": b"av",
             "img/hero-Zz9Yy8Xx.3f9a1c2e.320w.webp": b"w", "img/logo.png": b"png", "img/logo.png.webp": b"lw",
             ".vite/manifest.json": b"{}", "robots.txt": b"r"}
    tree = {rel: facts(data) for rel, data in blobs.items()}

    def entry(rel: str, media_type: str, immutable: bool, **extra: object) -> dict:
        return {"size": tree[rel].size, "sha256": tree[rel].sha256, "type": media_type, "immutable": immutable, **extra}

    def enc(rel: str) -> dict:
        return {"file": rel, "size": tree[rel].size}

    files = {
        "index.html": entry("index.html", "text/html", False, encodings={"br": enc("index.html.br")}),
        "assets/app-Ab12Cd34.js": entry("assets/app-Ab12Cd34.js", "text/javascript", True, encodings={
            "br": enc("assets/app-Ab12Cd34.js.br"), "gzip": enc("assets/app-Ab12Cd34.js.gz")}),
        "favicon.ico": entry("favicon.ico", "image/vnd.microsoft.icon", False),
        "sw.js": entry("sw.js", "text/javascript", False),
        "img/hero-Zz9Yy8Xx.jpg": entry("img/hero-Zz9Yy8Xx.jpg", "image/jpeg", True,
                                       encodings={"avif": enc("img/hero-Zz9Yy8Xx.jpg.avif")},
                                       image={"variants": [{"file": "img/hero-Zz9Yy8Xx.3f9a1c2e.320w.webp",
                                                            "format": "webp", "size": 1}]}),
        "img/logo.png": entry("img/logo.png", "image/png", False, encodings={"webp": enc("img/logo.png.webp")}),
        ".vite/manifest.json": entry(".vite/manifest.json", "application/json", False),
        "robots.txt": entry("robots.txt", "text/plain", False),
    }
    return {"schema": 1, "files": files, "failures": []}, tree


def test_plan_headers_phases_and_contract_names() -> None:
    manifest, tree = tiny_manifest()
    plan = uploadplan.build(manifest, tree, UploadConfig(prefix="/site"))
    rows = [[(i.key, i.content_type, i.content_encoding, i.cache_control) for i in phase] for phase in plan.phases]
    js = "text/javascript; charset=utf-8"
    assert rows == [
        [("site/assets/app-Ab12Cd34.js", js, None, IMMUTABLE),
         ("site/assets/app-Ab12Cd34.js.br", js, "br", IMMUTABLE),
         ("site/assets/app-Ab12Cd34.js.gz", js, "gzip", IMMUTABLE),
         ("site/img/hero-Zz9Yy8Xx.jpg", "image/jpeg", None, IMMUTABLE),
         ("site/img/hero-Zz9Yy8Xx.jpg.avif", "image/avif", None, IMMUTABLE),  # its own type, no encoding
         ("site/img/hero-Zz9Yy8Xx.3f9a1c2e.320w.webp", "image/webp", None, IMMUTABLE)],
        [("site/favicon.ico", "image/vnd.microsoft.icon", None, "public, max-age=300"),
         ("site/img/logo.png", "image/png", None, "public, max-age=300"),
         ("site/img/logo.png.webp", "image/webp", None, "public, max-age=300"),  # the original's Cache-Control
         ("site/robots.txt", "text/plain; charset=utf-8", None, "public, max-age=300"),
         ("site/sw.js", js, None, "no-cache")],
        [("site/index.html", "text/html; charset=utf-8", None, "no-cache"),
         ("site/index.html.br", "text/html; charset=utf-8", "br", "no-cache")],
    ]
    document = json.loads(plan.dumps())
    assert list(document) == ["schema", "phases", "delete"] and document["schema"] == 1 and document["delete"] == []
    first = document["phases"][0][1]
    assert first == {"file": "assets/app-Ab12Cd34.js.br", "key": "site/assets/app-Ab12Cd34.js.br",
                     "content_type": js, "content_encoding": "br", "cache_control": IMMUTABLE, "size": 2,
                     "sha256": tree["assets/app-Ab12Cd34.js.br"].sha256}
    assert ".vite/manifest.json" in plan.kept_back  # excluded by default, and never pruned


def test_plan_rules_and_excludes_by_glob() -> None:
    manifest, tree = tiny_manifest()
    cfg = UploadConfig(exclude=("img/**", ".vite/**"), rules=(
        UploadRule("assets/*.js", cache_control="public, max-age=60"),
        UploadRule("assets/**", cache_control="never used: first match wins"),
        UploadRule("robots.txt", content_type="text/plain; charset=us-ascii")))
    by_key = {i.key: i for i in uploadplan.build(manifest, tree, cfg).items()}
    assert not any(k.startswith("img/") for k in by_key)
    assert by_key["assets/app-Ab12Cd34.js.gz"].cache_control == "public, max-age=60"  # sidecars follow
    assert by_key["assets/app-Ab12Cd34.js.gz"].content_encoding == "gzip"
    assert by_key["robots.txt"].content_type == "text/plain; charset=us-ascii"
    assert by_key["sw.js"].cache_control == "no-cache"


def test_plan_refuses_a_tree_that_changed_since_its_manifest() -> None:
    manifest, tree = tiny_manifest()
    del tree["index.html.br"]
    tree["robots.txt"] = facts(b"edited")
    tree["new.txt"] = facts(b"new")
    tree["_headers"] = facts(b"ours")
    with pytest.raises(PlanError) as info:
        uploadplan.build(manifest, tree, UploadConfig(), owned=frozenset({"_headers"}))
    assert info.value.problems == ["index.html.br: listed in the manifest but missing from the folder",
                                   "robots.txt: changed since the build",
                                   "new.txt: not in the manifest (added after the build?)"]


def test_prune_choice_honours_grace_and_cap() -> None:
    now = datetime(2025, 1, 10, tzinfo=UTC)
    stored = {"a.js": _Stored(1, now - timedelta(days=30)), "b.js": _Stored(1, now - timedelta(days=8)),
              "c.js": _Stored(1, now - timedelta(days=1)), "keep.html": _Stored(1, now - timedelta(days=99))}
    keep = frozenset({"keep.html"})
    assert prune_choice(stored, keep, now, UploadConfig(prune=True)) == (("a.js", "b.js"), None)
    assert prune_choice(stored, keep, now, UploadConfig(prune=True, prune_grace_hours=0))[0] == ("a.js", "b.js", "c.js")
    chosen, notice = prune_choice(stored, keep, now, UploadConfig(prune=True, max_deletes=1))
    assert chosen == () and "2 objects to prune, more than upload.max_deletes (1): none deleted" in notice.message


# --- the CLI around the plan ----------------------------------------------------------------------


def test_dry_run_prints_the_plan_and_json(cli, site_copy: Path) -> None:
    result = cli("upload", str(site_copy), "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    files = [item["file"] for phase in document["phases"] for item in phase]
    assert all(f.endswith((".html", ".html.br", ".html.gz")) for f in files[-6:])
    assert ".vite/manifest.json" not in files and not any(f.startswith(".assetpipe/") for f in files)
    for phase in document["phases"]:
        for item in phase:
            assert list(item) == ["file", "key", "content_type", "content_encoding", "cache_control", "size", "sha256"]
            assert item["sha256"] == hashlib.sha256((site_copy / item["file"]).read_bytes()).hexdigest()
    text = cli("upload", str(site_copy), "--dry-run")
    assert text.exit_code == 0
    assert text.stdout.splitlines()[0].startswith("phase 1: hashed assets and their sidecars (")
    assert text.stdout.splitlines()[-1] == f"dry run: {len(files)} files in 3 phases; nothing sent"


def test_missing_manifest_and_config_errors_exit_2(cli, tmp_path: Path, site_copy: Path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(DEMO, bare)
    result = cli("upload", str(bare), "--dry-run")
    assert result.exit_code == 2
    assert result.stderr == (f"error: {bare / '.assetpipe' / 'manifest.json'}: no manifest; "
                             f"run `assetpipe build {bare}` first\n")
    result = cli("upload", str(site_copy))
    assert result.exit_code == 2 and "upload.command: empty" in result.stderr
    result = cli("upload", str(site_copy), "--target", "s3")
    assert result.exit_code == 2 and "upload.bucket: empty" in result.stderr
    (site_copy / "robots.txt").write_text("changed\n")
    result = cli("upload", str(site_copy), "--dry-run")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: robots.txt: changed since the build",
        f"error: {site_copy} changed since its manifest was written; run `assetpipe build {site_copy}` again, "
        "then upload"]


# --- target: command ------------------------------------------------------------------------------

RECORDER = """import json, os, sys
plan = json.load(sys.stdin)
with open(sys.argv[1], "a") as log:
    log.write(json.dumps({"phase": os.environ["ASSETPIPE_PHASE"], "name": os.environ["ASSETPIPE_PHASE_NAME"],
                          "dir": os.environ["ASSETPIPE_DIR"], "files": sum(len(p) for p in plan["phases"])}) + "\\n")
print("deploying phase", os.environ["ASSETPIPE_PHASE"])
sys.exit(int(sys.argv[2]) if os.environ["ASSETPIPE_PHASE"] in sys.argv[3:] else 0)
"""


def command_config(tmp_path: Path, *, per_phase: bool, fail: str = "") -> Path:
    (tmp_path / "record.py").write_text(RECORDER)
    command = f"{sys.executable} {tmp_path / 'record.py'} {tmp_path / 'calls.jsonl'} 3 {fail}".strip()
    (tmp_path / "assetpipe.toml").write_text(
        f"[upload]\ncommand = {json.dumps(command)}\ncommand_per_phase = {'true' if per_phase else 'false'}\n")
    return tmp_path / "calls.jsonl"


def calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_command_gets_the_plan_on_stdin_and_its_output_is_shown(cli, tmp_path: Path, site_copy: Path) -> None:
    log = command_config(tmp_path, per_phase=False)
    result = cli("upload", str(site_copy))
    assert result.exit_code == 0, result.stderr
    total = sum(map(len, json.loads(cli("upload", str(site_copy), "--dry-run", "--json").stdout)["phases"]))
    assert calls(log) == [{"phase": "all", "name": "all", "dir": str(site_copy.resolve()), "files": total}]
    output, summary = result.stderr.splitlines()
    assert output == "deploying phase all"
    assert re.fullmatch(rf"upload: {total} files \([\d.]+ [kM]B\) handed to `.+record\.py .+` in \d+\.\d s", summary)


def test_command_per_phase_stops_before_html_when_a_phase_fails(cli, tmp_path: Path, site_copy: Path) -> None:
    log = command_config(tmp_path, per_phase=True)
    assert cli("upload", str(site_copy)).exit_code == 0
    assert [(c["phase"], c["name"]) for c in calls(log)] == [("1", "assets"), ("2", "other"), ("3", "html")]
    log.unlink()
    log = command_config(tmp_path, per_phase=True, fail="2")
    result = cli("upload", str(site_copy), "--json")
    assert result.exit_code == 1
    assert [c["phase"] for c in calls(log)] == ["1", "2"]  # the HTML phase never ran
    assert "upload command exited with status 3 in phase 2 (other files)" in result.stderr
    assert "no HTML was uploaded and nothing was deleted; run it again" in result.stderr.splitlines()[-1]
    assert json.loads(result.stdout)["phases_done"] == 1


def test_build_upload_runs_only_after_a_build_without_failures(cli, tmp_path: Path, site: Path) -> None:
    log = command_config(tmp_path, per_phase=False)
    result = cli("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--upload")
    assert result.exit_code == 0, result.stderr
    assert len(calls(log)) == 1 and "handed to" in result.stderr
    (site / "broken.txt").symlink_to(site / "nowhere")
    result = cli("build", str(site), "--cache-dir", str(tmp_path / "cache"), "--upload")
    assert result.exit_code == 1 and len(calls(log)) == 1
    assert "error: not uploading: the build did not succeed (see above)" in result.stderr


def test_the_plan_caches_for_a_year_only_what_the_manifest_calls_hashed(cli, tmp_path: Path) -> None:
    """Issue 24: icons named like `arrow-90deg-up.svg` were planned for a year, Vite's `main-qvvkftmj.css`
    for five minutes."""
    site = make_hash_tree(tmp_path / "dist")
    assert cli("build", str(site), "--cache-dir", str(tmp_path / "cache"), "-q").exit_code == 0
    plan = json.loads(cli("upload", str(site), "--dry-run", "--json").stdout)
    planned = {i["file"]: i["cache_control"] for phase in plan["phases"] for i in phase
               if i["content_encoding"] is None}
    assert planned == {rel: IMMUTABLE if rel in HASH_TREE_IMMUTABLE else "no-cache" if rel.endswith(".html")
                       else "public, max-age=300" for rel in HASH_TREE if not rel.startswith(".vite/")}
    assert planned["icons/arrow-90deg-up.svg"] == planned["icons/grid-1x2-fill.svg"] == "public, max-age=300"
    assert planned["assets/main-qvvkftmj.css"] == IMMUTABLE


# --- target: s3, against moto's server --------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with pytest.MonkeyPatch.context() as env:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                            "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
                            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)
        server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def s3(s3_endpoint: str, request: pytest.FixtureRequest):
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    bucket = "site-" + hashlib.sha256(request.node.name.encode()).hexdigest()[:12]
    client.create_bucket(Bucket=bucket)
    return client, bucket


def s3_config(tmp_path: Path, endpoint: str, bucket: str, **extra: object) -> Path:
    lines = ["[upload]", 'target = "s3"', f'bucket = "{bucket}"', f'endpoint_url = "{endpoint}"',
             'region = "us-east-1"', *(f"{k} = {json.dumps(v)}" for k, v in extra.items())]
    path = tmp_path / f"s3-{len(list(tmp_path.glob('s3-*.toml')))}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def upload_json(cli, site: Path, config: Path) -> tuple[int, dict, str]:
    result = cli("upload", str(site), "--config", str(config), "--json")
    return result.exit_code, json.loads(result.stdout), result.stderr


def stored_keys(client, bucket: str) -> set[str]:
    return {o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", ())}


def test_s3_upload_headers_change_detection_and_pruning(cli, tmp_path: Path, site_copy: Path, s3_endpoint, s3) -> None:
    client, bucket = s3
    config = s3_config(tmp_path, s3_endpoint, bucket)
    plan = json.loads(cli("upload", str(site_copy), "--dry-run", "--json").stdout)
    items = [i for p in plan["phases"] for i in p]
    code, result, stderr = upload_json(cli, site_copy, config)
    assert code == 0, stderr
    assert sorted(result["sent"]) == sorted(i["key"] for i in items) and result["phases_done"] == 3
    for item in items:  # every object read back: bytes and headers as planned
        obj = client.get_object(Bucket=bucket, Key=item["key"])
        assert obj["Body"].read() == (site_copy / item["file"]).read_bytes(), item["file"]
        assert obj["ContentType"] == item["content_type"] and obj["CacheControl"] == item["cache_control"]
        assert obj.get("ContentEncoding") == item["content_encoding"], item["file"]
        assert obj["Metadata"] == {"sha256": item["sha256"]}
    assert stored_keys(client, bucket) == {i["key"] for i in items}

    code, result, _ = upload_json(cli, site_copy, config)  # nothing changed: nothing sent
    assert code == 0 and result["sent"] == [] and result["unchanged"] == len(items)

    # a new build of one changed chunk: new hashed name, and the HTML that names it
    old, new = "assets/index-2vZXRZ4C.js", "assets/index-N3wHash9.js"
    (site_copy / new).write_bytes((site_copy / old).read_bytes() + b"\n// changed\n")
    for name in (old, old + ".br", old + ".gz", old + ".map"):
        (site_copy / name).unlink(missing_ok=True)
    index = site_copy / "index.html"
    index.write_text(index.read_text().replace(old, new))
    assert run("build", str(site_copy), "--cache-dir", str(tmp_path / "cache"), "-q").exit_code == 0
    code, result, _ = upload_json(cli, site_copy, config)
    assert code == 0
    assert sorted(result["sent"]) == sorted([new, new + ".br", new + ".gz", "index.html", "index.html.br",
                                             "index.html.gz"])
    stale = {old, old + ".br", old + ".gz", old + ".map"}
    assert stale <= stored_keys(client, bucket)  # no pruning unless asked

    # pruning: never objects younger than the grace period, never more than max_deletes
    code, result, stderr = upload_json(cli, site_copy, s3_config(tmp_path, s3_endpoint, bucket, prune=True))
    assert code == 0 and result["deleted"] == [] and stale <= stored_keys(client, bucket)
    capped = s3_config(tmp_path, s3_endpoint, bucket, prune=True, prune_grace_hours=0, max_deletes=3)
    code, result, stderr = upload_json(cli, site_copy, capped)
    assert code == 0 and result["deleted"] == []
    assert "4 objects to prune, more than upload.max_deletes (3): none deleted" in stderr
    ok = s3_config(tmp_path, s3_endpoint, bucket, prune=True, prune_grace_hours=0, max_deletes=4)
    code, result, stderr = upload_json(cli, site_copy, ok)
    assert code == 0 and sorted(result["deleted"]) == sorted(stale)
    assert stored_keys(client, bucket) == {i["key"] for i in json.loads(
        cli("upload", str(site_copy), "--dry-run", "--json").stdout)["phases"] for i in i}


def test_s3_large_files_go_up_in_parts(cli, tmp_path: Path, s3_endpoint, s3) -> None:
    client, bucket = s3
    site = tmp_path / "big"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html><title>big</title>")
    blob = os.urandom(9 * 1024 * 1024)
    (site / "data-9f8e7d6c.bin").write_bytes(blob)
    assert run("build", str(site), "--cache-dir", str(tmp_path / "cache"), "-q").exit_code == 0
    code, _, stderr = upload_json(cli, site, s3_config(tmp_path, s3_endpoint, bucket, prefix="v1/"))
    assert code == 0, stderr
    head = client.head_object(Bucket=bucket, Key="v1/data-9f8e7d6c.bin")
    assert head["ETag"].strip('"').endswith("-2")  # two 8 MiB parts
    assert head["Metadata"]["sha256"] == hashlib.sha256(blob).hexdigest()
    assert head["CacheControl"] == IMMUTABLE and head["ContentType"] == "application/octet-stream"
    assert client.get_object(Bucket=bucket, Key="v1/data-9f8e7d6c.bin")["Body"].read() == blob


class FaultyProxy:
    """A plain HTTP proxy in front of the S3 server that fails the PUTs `fail(key)` picks."""

    def __init__(self, upstream: str, fail: Callable[[str], int | None]) -> None:
        target = urlsplit(upstream)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                key = unquote(urlsplit(self.path).path.split("/", 2)[-1])
                status = outer.fail(key) if self.command == "PUT" else None
                if status is not None:
                    outer.failed.append(key)
                    payload = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{outer.codes[status]}</Code>"
                               "<Message>injected by the test proxy</Message></Error>").encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "expect"}
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                connection.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self.fail = fail
        self.failed: list[str] = []
        self.codes = {403: "AccessDenied", 503: "SlowDown"}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_s3_failed_puts_stop_before_html_delete_nothing_and_a_rerun_completes(
        cli, tmp_path: Path, site_copy: Path, s3_endpoint, s3) -> None:
    client, bucket = s3
    client.put_object(Bucket=bucket, Key="assets/old-Gone1234.js", Body=b"old")  # prunable, if all goes well
    throttled: set[str] = set()

    def fail(key: str) -> int | None:
        if key.endswith(f"{bucket}/{VENDOR}.br") or key == f"{VENDOR}.br":
            return 403  # not retryable: this file cannot be stored
        if key.endswith("index-2vZXRZ4C.js") and key not in throttled:
            throttled.add(key)
            return 503  # throttled once: retried with backoff, then stored
        return None

    proxy = FaultyProxy(s3_endpoint, fail)
    try:
        config = s3_config(tmp_path, proxy.url, bucket, prune=True, prune_grace_hours=0)
        code, result, stderr = upload_json(cli, site_copy, config)
    finally:
        proxy.close()
    assert code == 1
    assert result["phases_done"] == 0 and result["deleted"] == []
    assert any(k.endswith("index-2vZXRZ4C.js") for k in proxy.failed)  # the 503 happened, and was retried
    assert [f["file"] for f in result["failures"]] == [f"{VENDOR}.br"]
    assert f"error: {VENDOR}.br: upload failed: AccessDenied: injected by the test proxy (HTTP 403)" in stderr
    keys = stored_keys(client, bucket)
    assert stderr.splitlines()[-1] == (
        f"error: upload failed: {result['files'] - len(keys) + 1} of {result['files']} files not stored, no HTML was "
        "uploaded and nothing was deleted; run it again to send what is missing")  # (+1: the object put above)
    assert not any(k.endswith((".html", ".html.br", ".html.gz")) for k in keys)
    assert "robots.txt" not in keys  # phase 2 never started
    assert "assets/old-Gone1234.js" in keys and "assets/index-2vZXRZ4C.js" in keys
    # the re-run (store healthy again) sends exactly what is missing, then prunes
    code, again, stderr = upload_json(cli, site_copy, s3_config(tmp_path, s3_endpoint, bucket, prune=True,
                                                                prune_grace_hours=0))
    assert code == 0, stderr
    plan = json.loads(cli("upload", str(site_copy), "--dry-run", "--json").stdout)
    everything = {i["key"] for p in plan["phases"] for i in p}
    assert set(again["sent"]) == everything - keys and f"{VENDOR}.br" in again["sent"]
    assert again["deleted"] == ["assets/old-Gone1234.js"]
    assert stored_keys(client, bucket) == everything


def test_s3_sends_each_byte_once(cli, tmp_path: Path, s3_endpoint, s3) -> None:
    """An unhashed image's own-width variant is a hard link to its same-URL sidecar (SPEC §2.1): the
    bucket gets both names, each with its own headers, but the bytes go up once and are copied there."""
    client, bucket = s3
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(DEMO / "assets" / "coffee-A-I1hS5R.jpg", site / "photo.jpg")
    (site / "index.html").write_text('<!doctype html><title>t</title><img src="photo.jpg" alt="coffee">\n')
    assert cli("build", str(site), "--cache-dir", str(tmp_path / "cache")).exit_code == 0
    plan = json.loads(cli("upload", str(site), "--dry-run", "--json").stdout)
    items = [i for p in plan["phases"] for i in p]
    twins = [i for i in items if sum(j["sha256"] == i["sha256"] for j in items) > 1]
    assert len(twins) >= 4  # the AVIF and the WebP, each under two names
    code, result, stderr = upload_json(cli, site, s3_config(tmp_path, s3_endpoint, bucket))
    assert code == 0, stderr
    assert sorted(result["sent"]) == sorted(i["key"] for i in items)
    distinct = {i["sha256"]: i["size"] for i in items}
    assert result["bytes_sent"] == sum(distinct.values()) < sum(i["size"] for i in items)
    for item in twins:
        obj = client.get_object(Bucket=bucket, Key=item["key"])
        assert obj["Body"].read() == (site / item["file"]).read_bytes()
        assert obj["ContentType"] == item["content_type"] and obj["CacheControl"] == item["cache_control"]
        assert obj["Metadata"] == {"sha256": item["sha256"]}
