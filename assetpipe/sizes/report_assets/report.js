// assetpipe's size report: builds the page from the JSON in #assetpipe-data. No network, no libraries.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("assetpipe-data").textContent);
  const METRICS = ["raw", "gzip", "brotli"];
  const CATEGORIES = ["js", "css", "html", "image", "font", "other"];
  const PALETTE = ["#3e7cb1", "#f0a202", "#d1495b", "#66a182", "#8d6a9f", "#edae49", "#00798c", "#a05c34",
    "#5c6f7b", "#9bc53d"];
  let metric = data.metric;
  let zoom = "";

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function human(size) {
    const abs = Math.abs(size);
    if (abs >= 1e6) return (size / 1e6).toFixed(1) + " MB";
    if (abs >= 1e3) return (size / 1e3).toFixed(1) + " kB";
    return Math.trunc(size) + " B";
  }

  function signed(size) {
    return (size > 0 ? "+" : size < 0 ? "-" : "±") + human(Math.abs(size));
  }

  function pct(value) {
    return value === null || value === undefined ? "—" : (value > 0 ? "+" : "") + value.toFixed(1) + " %";
  }

  // --- the treemap --------------------------------------------------------------------------------

  function tree(files) {
    const root = { name: "", path: "", children: new Map(), files: [] };
    for (const file of files) {
      const parts = file.path.split("/");
      let node = root;
      for (const part of parts.slice(0, -1)) {
        if (!node.children.has(part)) {
          const path = node.path ? node.path + "/" + part : part;
          node.children.set(part, { name: part, path: path, children: new Map(), files: [] });
        }
        node = node.children.get(part);
      }
      node.files.push(file);
    }
    return root;
  }

  function weight(node) {
    let sum = 0;
    for (const file of node.files) sum += Math.max(1, file[metric]);
    for (const child of node.children.values()) sum += weight(child);
    return sum;
  }

  function worst(row, side, scale) {
    let sum = 0, max = 0, min = Infinity;
    for (const item of row) {
      sum += item.value;
      max = Math.max(max, item.value);
      min = Math.min(min, item.value);
    }
    const area = sum * scale, s2 = side * side;
    return Math.max((s2 * max * scale) / (area * area), (area * area) / (s2 * min * scale));
  }

  function squarify(items, x, y, w, h) {
    const placed = [];
    const total = items.reduce((s, item) => s + item.value, 0);
    if (total <= 0 || w <= 0 || h <= 0) {
      for (const item of items) placed.push({ item: item, x: x, y: y, w: 0, h: 0 });
      return placed;
    }
    const scale = (w * h) / total;
    let rest = items.slice();
    while (rest.length) {
      const side = Math.min(w, h);
      const row = [rest[0]];
      let i = 1;
      while (i < rest.length && worst(row.concat([rest[i]]), side, scale) <= worst(row, side, scale)) {
        row.push(rest[i]);
        i += 1;
      }
      rest = rest.slice(i);
      const rowArea = row.reduce((s, item) => s + item.value, 0) * scale;
      if (w >= h) {
        const cw = rowArea / h;
        let cy = y;
        for (const item of row) {
          const rh = (item.value * scale) / cw;
          placed.push({ item: item, x: x, y: cy, w: cw, h: rh });
          cy += rh;
        }
        x += cw;
        w -= cw;
      } else {
        const rh = rowArea / w;
        let cx = x;
        for (const item of row) {
          const rw = (item.value * scale) / rh;
          placed.push({ item: item, x: cx, y: y, w: rw, h: rh });
          cx += rw;
        }
        y += rh;
        h -= rh;
      }
    }
    return placed;
  }

  function place(node, x, y, w, h) {
    node.style.left = x.toFixed(2) + "px";
    node.style.top = y.toFixed(2) + "px";
    node.style.width = Math.max(0, w).toFixed(2) + "px";
    node.style.height = Math.max(0, h).toFixed(2) + "px";
  }

  function drawNode(parent, node, x, y, w, h) {
    const items = [];
    for (const child of node.children.values()) items.push({ value: weight(child), folder: child });
    for (const file of node.files) items.push({ value: Math.max(1, file[metric]), file: file });
    items.sort((a, b) => b.value - a.value || (a.folder || a.file).path.localeCompare((b.folder || b.file).path));
    for (const cell of squarify(items, x, y, w, h)) {
      if (cell.item.file) {
        const file = cell.item.file;
        const tile = el("div", {
          class: "tile cat-" + file.category, "data-file": file.path, "data-bytes": String(file[metric]),
          title: file.path + (file.logical ? " (" + file.logical + ")" : "") + "\n" +
            METRICS.map((m) => m + ": " + human(file[m])).join(" · "),
        }, [el("span", { class: "name", text: file.path.split("/").pop() }),
          el("span", { class: "size", text: human(file[metric]) })]);
        place(tile, cell.x, cell.y, cell.w, cell.h);
        parent.append(tile);
      } else {
        const folder = cell.item.folder;
        const box = el("div", { class: "folder", "data-folder": folder.path, title: "zoom into " + folder.path });
        place(box, cell.x, cell.y, cell.w, cell.h);
        // A click anywhere in a folder (its name, or a file in it) zooms into the innermost folder.
        box.addEventListener("click", (event) => { event.stopPropagation(); zoom = folder.path; drawTreemap(); });
        parent.append(box);
        const top = cell.h > 40 && cell.w > 40 ? 16 : 0;
        if (top) box.append(el("div", { class: "head", text: folder.name + "/ " + human(cell.item.value) }));
        drawNode(box, folder, 1, top + 1, cell.w - 4, cell.h - top - 4);
      }
    }
  }

  function drawTreemap() {
    const map = document.getElementById("treemap");
    map.replaceChildren();
    let node = tree(data.head.files);
    const crumbs = [{ name: "build", path: "" }];
    if (zoom) {
      for (const part of zoom.split("/")) {
        if (!node.children.has(part)) { zoom = ""; node = tree(data.head.files); crumbs.length = 1; break; }
        node = node.children.get(part);
        crumbs.push({ name: part, path: node.path });
      }
    }
    const bar = document.getElementById("crumbs");
    bar.replaceChildren();
    crumbs.forEach((crumb, i) => {
      const button = el("button", { type: "button", text: crumb.name });
      button.disabled = crumb.path === zoom;
      button.addEventListener("click", () => { zoom = crumb.path; drawTreemap(); });
      if (i) bar.append(" / ");
      bar.append(button);
    });
    drawNode(map, node, 0, 0, map.clientWidth, map.clientHeight);
  }

  // --- tables --------------------------------------------------------------------------------------

  function table(headers, rows) {
    const head = el("tr", {}, headers.map((h) => el("th", { class: h.num ? "num" : "", text: h.text })));
    return el("table", {}, [el("thead", {}, [head]), el("tbody", {}, rows)]);
  }

  function cell(text, cls) { return el("td", { class: cls || "", text: text }); }

  function growthClass(delta) { return delta > 0 ? "num grow" : delta < 0 ? "num shrink" : "num"; }

  function totalsSection(root) {
    const rows = [];
    for (const name of ["total", "initial"].concat(CATEGORIES)) {
      const t = data.totals[name];
      if (!t || (!t.head && !t.base)) continue;
      if (name !== "total" && name !== "initial" && !(t.head && t.head.files) && !(t.base && t.base.files)) continue;
      const delta = t.delta ? t.delta[metric] : null;
      rows.push(el("tr", {}, [cell(name === "initial" ? "initial JS" : name),
        cell(t.base ? human(t.base[metric]) : "—", "num"), cell(t.head ? human(t.head[metric]) : "—", "num"),
        cell(delta === null ? "—" : signed(delta), growthClass(delta || 0)),
        cell(t.delta ? pct(t.delta.percent) : "—", "num"), cell(t.head ? String(t.head.files) : "—", "num")]));
    }
    root.append(el("h2", { text: "Totals (" + metric + ")" }), table([{ text: "group" }, { text: "base", num: 1 },
      { text: "head", num: 1 }, { text: "Δ", num: 1 }, { text: "Δ %", num: 1 }, { text: "files", num: 1 }], rows));
  }

  function diffSection(root) {
    if (!data.base) return;
    const changed = data.files.filter((f) => f.status !== "unchanged");
    const unchanged = data.files.length - changed.length;
    const rows = changed.map((f) => {
      const base = f.base ? f.base[metric] : null, head = f.head ? f.head[metric] : null;
      const delta = (head || 0) - (base || 0);
      const percent = f.status === "added" ? "new" : f.status === "removed" ? "removed" :
        base ? pct((100 * delta) / base) : "—";
      const tr = el("tr", { "data-status": f.status }, [
        cell(f.name + (f.logical && f.logical !== f.name ? " (" + f.logical + ")" : ""), "path"),
        cell(base === null ? "—" : human(base), "num"), cell(head === null ? "—" : human(head), "num"),
        cell(signed(delta), growthClass(delta)), cell(percent, growthClass(delta)), cell(f.status)]);
      return tr;
    });
    root.append(el("h2", { text: "Changes against the base (" + metric + ")" }),
      el("p", { class: "muted", text: data.base.source + " → " + data.head.source + " · " + changed.length +
        " changed, " + unchanged + " unchanged" }));
    if (rows.length) {
      root.append(table([{ text: "file" }, { text: "base", num: 1 }, { text: "head", num: 1 }, { text: "Δ", num: 1 },
        { text: "Δ %", num: 1 }, { text: "status" }], rows));
    }
  }

  function budgetSection(root) {
    if (!data.budgets.length) return;
    const rows = data.budgets.map((b) => el("tr", {}, [cell(b.name), cell(limitText(b), "num"),
      cell(actualText(b), "num"), cell(b.file || ""), cell(b.level, "level-" + b.level)]));
    root.append(el("h2", { text: "Budgets" }), table([{ text: "budget" }, { text: "limit", num: 1 },
      { text: "actual", num: 1 }, { text: "file" }, { text: "level" }], rows));
  }

  function limitText(b) {
    if (b.limit === null) return "—";
    if (b.unit === "%") return "+" + b.limit + " % and +" + human(b.min_bytes);
    return b.unit === "files" ? b.limit + " files" : human(b.limit);
  }

  function actualText(b) {
    if (b.level === "skipped") return "no baseline";
    if (b.unit === "%") return (b.actual === null ? "new" : pct(b.actual)) + " (" + signed(b.delta_bytes || 0) + ")";
    return b.unit === "files" ? b.actual + " files" : human(b.actual);
  }

  function chunkSection(root) {
    if (!data.chunks.length) return;
    root.append(el("h2", { text: "JavaScript chunks by source (from their source maps; raw bytes, exact)" }));
    for (const chunk of data.chunks) {
      const colour = new Map(chunk.packages.map((p, i) => [p[0], PALETTE[i % PALETTE.length]]));
      const bar = el("div", { class: "bar", "data-chunk": chunk.file },
        chunk.packages.map((p) => {
          const span = el("span", { title: p[0] + ": " + human(p[1]) });
          span.style.width = ((100 * p[1]) / chunk.size).toFixed(3) + "%";
          span.style.background = colour.get(p[0]);
          return span;
        }));
      const packages = table([{ text: "package" }, { text: "bytes", num: 1 }, { text: "share", num: 1 }],
        chunk.packages.map((p) => el("tr", {}, [cell(p[0]), cell(human(p[1]), "num"),
          cell(((100 * p[1]) / chunk.size).toFixed(1) + " %", "num")])));
      const sources = table([{ text: "source file" }, { text: "bytes", num: 1 }],
        chunk.sources.map((s) => el("tr", {}, [cell(s[0], "path"), cell(human(s[1]), "num")])));
      const more = el("details", {}, [el("summary", { text: chunk.sources.length + " source files" }), sources]);
      root.append(el("h3", { text: chunk.file + " · " + human(chunk.size) }), bar, packages, more);
    }
  }

  function imageSection(root) {
    if (!data.images.length) return;
    const rows = [];
    for (const image of data.images) {
      const dims = image.width ? image.width + "×" + image.height : "";
      rows.push(el("tr", { "data-image": image.path }, [cell(image.path, "path"), cell(image.format || ""),
        cell(dims, "num"), cell(human(image.size), "num"), cell(""), cell("")]));
      for (const v of image.variants) {
        const saved = image.size - v.size;
        rows.push(el("tr", { "data-variant": v.file }, [cell("↳ " + v.file, "path"), cell(v.format),
          cell(v.width + "×" + v.height, "num"), cell(human(v.size), "num"), cell(signed(-saved), growthClass(-saved)),
          cell(image.size ? pct((-100 * saved) / image.size) : "—", growthClass(-saved))]));
      }
    }
    root.append(el("h2", { text: "Images and their variants" }), table([{ text: "file" }, { text: "format" },
      { text: "size (px)", num: 1 }, { text: "bytes", num: 1 }, { text: "vs original", num: 1 },
      { text: "%", num: 1 }], rows));
  }

  function drawTables() {
    const root = document.getElementById("tables");
    root.replaceChildren();
    diffSection(root);
    budgetSection(root);
    totalsSection(root);
  }

  function start() {
    for (const m of METRICS) {
      const input = document.getElementById("metric-" + m);
      input.checked = m === metric;
      input.addEventListener("change", () => { metric = m; drawTreemap(); drawTables(); });
    }
    drawTreemap();
    drawTables();
    chunkSection(document.getElementById("chunks"));
    imageSection(document.getElementById("images"));
    window.addEventListener("resize", drawTreemap);
    document.body.dataset.ready = "1";
  }

  start();
})();
