// What the browser end-to-end test stands on: the real `gatehouse` binary on free ports with a
// temporary data dir (ready when /healthz answers), a gRPC client for the operator's and the
// tenant's side, and a small HTTP server for the test pages and the built SDK.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AdminService } from "../dist/esm/src/gen/gatehouse/v1/admin_pb.js";
import { DecisionService } from "../dist/esm/src/gen/gatehouse/v1/decision_pb.js";
import { IdentityService } from "../dist/esm/src/gen/gatehouse/v1/identity_pb.js";
import { SignalService } from "../dist/esm/src/gen/gatehouse/v1/signal_pb.js";

const SDK_ROOT = new URL("..", import.meta.url).pathname;

/** The gatehouse binary: $GATEHOUSE_BIN, else the debug build in $CARGO_TARGET_DIR or ../target. */
export function gatehouseBinary() {
  const candidates = [
    process.env.GATEHOUSE_BIN,
    process.env.CARGO_TARGET_DIR && join(process.env.CARGO_TARGET_DIR, "debug", "gatehouse"),
    join(SDK_ROOT, "..", "target", "debug", "gatehouse"),
  ].filter(Boolean);
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new Error(`gatehouse binary not found in ${candidates.join(", ")}: cargo build -p gatehouse-server`);
  }
  return found;
}

async function freePort() {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

/** Starts `gatehouse serve`; resolves once /healthz answers. */
export async function startGatehouse() {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const dataDir = mkdtempSync(join(tmpdir(), "gatehouse-web-e2e-"));
  const adminToken = `admin-${Math.random().toString(36).slice(2)}-token-for-tests`;
  const child = spawn(
    gatehouseBinary(),
    ["serve", "--listen", `127.0.0.1:${grpcPort}`, "--http-listen", `127.0.0.1:${httpPort}`, "--data-dir", dataDir],
    {
      env: {
        ...process.env,
        GATEHOUSE_ADMIN_TOKEN: adminToken,
        GATEHOUSE_RDNS_ENABLED: "false",
        GATEHOUSE_LOG_LEVEL: process.env.GATEHOUSE_LOG_LEVEL ?? "error",
      },
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`gatehouse exited early with ${code}`);
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const healthy = fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.ok, () => false);
    if (await Promise.race([healthy, exited])) break;
    if (Date.now() > deadline) throw new Error("gatehouse did not become healthy within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  exited.catch(() => {});
  const endpoint = `http://127.0.0.1:${grpcPort}`;
  return {
    endpoint,
    adminToken,
    async stop() {
      child.kill("SIGTERM");
      if (child.exitCode === null) await once(child, "exit");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Typed clients that authenticate with `key` over gRPC (HTTP/2), as a tenant's server would. */
export function clients(endpoint, key) {
  const transport = createGrpcTransport({
    baseUrl: endpoint,
    interceptors: [
      (next) => (request) => {
        request.header.set("x-api-key", key);
        return next(request);
      },
    ],
  });
  return {
    admin: createClient(AdminService, transport),
    decisions: createClient(DecisionService, transport),
    identity: createClient(IdentityService, transport),
    signals: createClient(SignalService, transport),
  };
}

/** Polls `probe` until it returns a truthy value (at most `ms`); the last value otherwise. */
export async function eventually(probe, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const TYPES = { ".js": "text/javascript", ".wasm": "application/wasm", ".html": "text/html" };

/**
 * Serves the built browser bundles under /sdk/ and the pages `pages(url)` renders (path to HTML)
 * on 127.0.0.1; `origin` is what the browser sends as Origin.
 */
export async function startPageServer(pages) {
  const server = createServer((request, response) => {
    const url = new URL(request.url, "http://page.test");
    if (url.pathname.startsWith("/sdk/")) {
      const file = normalize(join(SDK_ROOT, "dist", "browser", url.pathname.slice(5)));
      if (file.startsWith(join(SDK_ROOT, "dist", "browser")) && existsSync(file)) {
        response.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
        response.end(readFileSync(file));
        return;
      }
    }
    const html = pages(url);
    if (html === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(html);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    async stop() {
      server.closeAllConnections();
      server.close();
    },
  };
}
