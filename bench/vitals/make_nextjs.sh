#!/usr/bin/env bash
# A real Next.js 15 static export (App Router, React 19; `output: 'export'`, `images.unoptimized`), built
# by `next build`: a home page with a hero photo (next/image, full width, no `priority`, as most sites
# write it) and a photo page with photos written the ways Next.js users write them (next/image with
# width/height, a raw `<img width={300}>`, a raw `<img loading="lazy">`) and a client component
# (a counter, `"use client"`) between the images, so the page really hydrates.
#
#   bash bench/vitals/make_nextjs.sh OUT      (OUT: the exported site, Next's out/)
#
# npm packages (pinned in env.sh) go into $ASSETPIPE_BENCH_TMP/vitals/src-nextjs/node_modules and stay
# there between runs; OUT is rebuilt only when this recipe changed. Uses the machine's Node (>= 18.18).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
OUT="$1"
need_corpus
stamp="$(recipe_stamp "$0" "$VITALS_HERE/env.sh")"
if [ "$(cat "$OUT.recipe" 2>/dev/null)" = "$stamp" ]; then vlog "nextjs: $OUT is up to date"; exit 0; fi
SRC="$VITALS_WORK/src-nextjs"
mkdir -p "$SRC"
export NEXT_TELEMETRY_DISABLED=1
if [ "$(cat "$SRC/.installed" 2>/dev/null)" != "$NEXT_PACKAGES" ]; then
  vlog "nextjs: installing $NEXT_PACKAGES into $SRC"
  printf '{"name":"assetpipe-bench-nextjs","private":true,"scripts":{"build":"next build"}}\n' > "$SRC/package.json"
  # shellcheck disable=SC2086
  (cd "$SRC" && timeout 900 npm install --no-audit --no-fund --loglevel=error --save-exact $NEXT_PACKAGES >&2)
  printf '%s' "$NEXT_PACKAGES" > "$SRC/.installed"
fi
rm -rf "$SRC/app" "$SRC/public" "$SRC/out" "$SRC/.next"
mkdir -p "$SRC/app/photos" "$SRC/public/img"
cp "$PHOTOS/$HERO_PHOTO" "$SRC/public/img/hero.jpg"
cp "$PHOTOS/$WIDE_PHOTO" "$SRC/public/img/dune.jpg"
cp "$PHOTOS/$ATTR_PHOTO" "$SRC/public/img/cups.jpg"
cp "$PHOTOS/$RAW_PHOTO" "$SRC/public/img/storm.jpg"
cp "$PHOTOS/$SMALL_PHOTO" "$SRC/public/img/chelsea.png"
cp "$PHOTOS/$TALL_PHOTO" "$SRC/public/img/honeywave.jpg"
cat > "$SRC/next.config.mjs" <<'JS'
/** @type {import('next').NextConfig} */
const nextConfig = {
  output: "export",
  trailingSlash: true,
  images: { unoptimized: true },
};
export default nextConfig;
JS
cat > "$SRC/app/layout.jsx" <<'JSX'
import "./globals.css";
export const metadata = { title: "Northwind Journal", description: "Slow-made things, and the photos of them." };
export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>
        <header className="top"><a href="/">Northwind Journal</a> <nav><a href="/photos/">Photos</a></nav></header>
        <main>{children}</main>
        <footer>© Northwind Goods</footer>
      </body>
    </html>
  );
}
JSX
cat > "$SRC/app/globals.css" <<'CSS'
body { margin: 0; font-family: system-ui, sans-serif; line-height: 1.5; color: #222; }
header.top { display: flex; gap: 1rem; padding: 0.75rem 1rem; background: #0b7285; }
header.top a { color: #fff; font-weight: 600; text-decoration: none; }
main { max-width: 960px; margin: 0 auto; padding: 1rem; }
footer { padding: 2rem 1rem; color: #666; }
button { font-size: 1rem; padding: 0.4rem 0.9rem; }
CSS
cat > "$SRC/app/Likes.jsx" <<'JSX'
"use client";
import { useState } from "react";
export default function Likes() {
  const [likes, setLikes] = useState(0);
  return <p><button onClick={() => setLikes(likes + 1)}>Like</button> {likes} people like these photos</p>;
}
JSX
cat > "$SRC/app/page.jsx" <<'JSX'
import Image from "next/image";
import Likes from "./Likes";
export default function Home() {
  return (
    <>
      <h1>Autumn at the workshop</h1>
      <Image src="/img/hero.jpg" alt="Autumn leaves over a quiet lake" width={2560} height={1600}
             sizes="100vw" style={{ width: "100%", height: "auto" }} />
      <p>Twenty years of wood, wool and coffee: what our workshops learned, in pictures and in words.
         The journal collects the stories of the people who make things slowly, and of those who use them daily.</p>
      <Likes />
      <p>Read on in <a href="/photos/">the photo walk</a>.</p>
    </>
  );
}
JSX
cat > "$SRC/app/photos/page.jsx" <<'JSX'
import Image from "next/image";
import Likes from "../Likes";
export const metadata = { title: "A photo walk" };
export default function Photos() {
  return (
    <>
      <h1>A photo walk</h1>
      <p>Dunes at the edge of the workshop's land, as the first light hits them.</p>
      <Image src="/img/dune.jpg" alt="Sand dunes in the morning light" width={1680} height={1050}
             style={{ width: "100%", height: "auto" }} />
      <Likes />
      <h2>Cups</h2>
      <img src="/img/cups.jpg" alt="Colourful cups on a shelf" width={300} />
      <h2>Weather</h2>
      <Image src="/img/storm.jpg" alt="Storm clouds over hills" width={512} height={341} />
      <h2>The cat</h2>
      <figure>
        <Image src="/img/chelsea.png" alt="Chelsea the cat" width={451} height={300} />
        <figcaption>Chelsea, head of quality control.</figcaption>
      </figure>
      <h2>Honey</h2>
      <img src="/img/honeywave.jpg" alt="Honeycomb, close up" width={300} loading="lazy" />
      <p>That is all for today.</p>
    </>
  );
}
JSX
vlog "nextjs: next build (static export) into $OUT"
(cd "$SRC" && timeout 900 ./node_modules/.bin/next build >&2)
rm -rf "$OUT"; mkdir -p "$(dirname "$OUT")"; cp -a "$SRC/out" "$OUT"
printf '%s' "$stamp" > "$OUT.recipe"
