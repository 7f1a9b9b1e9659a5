// Starts the real `gatehouse` binary for a test: free ports, a temporary data dir, the admin
// token from the environment, reverse DNS off; ready when GET /healthz answers.
//
// The binary: $GATEHOUSE_BIN, else $CARGO_TARGET_DIR/debug/gatehouse, else <repo>/target/debug/
// gatehouse (build it with `cargo build -p gatehouse-server`).

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as delay } from "node:timers/promises";

import { Gatehouse } from "gatehouse-sdk";

/** The admin token the test servers start with (the server wants at least 16 characters). */
export const ADMIN_TOKEN = "node-sdk-test-admin-token-0123456789";

const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export function gatehouseBinary() {
  const binary =
    process.env.GATEHOUSE_BIN ??
    join(process.env.CARGO_TARGET_DIR ?? join(REPO, "target"), "debug", "gatehouse");
  if (!existsSync(binary)) {
    throw new Error(`no gatehouse binary at ${binary}: run \`cargo build -p gatehouse-server\` or set GATEHOUSE_BIN`);
  }
  return binary;
}

/** A port nobody listens on right now. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => server.listen(0, "127.0.0.1", resolve).on("error", reject));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Waits until `url` answers 200, while `alive()` holds; throws after `timeoutMs`. */
export async function waitForHttp(url, { alive = () => true, describe = () => "", timeoutMs = 30_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`exited before ${url} answered\n${describe()}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer in ${timeoutMs} ms\n${describe()}`);
    await delay(50);
  }
}

/**
 * Starts `gatehouse serve`; `env` adds GATEHOUSE_* settings, `args` extra flags. Returns the gRPC
 * endpoint, the HTTP port, `log()` and `stop()`.
 */
export async function startServer({ env = {}, args = [] } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), "gatehouse-node-test-"));
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const logPath = join(dataDir, "server.log");
  const logFd = openSync(logPath, "a");
  const child = spawn(
    gatehouseBinary(),
    [
      "serve",
      "--listen", `127.0.0.1:${grpcPort}`,
      "--http-listen", `127.0.0.1:${httpPort}`,
      "--data-dir", join(dataDir, "data"),
      ...args,
    ],
    {
      env: {
        PATH: process.env.PATH,
        GATEHOUSE_ADMIN_TOKEN: ADMIN_TOKEN,
        GATEHOUSE_RDNS_ENABLED: "false",
        RUST_LOG: "info",
        ...env,
      },
      stdio: ["ignore", logFd, logFd],
    },
  );
  closeSync(logFd);
  let exited = false;
  const exit = new Promise((resolve) => child.once("exit", (code, signal) => {
    exited = true;
    resolve({ code, signal });
  }));
  const log = () => (existsSync(logPath) ? readFileSync(logPath, "utf8") : "");
  const stop = async () => {
    if (!exited) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exit;
      clearTimeout(killer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForHttp(`http://127.0.0.1:${httpPort}/healthz`, { alive: () => !exited, describe: log });
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint: `http://127.0.0.1:${grpcPort}`, httpPort, log, stop };
}

/** Creates a tenant (with `settings`, if given) with the admin token; returns its id and keys. */
export async function createTenant(server, name = "node-sdk-test", settings = undefined) {
  const admin = await Gatehouse.connect({ endpoint: server.endpoint, apiKey: ADMIN_TOKEN });
  const created = await admin.admin.createTenant({ name, settings });
  return {
    id: created.tenant.tenantId,
    publishableKey: created.publishableKey,
    secretKey: created.secretKey,
  };
}
