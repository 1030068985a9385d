#!/usr/bin/env bash
# A real MkDocs-Material site, built by MkDocs itself: a home page with a hero photo and a photo page with
# photos written the ways MkDocs users write them (a Markdown image, attr_list `{ width="300" }`, a raw
# `<img width="512">`, a figure through md_in_html). Photos come from the corpus.
#
#   bash bench/vitals/make_mkdocs.sh OUT      (OUT: the built site, MkDocs's site_dir)
#
# MkDocs and Material go into $ASSETPIPE_BENCH_TMP/vitals/venv-mkdocs (versions in env.sh); the sources
# into $ASSETPIPE_BENCH_TMP/vitals/src-mkdocs. OUT is rebuilt only when this recipe changed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
OUT="$1"
need_corpus
stamp="$(recipe_stamp "$0" "$VITALS_HERE/env.sh")"
if [ "$(cat "$OUT.recipe" 2>/dev/null)" = "$stamp" ]; then vlog "mkdocs: $OUT is up to date"; exit 0; fi
VENV="$VITALS_WORK/venv-mkdocs"
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "$MKDOCS_PACKAGES" ]; then
  vlog "mkdocs: installing $MKDOCS_PACKAGES into $VENV"
  rm -rf "$VENV"; python3 -m venv "$VENV"
  # shellcheck disable=SC2086
  timeout 600 "$VENV/bin/pip" install -q --disable-pip-version-check $MKDOCS_PACKAGES >&2
  printf '%s' "$MKDOCS_PACKAGES" > "$VENV/.installed"
fi
SRC="$VITALS_WORK/src-mkdocs"
rm -rf "$SRC"; mkdir -p "$SRC/docs/img"
cp "$PHOTOS/$HERO_PHOTO" "$SRC/docs/img/hero.jpg"
cp "$PHOTOS/$WIDE_PHOTO" "$SRC/docs/img/dune.jpg"
cp "$PHOTOS/$ATTR_PHOTO" "$SRC/docs/img/cups.jpg"
cp "$PHOTOS/$RAW_PHOTO" "$SRC/docs/img/storm.jpg"
cp "$PHOTOS/$SMALL_PHOTO" "$SRC/docs/img/chelsea.png"
cp "$PHOTOS/$TALL_PHOTO" "$SRC/docs/img/honeywave.jpg"
cat > "$SRC/mkdocs.yml" <<'YML'
site_name: Northwind Field Guide
site_url: http://127.0.0.1/
use_directory_urls: true
theme:
  name: material
  font: false          # no Google Fonts: the benchmark runs offline, and many sites self-host
  features:
    - navigation.tabs
markdown_extensions:
  - attr_list
  - md_in_html
  - admonition
  - toc:
      permalink: true
nav:
  - Home: index.md
  - Photos: photos.md
YML
cat > "$SRC/docs/index.md" <<'MD'
# Northwind Field Guide

![Autumn leaves over a quiet lake](img/hero.jpg)

The field guide collects what our workshops learned about wood, wool and coffee over twenty years:
how to pick materials, how to care for them, and which mistakes we made so you do not have to.

!!! tip "Start here"
    New to the guide? Read [the photo walk](photos.md) first, then pick a chapter from the tabs.

## What is inside

- **Materials**: oak, ash and birch; linen and wool; enamel and cast iron.
- **Care**: oiling, washing, storing, mending.
- **Stories**: the people behind the workshops, in their own words.

Every chapter is written by the people who make the things, and reviewed by those who use them daily.
MD
cat > "$SRC/docs/photos.md" <<'MD'
# A photo walk

Dunes at the edge of the workshop's land, as the first light hits them.

![Sand dunes in the morning light](img/dune.jpg)

## Cups

Our colourful cups, glazed by hand. The picture is kept small on purpose:

![Colourful cups on a shelf](img/cups.jpg){ width="300" }

## Weather

A storm rolling in over the hills, the way the workshop sees it twice a year.

<img src="../img/storm.jpg" alt="Storm clouds over hills" width="512">

## The cat

<figure markdown="span">
  ![Chelsea the cat](img/chelsea.png)
  <figcaption>Chelsea, head of quality control.</figcaption>
</figure>

## Honey

![Honeycomb, close up](img/honeywave.jpg){ width="300" loading=lazy }

That is all for today.
MD
vlog "mkdocs: building into $OUT"
rm -rf "$OUT"
(cd "$SRC" && NO_MKDOCS_2_WARNING=1 "$VENV/bin/mkdocs" build -q -d "$OUT" >&2)
printf '%s' "$stamp" > "$OUT.recipe"
