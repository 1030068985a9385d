"""The PR comment (`diff --format markdown`) fits in one GitHub comment on a site of thousands of files,
and says what it left out."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

# GitHub refuses a comment body over this many characters ("Body is too long (maximum is 65536 characters)").
GITHUB_COMMENT_LIMIT = 65_536


def _blob(seed: str, size: int) -> bytes:
    """Bytes that look like a woff2 font (never precompressed, so measuring needs no compressor)."""
    digest = hashlib.sha256(seed.encode()).digest()
    return b"wOF2" + (digest * (size // 32 + 1))[: size - 4]


def _site(root: Path, changed: int) -> None:
    """4,000 files in 40 folders of 5 subfolders, with names long enough to hurt; `changed` of them
    differ in size from the base, a few are added and removed, and a few scripts need compressing."""
    for i in range(4_000):
        if changed and i % 1_000 == 999:
            continue  # removed in the head
        folder = f"packages/vendor-{i % 40:02d}-{'some-long-folder-name' * 2}/part-{i % 5}"
        size = 200 + i + (17 if i < changed else 0)
        path = root / folder / f"font-{i:05d}-{'glyphs-subset-' * 4}regular.woff2"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_blob(str(i), size))
    for i in range(12 if changed else 8):  # 4 scripts added in the head
        (root / "assets").mkdir(exist_ok=True)
        (root / "assets" / f"chunk-{i}.js").write_text(f"export const value{i} = {'1 + ' * (40 + i)}1;\n")


def _rows(markdown: str, pattern: str) -> list[re.Match[str]]:
    return [m for line in markdown.splitlines() if (m := re.fullmatch(pattern, line))]


def test_the_comment_fits_and_accounts_for_every_file(cli, tmp_path) -> None:
    base, head = tmp_path / "base", tmp_path / "head"
    _site(base, changed=0)
    _site(head, changed=600)
    (tmp_path / "assetpipe.toml").write_text("[budgets]\n" + "".join(
        f'"packages/vendor-{k:02d}-*/**" = {{ warn = "1 MB", error = "2 MB" }}\n' for k in range(40))
        + 'total = { warn = "1 kB", error = "1000 MB" }\n')
    document = json.loads(cli("diff", str(base), str(head), "--format", "json").stdout)
    changed = [f for f in document["files"] if f["status"] != "unchanged"]
    unchanged = [f for f in document["files"] if f["status"] == "unchanged"]
    assert len(changed) == 600 + 4 + 4 and len(unchanged) > 3_000  # changed, added scripts, removed fonts

    result = cli("diff", str(base), str(head), "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    comment = result.stdout
    assert len(comment) <= GITHUB_COMMENT_LIMIT
    assert comment.startswith("<!-- assetpipe:size-report -->\n### Bundle size ⚠️\n")
    # Changed files: 50 rows (diff.max_rows), then one row counting the rest and their bytes.
    listed = _rows(comment, r"\| `[^`]+` \| .* \| [▲▼🆕🗑️]+ \|")
    more = _rows(comment, r"\| _\+(\d+) more changed files_ \| (.+) \| (.+) \| (.+) \| \| \|")
    assert len(listed) == 50 and len(more) == 1
    assert int(more[0][1]) == len(changed) - 50
    # Unchanged files by folder, every one of them counted in some folder's row.
    folders = _rows(comment, r"\| `([^`]+)/` \| (\d+) \| [^|]+ \|")
    more_folders = _rows(comment, r"\| _\+(\d+) more folders_ \| (\d+) \| [^|]+ \|")
    assert 0 < len(folders) <= 50
    assert sum(int(m[2]) for m in folders + more_folders) == len(unchanged)
    assert f"<summary>{len(unchanged)} unchanged files (" in comment
    # Budgets: 41 fit under the cap; the total's warning is there.
    assert comment.count("| ✅ ok |") == 40 and comment.count("| ⚠️ warn |") == 1
    assert "| Group | Base | Head | Δ | Δ % | Files |" in comment

    # However many rows are asked for, the comment still fits, and says it was cut.
    (tmp_path / "assetpipe.toml").write_text("[diff]\nmax_rows = 100000\n")
    uncapped = cli("diff", str(base), str(head), "--format", "markdown").stdout
    assert len(uncapped) <= GITHUB_COMMENT_LIMIT
    cut = re.search(r"<sub>Each list cut to (\d+) rows to fit GitHub's comment size; ", uncapped)
    assert cut is not None and 50 < int(cut[1]) < len(changed)
    assert len(_rows(uncapped, r"\| `[^`]+` \| .* \| [▲▼🆕🗑️]+ \|")) == int(cut[1])
    assert f"| _+{len(changed) - int(cut[1])} more changed files_ |" in uncapped


def test_a_small_diff_lists_its_unchanged_files(cli, tmp_path) -> None:
    """Below the cap nothing is folded: the few unchanged files are listed by name."""
    base, head = tmp_path / "base", tmp_path / "head"
    for root, extra in ((base, b""), (head, b"!" * 40)):
        (root / "a").mkdir(parents=True)
        (root / "a" / "x.woff2").write_bytes(_blob("x", 300) + extra)
        (root / "a" / "y.woff2").write_bytes(_blob("y", 300))
    comment = cli("diff", str(base), str(head), "--format", "markdown").stdout
    assert "<details><summary>1 unchanged</summary>\n\n| File | Size |\n|:--|--:|\n| `a/y.woff2` | 300 B |\n" \
        in comment
