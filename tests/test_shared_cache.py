"""The shared cache (SPEC §5b): `--cache-dir s3://bucket/prefix` or any fsspec URL, against moto's real
S3 server on 127.0.0.1 (s3fs as the client, no mock of the network) and a file:// folder.

Two "machines" are two working directories, each with its own local cache folder, pointing at the
same URL: between them each output is encoded once. A damaged blob is recomputed, never shipped; a
URL that cannot be used is one line and exit 2, before anything is written.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from assetpipe.cli import main

from .conftest import DEMO, snapshot
from .conftest import S3_BUCKET as BUCKET

pytest.importorskip("s3fs")
SITE_FILES = ("assets/coffee-A-I1hS5R.jpg", "assets/index-2vZXRZ4C.js", "assets/index-AVh2cVPR.css")


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """A fresh copy of a small site on a 'machine' of its own: a working directory (whose
    ./.assetpipe-cache is that machine's local cache) made current."""
    monkeypatch.delenv("ASSETPIPE_CACHE_DIR", raising=False)

    def make(name: str) -> Path:
        home = tmp_path / name
        for rel in SITE_FILES:
            (home / "dist" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(DEMO / rel, home / "dist" / rel)
        (home / "dist" / "index.html").write_text(
            '<!doctype html><title>t</title><link rel="stylesheet" href="/assets/index-AVh2cVPR.css">'
            '<img src="/assets/coffee-A-I1hS5R.jpg" alt="coffee"><script src="/assets/index-2vZXRZ4C.js"></script>\n')
        monkeypatch.chdir(home)
        return home / "dist"

    return make


def build(site: Path, url: str) -> dict:
    result = CliRunner().invoke(main, ["build", str(site), "--cache-dir", url, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def blobs(endpoint: str, prefix: str) -> dict[str, bytes]:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint)
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def test_two_machines_sharing_an_s3_cache_encode_each_output_once(s3_endpoint: str, machine) -> None:
    url = f"s3://{BUCKET}/two-machines"
    first = machine("one")
    done = build(first, url)
    assert done["encoded"] > 0 and done["cache_hits"] == 0
    stored = blobs(s3_endpoint, "two-machines/")
    assert len(stored) == done["encoded"] and all("/v1/tmp/" not in key for key in stored)
    second = machine("two")
    again = build(second, url)
    assert again["encoded"] == 0 and again["cache_hits"] == done["encoded"]
    assert snapshot(second) == snapshot(first)
    assert (first.parent / ".assetpipe-cache").is_dir() and (second.parent / ".assetpipe-cache").is_dir()


def test_a_truncated_or_wrong_shared_entry_is_encoded_again_never_shipped(s3_endpoint: str, machine) -> None:
    import boto3

    url = f"s3://{BUCKET}/damaged"
    first = machine("one")
    done = build(first, url)
    stored = sorted(blobs(s3_endpoint, "damaged/").items())
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    (cut_key, cut), (wrong_key, wrong) = stored[0], stored[1]
    client.put_object(Bucket=BUCKET, Key=cut_key, Body=cut[: len(cut) // 2])  # an upload cut short
    client.put_object(Bucket=BUCKET, Key=wrong_key, Body=wrong[:-1] + bytes([wrong[-1] ^ 1]))  # one bit off
    second = machine("two")
    again = build(second, url)
    assert again["encoded"] == 2 and again["cache_hits"] == done["encoded"] - 2
    assert snapshot(second) == snapshot(first)
    repaired = blobs(s3_endpoint, "damaged/")  # the good bytes were put back
    assert repaired[cut_key] == cut and repaired[wrong_key] == wrong


def test_a_file_url_is_a_shared_cache_too(machine, tmp_path: Path) -> None:
    url = (tmp_path / "shared").as_uri()
    first = machine("one")
    done = build(first, url)
    second = machine("two")
    again = build(second, url)
    assert done["encoded"] > 0 and again["encoded"] == 0
    assert snapshot(second) == snapshot(first)
    written = [p for p in (tmp_path / "shared").rglob("*") if p.is_file()]
    assert len(written) == done["encoded"] and all("tmp" not in p.relative_to(tmp_path).parts for p in written)


def test_an_s3_cache_without_credentials_is_one_line_and_exit_2(
        s3_endpoint: str, machine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    site = machine("one")
    before = snapshot(site.parent)
    result = CliRunner().invoke(main, ["build", str(site), "--cache-dir", f"s3://{BUCKET}/x"], catch_exceptions=False)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"error: --cache-dir s3://{BUCKET}/x: cannot use it: NoCredentialsError: "
                     "Unable to locate credentials"], lines
    assert snapshot(site.parent) == before


def test_an_unreachable_s3_cache_is_one_line_and_exit_2(
        s3_endpoint: str, machine, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    site = machine("one")
    before = snapshot(site.parent)
    result = CliRunner().invoke(main, ["build", str(site), "--cache-dir", f"s3://{BUCKET}/x"], catch_exceptions=False)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: --cache-dir s3://{BUCKET}/x: cannot use it: "), lines
    assert snapshot(site.parent) == before


def test_a_file_url_inside_the_build_folder_is_refused(machine) -> None:
    site = machine("one")
    before = snapshot(site.parent)
    result = CliRunner().invoke(main, ["build", str(site), "--cache-dir", (site / "cache").as_uri()],
                                catch_exceptions=False)
    assert result.exit_code == 2
    assert "inside" in result.stderr and "would be deployed" in result.stderr
    assert snapshot(site.parent) == before


def test_lookups_of_many_keys_list_their_folders_instead_of_asking_key_by_key(s3_endpoint: str) -> None:
    """A shared cache at catalogue scale, where each key folder holds many keys: a fresh store (another
    machine) looks up 200 keys that are there and 200 that are not, in 16 key folders. Each is answered
    right, and the requests are about one listing per key folder, not one (or two) per key."""
    from assetpipe.cache.shared import open_store

    url = f"s3://{BUCKET}/listing"
    keys = (hashlib.sha256(f"key {n}".encode()).hexdigest() for n in itertools.count())
    chosen = list(itertools.islice((key for key in keys if key[0] == "0"), 400))  # 16 folders, 25 keys each
    present, absent = chosen[:200], chosen[200:]
    writer = open_store(url, write=True)
    for n, key in enumerate(present):
        writer.put(key, f"payload {n}".encode())
    requests: list[str] = []

    class Requests(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            requests.append(record.getMessage())

    werkzeug = logging.getLogger("werkzeug")
    handler, level = Requests(), werkzeug.level
    werkzeug.addHandler(handler)
    werkzeug.setLevel(logging.INFO)
    try:
        reader = open_store(url, write=False)
        found = {key: reader.get(key) for key in absent + present}
        answered = [reader.has(key) for key in present + absent]
    finally:
        werkzeug.removeHandler(handler)
        werkzeug.setLevel(level)
    assert all(found[key] == f"payload {n}".encode() for n, key in enumerate(present))
    assert all(found[key] is None for key in absent)
    assert answered == [True] * len(present) + [False] * len(absent)
    folders = len({key[:2] for key in present + absent})
    ours = [r for r in requests if "listing/v1/" in r and "/tmp/" not in r]
    payloads = [r for r in ours if '"GET /team-cache/listing/v1/' in r and '" 200 ' in r]
    assert len(payloads) == len(present)  # each present key's bytes read once: has() asked no one
    # The rest: the first key of each folder asked alone (a GET), and each folder's listing. Key by key,
    # has() and get() would have cost 1 to 2 requests each, 800 or more here.
    assert len(ours) - len(payloads) <= 3 * folders, len(ours)
