"""`--workers-dir` (SPEC §5b): Dask workers that read the build folder themselves, from a copy at another
path or at an fsspec URL (moto's real S3 server here), instead of getting the bytes from the client.

The workers check what they read against the sha256 the client's plan recorded: a copy in step with the
folder builds the local executor's bytes; a stale copy fails that file with one line naming the copy, and
the rest of the build goes on.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from assetpipe.cli import main

from .conftest import DEMO, S3_BUCKET, dask_scheduler, snapshot

distributed = pytest.importorskip("distributed")
pytest.importorskip("s3fs")

# One photo, its page, a script and a stylesheet: the images run on the workers, the text in batches there.
SITE_FILES = ("assets/coffee-A-I1hS5R.jpg", "assets/index-2vZXRZ4C.js", "assets/index-AVh2cVPR.css")
PAGE = ('<!doctype html><title>t</title><link rel="stylesheet" href="/assets/index-AVh2cVPR.css">'
        '<img src="/assets/coffee-A-I1hS5R.jpg" alt="coffee"><script src="/assets/index-2vZXRZ4C.js"></script>\n')


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def make_site(root: Path) -> Path:
    for rel in SITE_FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DEMO / rel, root / rel)
    (root / "index.html").write_text(PAGE)
    return root


@pytest.fixture(scope="module")
def scheduler(s3_endpoint: str) -> Iterator[str]:
    """Two worker processes started inside the S3 environment (credentials, endpoint), as workers that can
    read the bucket would be."""
    with dask_scheduler() as address:
        yield address


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("local")
    site = make_site(root / "dist")
    result = run("build", str(site), "--cache-dir", str(root / "cache"), "-q")
    assert result.exit_code == 0, result.output
    return snapshot(site)


def upload(endpoint: str, site: Path, prefix: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint)
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        client.put_object(Bucket=S3_BUCKET, Key=f"{prefix}/{path.relative_to(site).as_posix()}", Body=path.read_bytes())


def dask_build(site: Path, scheduler: str, workers_dir: str, cache: Path) -> Result:
    return run("build", str(site), "--cache-dir", str(cache), "--executor", scheduler, "--workers-dir", workers_dir,
               "--json")


def test_workers_reading_an_s3_copy_build_the_local_bytes(
        s3_endpoint: str, scheduler: str, reference: dict[str, str], tmp_path: Path) -> None:
    site = make_site(tmp_path / "dist")
    upload(s3_endpoint, site, "mirror-good/dist")
    result = dask_build(site, scheduler, f"s3://{S3_BUCKET}/mirror-good/dist", tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["encoded"] > 0  # on the workers, from the bucket's bytes
    assert snapshot(site) == reference


def test_workers_reading_a_folder_url_at_another_path_build_the_local_bytes(
        scheduler: str, reference: dict[str, str], tmp_path: Path) -> None:
    site = make_site(tmp_path / "dist")
    mirror = tmp_path / "mount" / "dist"  # the same folder as a shared mount shows it elsewhere
    shutil.copytree(site, mirror)
    result = dask_build(site, scheduler, mirror.as_uri(), tmp_path / "cache")
    assert result.exit_code == 0, result.output
    assert snapshot(site) == reference


def test_a_stale_copy_fails_its_files_with_one_line_and_the_rest_is_built(
        s3_endpoint: str, scheduler: str, reference: dict[str, str], tmp_path: Path) -> None:
    site = make_site(tmp_path / "dist")
    upload(s3_endpoint, site, "mirror-stale/dist")
    (site / "assets/index-2vZXRZ4C.js").write_text("console.log('edited after the copy was made');\n" * 40)
    photo = site / "assets/coffee-A-I1hS5R.jpg"
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint).put_object(  # the bucket's photo is another image
        Bucket=S3_BUCKET, Key="mirror-stale/dist/assets/coffee-A-I1hS5R.jpg",
        Body=(DEMO / "assets/rocket-o3RhgSeM.jpg").read_bytes())
    url = f"s3://{S3_BUCKET}/mirror-stale/dist"
    result = dask_build(site, scheduler, url, tmp_path / "cache")
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, result.stderr
    for rel in ("assets/coffee-A-I1hS5R.jpg", "assets/index-2vZXRZ4C.js"):
        assert any(rel in line and f"the copy at {url}" in line and "bring it up to date" in line
                   for line in errors), result.stderr
    assert "Traceback" not in result.output
    built = snapshot(site)
    assert built["assets/index-AVh2cVPR.css.br"] == reference["assets/index-AVh2cVPR.css.br"]  # the rest goes on
    assert [rel for rel in built if rel.startswith("assets/coffee-A-I1hS5R.")] == [photo.relative_to(site).as_posix()]
    assert not [rel for rel in built if rel.startswith("assets/index-2vZXRZ4C.js.")]  # no sidecar of either


def test_a_copy_missing_a_file_is_that_files_error(
        s3_endpoint: str, scheduler: str, tmp_path: Path) -> None:
    site = make_site(tmp_path / "dist")
    upload(s3_endpoint, site, "mirror-short/dist")
    (site / "extra.css").write_text("body { color: #123456; }\n" * 200)  # not in the bucket
    url = f"s3://{S3_BUCKET}/mirror-short/dist"
    result = dask_build(site, scheduler, url, tmp_path / "cache")
    assert result.exit_code == 1, result.output
    assert f"extra.css: not found at {url} (--workers-dir)" in result.stderr
    assert (site / "assets/index-AVh2cVPR.css.br").is_file()
