// Builds the package from src/ (with src/gen/ from `npm run generate`) and pkg/ (the wasm-bindgen
// output; test.sh makes both):
//   dist/esm/      the npm package: ES modules and .d.ts, the wasm module beside index.js
//   dist/browser/  self-contained bundles for pages without a bundler, the wasm module beside them:
//                  gatehouse-web.js (ES module) and gatehouse-tag.js (the drop-in tag)
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { build } from "esbuild";

const WASM = "gatehouse_sdk_wasm_bg.wasm";
process.chdir(new URL("..", import.meta.url).pathname);
rmSync("dist", { recursive: true, force: true });

execFileSync("node_modules/.bin/tsc", ["-p", "tsconfig.json"], { stdio: "inherit" });
mkdirSync("dist/esm/pkg", { recursive: true });
for (const file of ["gatehouse_sdk_wasm.js", "gatehouse_sdk_wasm.d.ts"]) {
  copyFileSync(`pkg/${file}`, `dist/esm/pkg/${file}`);
}
copyFileSync(`pkg/${WASM}`, `dist/esm/src/${WASM}`);

const common = {
  bundle: true,
  minify: true,
  target: "es2022",
  legalComments: "none",
  outdir: "dist/browser",
  logLevel: "warning",
};
await build({ ...common, entryPoints: { "gatehouse-web": "src/index.ts" }, format: "esm" });
// The tag passes the wasm URL itself (beside its own src), so the iife has no use for import.meta.
await build({
  ...common,
  entryPoints: { "gatehouse-tag": "src/tag.ts" },
  format: "iife",
  logOverride: { "empty-import-meta": "silent" },
});
copyFileSync(`pkg/${WASM}`, `dist/browser/${WASM}`);
