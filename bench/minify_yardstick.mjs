// The yardsticks for bench/minify.py: esbuild and lightningcss, in-process through their Node APIs
// (the same engines as `esbuild --minify` and `lightningcss --minify`, without a process start per file).
// Usage: node minify_yardstick.mjs NODE_MODULES_DIR RUNS < [[type, path], ...]  ->  JSON on stdout.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const [modules, runsArg] = process.argv.slice(2);
const require = createRequire(join(modules, "noop.js"));
const esbuild = require("esbuild");
const lightningcss = require("lightningcss");
const files = JSON.parse(readFileSync(0, "utf8"));
const runs = Number(runsArg || 3);

const tools = {
  esbuild: {
    version: esbuild.version,
    types: ["js", "css"],
    run: (type, data) => esbuild.transformSync(data.toString("utf8"), { loader: type, minify: true }).code,
  },
  lightningcss: {
    version: JSON.parse(readFileSync(join(modules, "lightningcss", "package.json"), "utf8")).version,
    types: ["css"],
    run: (type, data, path) => lightningcss.transform({ filename: path, code: data, minify: true }).code,
  },
};

const out = {};
for (const [name, tool] of Object.entries(tools)) {
  out[name] = { version: tool.version, types: {} };
  for (const type of tool.types) {
    const set = files.filter(([t]) => t === type).map(([, p]) => [p, readFileSync(p)]);
    const times = [];
    let sizes = {};
    let failed = [];
    for (let r = 0; r < runs; r++) {
      sizes = {};
      failed = [];
      const start = process.hrtime.bigint();
      for (const [path, data] of set) {
        try {
          sizes[path] = Buffer.byteLength(tool.run(type, data, path));
        } catch (err) {
          failed.push(path);
        }
      }
      times.push(Number(process.hrtime.bigint() - start) / 1e9);
    }
    out[name].types[type] = { times, sizes, failed };
  }
}
process.stdout.write(JSON.stringify(out));
