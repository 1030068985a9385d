"""The CDN hook (SPEC §5): hand a finished build's upload plan to a target, phase by phase.

Targets: `command` (any program; the plan as JSON on stdin, non-zero exit = failure) and `s3` (any
S3-compatible store through boto3, the optional `assetpipe[s3]` extra). The rule both keep: a phase
starts only when every file of the phases before it is stored, so a failed upload never leaves HTML
live that names a missing asset, and nothing is deleted unless everything was sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol

from ..build import ledger, scan
from ..config import UploadConfig
from ..model import ConfigError, Failure, Notice, UsageError
from . import plan as uploadplan
from .plan import FileFacts, UploadItem, UploadPlan

# Files from this size go up in parts (S3's own recommendation starts at 100 MB; 8 MiB is what the
# AWS CLI and s3transfer use, and keeps a retried part small).
MULTIPART_BYTES = 8 * 1024 * 1024
RETRY_ATTEMPTS = 5  # botocore's "standard" mode: backoff with jitter on throttling, 5xx and timeouts
DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys
SHA256_METADATA = "sha256"  # x-amz-meta-sha256: how a later upload knows an object is unchanged


class UploadObserver(Protocol):
    def start(self, total: int, label: str) -> None: ...

    def advance(self, output: str, outcome: str) -> None: ...

    def done(self) -> None: ...

    def output(self, line: str) -> None: ...


@dataclass(frozen=True)
class UploadResult:
    target: str  # "command" or "s3"
    destination: str  # the command, or s3://bucket/prefix
    files: int  # files in the plan
    sent: tuple[str, ...]  # keys stored (for `command`: the files of the phases it completed)
    unchanged: int
    deleted: tuple[str, ...]
    phases_done: int
    bytes_sent: int
    failures: tuple[Failure, ...]
    notices: tuple[Notice, ...]
    seconds: float

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0

    def as_json(self) -> dict[str, Any]:
        return {"schema": 1, "exit_code": self.exit_code, "target": self.target, "destination": self.destination,
                "files": self.files, "sent": list(self.sent), "unchanged": self.unchanged,
                "deleted": list(self.deleted), "phases_done": self.phases_done, "bytes_sent": self.bytes_sent,
                "failures": [{"file": f.file, "reason": f.reason} for f in self.failures],
                "warnings": [{"file": n.file, "message": n.message} for n in self.notices],
                "seconds": round(self.seconds, 3)}


# --- the plan from a built folder ------------------------------------------------------------------


def read_plan(root: Path, cfg: UploadConfig) -> UploadPlan:
    """The upload plan of a finished build: its manifest, checked against the files really there."""
    manifest_path = root / uploadplan.MANIFEST_PATH
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{manifest_path}: no manifest; run `assetpipe build {root}` first") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{manifest_path}: unreadable manifest ({exc}); run `assetpipe build {root}` again") from None
    if not isinstance(manifest, dict):
        raise UsageError(f"{manifest_path}: not an assetpipe manifest; run `assetpipe build {root}` again")
    tree, owned = read_tree(root)
    return uploadplan.build(manifest, tree, cfg, owned)


def read_tree(root: Path) -> tuple[dict[str, FileFacts], frozenset[str]]:
    """Every file under root with its size and sha256, and which of them are assetpipe's outputs."""
    inventory = scan.scan(root, ledger.load(root))
    tree = {s.rel: FileFacts(s.size, s.sha256) for s in inventory.sources}
    tree.update({o.rel: FileFacts(o.size, o.sha256) for o in inventory.owned})
    return tree, frozenset(o.rel for o in inventory.owned)


def check_target(cfg: UploadConfig, target: str) -> None:
    """Config problems that only the chosen target cares about (exit 2, before anything is sent)."""
    if target == "command" and not cfg.command.strip():
        raise ConfigError(['upload.command: empty; set it to the program that uploads the plan (it gets the plan '
                           'as JSON on stdin), or use upload.target = "s3"'])
    if target == "s3" and not cfg.bucket:
        raise ConfigError(['upload.bucket: empty; the s3 target needs a bucket, e.g. bucket = "my-site"'])


def run(root: Path, plan: UploadPlan, cfg: UploadConfig, target: str, observer: UploadObserver) -> UploadResult:
    check_target(cfg, target)
    if target == "command":
        return run_command(root, plan, cfg, observer)
    return run_s3(root, plan, cfg, observer)


# --- target: command -------------------------------------------------------------------------------


def run_command(root: Path, plan: UploadPlan, cfg: UploadConfig, observer: UploadObserver) -> UploadResult:
    """Run `upload.command` with the plan on stdin: once, or once per non-empty phase."""
    started = time.monotonic()
    payload = plan.dumps().encode("utf-8")
    env = {**os.environ, "ASSETPIPE_DIR": str(root.resolve()), "ASSETPIPE_PHASE": "all", "ASSETPIPE_PHASE_NAME": "all"}
    calls: list[tuple[int | None, tuple[UploadItem, ...]]]
    if cfg.command_per_phase:
        calls = [(i, phase) for i, phase in enumerate(plan.phases) if phase]
    else:
        calls = [(None, tuple(plan.items()))]
    sent: list[str] = []
    failures: list[Failure] = []
    phases_done = 0
    for index, items in calls:
        if index is not None:
            env = {**env, "ASSETPIPE_PHASE": str(index + 1), "ASSETPIPE_PHASE_NAME": uploadplan.PHASES[index]}
        code = _call(cfg.command, payload, env, observer.output)
        if code != 0:
            where = f" in phase {index + 1} ({uploadplan.PHASE_TITLES[index]})" if index is not None else ""
            failures.append(Failure(cfg.command, f"upload command exited with {_exit_text(code)}{where}"))
            break
        sent.extend(item.key for item in items)
        phases_done = index + 1 if index is not None else 3
    sizes = {item.key: item.size for item in plan.items()}
    return UploadResult("command", cfg.command, sum(len(p) for p in plan.phases), tuple(sent), 0, (), phases_done,
                        sum(sizes[k] for k in sent), tuple(failures), (), time.monotonic() - started)


def _exit_text(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"status {code}"


def _call(command: str, payload: bytes, env: dict[str, str], output: Callable[[str], None]) -> int:
    """Run a shell command, feed it `payload`, relay every line it prints; its exit status."""
    try:
        process = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, env=env)
    except OSError as exc:
        output(f"cannot start the upload command: {exc}")
        return 127
    assert process.stdin is not None and process.stdout is not None

    def feed(stream: IO[bytes]) -> None:
        try:
            stream.write(payload)
            stream.close()
        except (BrokenPipeError, OSError):
            pass  # the program did not read all of it: its exit status says whether that was a failure

    writer = threading.Thread(target=feed, args=(process.stdin,), daemon=True)
    writer.start()
    for raw in process.stdout:
        output(raw.decode("utf-8", "replace").rstrip("\r\n"))
    writer.join()
    return process.wait()


# --- target: s3 ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stored:
    size: int
    modified: datetime


def s3_client(cfg: UploadConfig) -> Any:
    """A boto3 S3 client: credentials and region from the usual environment or profile."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise UsageError('the s3 target needs boto3: pip install "assetpipe[s3]"') from None
    config = Config(retries={"mode": "standard", "max_attempts": RETRY_ATTEMPTS}, max_pool_connections=cfg.workers,
                    connect_timeout=10, read_timeout=120,
                    # checksums only where S3 requires them: many S3-compatible stores reject the newer defaults
                    request_checksum_calculation="when_required", response_checksum_validation="when_required")
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=cfg.endpoint_url or None, region_name=cfg.region or None, config=config)


def run_s3(root: Path, plan: UploadPlan, cfg: UploadConfig, observer: UploadObserver,
           client: Any = None, now: Callable[[], datetime] | None = None) -> UploadResult:
    started = time.monotonic()
    client = client or s3_client(cfg)  # first: it says what to install when boto3 is missing
    from botocore.exceptions import BotoCoreError, ClientError

    prefix = uploadplan.normalise_prefix(cfg.prefix)
    destination = f"s3://{cfg.bucket}/{prefix}"
    total = sum(len(p) for p in plan.phases)
    failures: list[Failure] = []
    notices: list[Notice] = []
    sent: list[str] = []
    unchanged = 0
    bytes_sent = 0
    phases_done = 0
    deleted: tuple[str, ...] = ()

    def result() -> UploadResult:
        return UploadResult("s3", destination, total, tuple(sent), unchanged, deleted, phases_done, bytes_sent,
                            tuple(failures), tuple(notices), time.monotonic() - started)

    try:
        stored = dict(_list(client, cfg.bucket, prefix))
    except (BotoCoreError, ClientError) as exc:
        failures.append(Failure(destination, f"cannot list the bucket: {_reason(exc)}"))
        return result()
    observer.start(total, "upload")
    stored_as: dict[str, str] = {}  # sha256 -> a key that holds those bytes now: a twin is copied there
    try:
        with ThreadPoolExecutor(max_workers=cfg.workers) as pool:
            for phase in plan.phases:
                for batch in _once_each(phase, stored_as):  # a file's twins after the file: each byte sent once
                    futures = {pool.submit(_sync, client, cfg.bucket, root, item, stored.get(item.key),
                                           stored_as.get(item.sha256)): item for item in batch}
                    for future in as_completed(futures):
                        item = futures[future]
                        try:
                            outcome = future.result()
                        except (BotoCoreError, ClientError, OSError) as exc:
                            failures.append(Failure(item.file, f"upload failed: {_reason(exc)}"))
                            observer.advance(item.key, "failed")
                            continue
                        stored_as.setdefault(item.sha256, item.key)
                        if outcome in ("sent", "copied"):
                            sent.append(item.key)
                            bytes_sent += item.size if outcome == "sent" else 0
                        else:
                            unchanged += 1
                        observer.advance(item.key, outcome)
                if failures:  # the next phases (HTML last) would name what is missing: stop here
                    break
                phases_done += 1
    finally:
        observer.done()
    sent.sort()
    failures.sort(key=lambda f: f.file)
    if failures or not cfg.prune:
        return result()
    moment = (now or (lambda: datetime.now(UTC)))()
    keep = plan.keys() | {prefix + rel for rel in plan.kept_back}
    chosen, notice = prune_choice(stored, keep, moment, cfg)
    if notice is not None:
        notices.append(notice)
    try:
        deleted = _delete(client, cfg.bucket, chosen, failures)
    except (BotoCoreError, ClientError) as exc:
        failures.append(Failure(destination, f"pruning failed: {_reason(exc)}"))
    return result()


def prune_choice(stored: dict[str, _Stored], keep: frozenset[str], now: datetime,
                 cfg: UploadConfig) -> tuple[tuple[str, ...], Notice | None]:
    """The stored keys to delete: not in the plan, older than the grace period, and only when there are
    no more than `upload.max_deletes` of them (more means a wrong prefix or bucket: delete none)."""
    cutoff = now - timedelta(hours=cfg.prune_grace_hours)
    stale = sorted(k for k in stored if k not in keep)
    old = tuple(k for k in stale if stored[k].modified <= cutoff)
    if len(old) > cfg.max_deletes:
        return (), Notice(f"s3://{cfg.bucket}/{uploadplan.normalise_prefix(cfg.prefix)}",
                          f"{len(old)} objects to prune, more than upload.max_deletes ({cfg.max_deletes}): "
                          "none deleted; check upload.bucket and upload.prefix, or raise the cap")
    return old, None


def _list(client: Any, bucket: str, prefix: str) -> Iterator[tuple[str, _Stored]]:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", ()):
            yield obj["Key"], _Stored(int(obj["Size"]), obj["LastModified"])


def _once_each(phase: tuple[UploadItem, ...], stored_as: dict[str, str]) -> list[tuple[UploadItem, ...]]:
    """A phase's items in two batches: first one file of each set of equal bytes (a hard-linked rendition
    and its sidecar are one file under two names), then the others, which the bucket copies from it."""
    first: list[UploadItem] = []
    twins: list[UploadItem] = []
    seen = set(stored_as)
    for item in phase:
        (twins if item.sha256 in seen else first).append(item)
        seen.add(item.sha256)
    return [batch for batch in (tuple(first), tuple(twins)) if batch]


def _sync(client: Any, bucket: str, root: Path, item: UploadItem, stored: _Stored | None,
          copy_from: str | None = None) -> str:
    """Store one file unless the bucket already holds exactly it (same sha256 and headers); with
    `copy_from`, a key that holds the same bytes, the bucket copies them (nothing is sent again)."""
    from botocore.exceptions import ClientError

    if stored is not None and stored.size == item.size:
        try:
            head = client.head_object(Bucket=bucket, Key=item.key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        else:
            if (head.get("Metadata", {}).get(SHA256_METADATA) == item.sha256
                    and head.get("ContentType") == item.content_type
                    and head.get("CacheControl") == item.cache_control
                    and (head.get("ContentEncoding") or None) == item.content_encoding):
                return "unchanged"
    extra: dict[str, Any] = {"ContentType": item.content_type, "CacheControl": item.cache_control,
                             "Metadata": {SHA256_METADATA: item.sha256}}
    if item.content_encoding:
        extra["ContentEncoding"] = item.content_encoding
    if copy_from is not None and copy_from != item.key and item.size < MULTIPART_BYTES:
        client.copy_object(Bucket=bucket, Key=item.key, CopySource={"Bucket": bucket, "Key": copy_from},
                           MetadataDirective="REPLACE", **extra)
        return "copied"
    path = root.joinpath(*item.file.split("/"))
    if item.size < MULTIPART_BYTES:
        with path.open("rb") as body:
            client.put_object(Bucket=bucket, Key=item.key, Body=body, **extra)
    else:
        from boto3.s3.transfer import TransferConfig

        transfer = TransferConfig(multipart_threshold=MULTIPART_BYTES, multipart_chunksize=MULTIPART_BYTES,
                                  use_threads=False)  # the pool around us bounds the concurrency
        client.upload_file(str(path), bucket, item.key, ExtraArgs=extra, Config=transfer)
    return "sent"


def _delete(client: Any, bucket: str, keys: tuple[str, ...], failures: list[Failure]) -> tuple[str, ...]:
    deleted: list[str] = []
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start : start + DELETE_BATCH]
        response = client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
        errors = {e["Key"]: e for e in response.get("Errors", ())}
        for key in batch:
            if key in errors:
                failures.append(Failure(key, f"delete failed: {errors[key].get('Code')}: {errors[key].get('Message')}"))
            else:
                deleted.append(key)
    return tuple(deleted)


def _reason(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        text = f"{error.get('Code', 'error')}: {error.get('Message') or 'no message'}"
        return f"{text} (HTTP {status})" if status else text
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
