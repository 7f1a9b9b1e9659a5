// Prints the raw and gzipped (level 9) sizes of what a page downloads, after `npm run build`: the
// two browser bundles, the wasm module, and what a bundler keeps of the npm package for two
// typical imports (the whole client; the fingerprint alone, which leaves grpc-web out).
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

process.chdir(new URL("..", import.meta.url).pathname);

async function bundled(contents) {
  const result = await build({
    stdin: { contents, resolveDir: "dist/esm/src", loader: "js" },
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2022",
    legalComments: "none",
    write: false,
    logLevel: "error",
  });
  return result.outputFiles[0].contents;
}

const rows = [
  ["dist/browser/gatehouse-tag.js (drop-in tag)", readFileSync("dist/browser/gatehouse-tag.js")],
  ["dist/browser/gatehouse-web.js (ES module, everything)", readFileSync("dist/browser/gatehouse-web.js")],
  ["gatehouse_sdk_wasm_bg.wasm (core)", readFileSync("dist/browser/gatehouse_sdk_wasm_bg.wasm")],
  [
    "app bundle: createGatehouse + sendSignal/trackEvent",
    await bundled(
      'import { createGatehouse } from "./index.js";\n' +
        'const g = await createGatehouse({ endpoint: "https://g.example", publishableKey: "pk_x" });\n' +
        'await g.trackEvent({ type: "page_view" });\nawait g.sendSignal({ type: "login", userId: "u" });',
    ),
  ],
  [
    "app bundle: fingerprint only (no grpc-web)",
    await bundled(
      'import { collectAttributes, computeFingerprint, loadCore } from "./index.js";\n' +
        'await loadCore(new URL("gatehouse_sdk_wasm_bg.wasm", import.meta.url));\n' +
        "console.log(computeFingerprint(await collectAttributes()).deviceId);",
    ),
  ],
];
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
console.log("| file | raw | gzip -9 |\n|---|---|---|");
for (const [name, bytes] of rows) {
  console.log(`| ${name} | ${kb(bytes.length)} | ${kb(gzipSync(bytes, { level: 9 }).length)} |`);
}
