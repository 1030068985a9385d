# Sourced by the bench/vitals scripts: where things live, pinned versions, and small shell helpers.
#   ASSETPIPE_BENCH_TMP   scratch root (default ${TMPDIR:-/tmp}/assetpipe-bench); this benchmark works in
#                         $ASSETPIPE_BENCH_TMP/vitals (sites, sides, venvs, npm installs; kept between runs)
#   ASSETPIPE_CORPUS      the photos (default ${TMPDIR:-/tmp}/assetpipe-corpus; make-corpus.sh builds it)
VITALS_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VITALS_REPO="$(cd "$VITALS_HERE/../.." && pwd)"
export ASSETPIPE_BENCH_TMP="${ASSETPIPE_BENCH_TMP:-${TMPDIR:-/tmp}/assetpipe-bench}"
export ASSETPIPE_CORPUS="${ASSETPIPE_CORPUS:-${TMPDIR:-/tmp}/assetpipe-corpus}"
VITALS_WORK="$ASSETPIPE_BENCH_TMP/vitals"
PHOTOS="$ASSETPIPE_CORPUS/photos"
SHARED_BENCH="${SHARED_BENCH:-$VITALS_REPO/../shared/bench}"   # ../shared/bench: the corpus script and the anchors

# Pinned generator versions (the figures in bench/README.md were measured with these).
MKDOCS_PACKAGES="mkdocs==1.6.1 mkdocs-material==9.8.2"
NEXT_PACKAGES="next@15.5.29 react@19.2.9 react-dom@19.2.9"

# The photos every generated site uses (corpus names), and their roles.
HERO_PHOTO="plasma-Autumn-2560x1600.jpg"             # the home page's hero, written full width
WIDE_PHOTO="mate-Dune.jpg"                           # the photo page's first photo, full width
ATTR_PHOTO="plasma-ColorfulCups-2560x1600.jpg"       # written with an author width of 300
RAW_PHOTO="mate-Storm.jpg"                           # raw <img width="512">
SMALL_PHOTO="skimage-chelsea.png"                    # a small PNG, as written
TALL_PHOTO="plasma-Honeywave-1080x1920.jpg"          # a portrait photo, author width 300

vlog() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
vdie() { vlog "error: $*"; exit 1; }

# recipe_stamp FILE...: a hash of the files (scripts, inputs) a cached output was made from.
recipe_stamp() { cat "$@" | sha256sum | cut -c1-16; }

need_corpus() {
  if [ ! -f "$PHOTOS/$HERO_PHOTO" ]; then
    vlog "no corpus photos in $PHOTOS: building the corpus (bash ../shared/bench/make-corpus.sh)"
    bash "$SHARED_BENCH/make-corpus.sh" >&2
  fi
  for p in "$HERO_PHOTO" "$WIDE_PHOTO" "$ATTR_PHOTO" "$RAW_PHOTO" "$SMALL_PHOTO" "$TALL_PHOTO"; do
    [ -f "$PHOTOS/$p" ] || vdie "the corpus has no $PHOTOS/$p"
  done
}
