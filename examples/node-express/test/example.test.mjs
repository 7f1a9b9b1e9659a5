// The example against the real server: start `gatehouse serve` (loopback webhook targets allowed,
// as in tests/e2e/webhooks.rs), create a tenant and a webhook pointing at the example, start the
// example the way `npm start` does, log in from two devices, and receive the NEW_DEVICE webhook
// the second login raises, signed and checked.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";

import { Gatehouse } from "gatehouse-sdk";

import { createTenant, freePort, startServer, waitForHttp } from "../../../sdk-node/test/support/server.mjs";
import { verifyWebhookSignature } from "../webhook-signature.mjs";

const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), "..");
const BROWSER_UA =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

describe("webhook signature", () => {
  // The known answer of server/src/webhooks/signature.rs.
  const secret = "whsec_test_secret";
  const body = Buffer.from('{"event_id":"evt_1","type":"TOR"}');
  const header = "t=1700000000,v1=c5b58251200157156b8e13a78c42105173ba00a819af810d068b940b6a241433";
  const at = (nowSeconds) => ({ nowSeconds, toleranceSeconds: 300 });

  it("accepts the server's known answer within the tolerance", () => {
    assert.equal(verifyWebhookSignature(secret, header, body, at(1_700_000_000)), true);
    assert.equal(verifyWebhookSignature(secret, header, body, at(1_700_000_300)), true);
    assert.equal(verifyWebhookSignature(secret, `t=1700000000,v1=${"0".repeat(64)},${header.split(",")[1]},v2=x`, body, at(1_700_000_000)), true);
  });

  it("refuses another body, secret or time, and malformed headers", () => {
    assert.equal(verifyWebhookSignature(secret, header, Buffer.from("{}"), at(1_700_000_000)), false);
    assert.equal(verifyWebhookSignature("whsec_other", header, body, at(1_700_000_000)), false);
    assert.equal(verifyWebhookSignature(secret, header, body, at(1_700_000_301)), false);
    assert.equal(verifyWebhookSignature(secret, header.replace("t=1700000000", "t=1700000001"), body, at(1_700_000_000)), false);
    for (const bad of [undefined, "", "t=1700000000", header.split(",")[1], "t=abc,v1=00", `t=1700000000,${header}`]) {
      assert.equal(verifyWebhookSignature(secret, bad, body, at(1_700_000_000)), false, String(bad));
    }
  });
});

describe("express example against a real server", () => {
  let server;
  let example;
  let base;
  let tenant;
  let webhookId;
  const lines = [];

  before(async () => {
    server = await startServer({
      env: {
        GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE_TARGETS: "true",
        GATEHOUSE_WEBHOOKS_BASE_BACKOFF_MS: "200",
        GATEHOUSE_WEBHOOKS_MAX_BACKOFF_MS: "1000",
      },
    });
    tenant = await createTenant(server, "express-example");
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const gh = await Gatehouse.connect({ endpoint: server.endpoint, apiKey: tenant.secretKey });
    const created = await gh.admin.createWebhook({
      tenantId: tenant.id,
      url: `${base}/webhooks/gatehouse`,
      eventTypes: ["NEW_DEVICE"],
    });
    webhookId = created.webhook.webhookId;
    assert.match(created.secret, /^whsec_/);

    example = spawn(process.execPath, ["server.mjs"], {
      cwd: EXAMPLE,
      env: {
        PATH: process.env.PATH,
        GATEHOUSE_ENDPOINT: server.endpoint,
        GATEHOUSE_SECRET_KEY: tenant.secretKey,
        WEBHOOK_SECRET: created.secret,
        PORT: String(port),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const stream of [example.stdout, example.stderr]) {
      createInterface({ input: stream }).on("line", (line) => lines.push(line));
    }
    await waitForHttp(`${base}/healthz`, {
      alive: () => example.exitCode === null,
      describe: () => lines.join("\n"),
    });
  });

  after(async () => {
    if (example && example.exitCode === null) {
      const exited = new Promise((resolve) => example.once("exit", resolve));
      example.kill("SIGTERM");
      await exited;
    }
    await server?.stop();
  });

  const request = (path, { ua = BROWSER_UA, ip = "203.0.113.50", json } = {}) =>
    fetch(`${base}${path}`, {
      method: json ? "POST" : "GET",
      headers: {
        "user-agent": ua,
        "x-forwarded-for": ip,
        ...(json ? { "content-type": "application/json" } : {}),
      },
      body: json ? JSON.stringify(json) : undefined,
    });

  async function waitForLine(pattern, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = lines.find((candidate) => pattern.test(candidate));
      if (line) return line;
      assert.ok(Date.now() < deadline, `no line matching ${pattern} in ${timeoutMs} ms:\n${lines.join("\n")}`);
      await delay(50);
    }
  }

  it("lets browsers in and keeps crawlers out", async () => {
    const human = await request("/");
    assert.equal(human.status, 200);
    const crawler = await request("/", { ua: "curl/8.5.0" });
    assert.equal(crawler.status, 403);
    assert.deepEqual(await crawler.json(), { error: "access denied", reason: "BLOCK BY SPIDER CRAWLER" });
  });

  it("sends login signals and receives the signed NEW_DEVICE webhook", async () => {
    const wrong = await request("/login", { json: { username: "alice", password: "guess", deviceId: "dev_laptop" } });
    assert.equal(wrong.status, 401);

    const first = await request("/login", { json: { username: "alice", password: "wonderland", deviceId: "dev_laptop" } });
    assert.equal(first.status, 200);
    const firstBody = await first.json();
    assert.match(firstBody.identityId, /^idt_/);

    const second = await request("/login", { json: { username: "alice", password: "wonderland", deviceId: "dev_phone" } });
    assert.equal(second.status, 200);
    const secondBody = await second.json();
    assert.equal(secondBody.identityId, firstBody.identityId);
    assert.ok(secondBody.risks.includes("IMMEDIATE_RESULT_TYPE_NEW_DEVICE"), JSON.stringify(secondBody));

    const line = await waitForLine(/^webhook: NEW_DEVICE event /);
    const gh = await Gatehouse.connect({ endpoint: server.endpoint, apiKey: tenant.secretKey });
    const { events } = await gh.identities.listEvents({ identityId: firstBody.identityId });
    const newDevice = events.find((event) => event.type === "EVENT_TYPE_NEW_DEVICE");
    assert.ok(newDevice, JSON.stringify(events));
    assert.equal(line, `webhook: NEW_DEVICE event ${newDevice.eventId} for identity ${firstBody.identityId}`);

    const { deliveries } = await gh.admin.listWebhookDeliveries({ tenantId: tenant.id, webhookId });
    assert.ok(
      deliveries.some((delivery) => delivery.delivered && delivery.httpStatus === 200 && delivery.eventId === newDevice.eventId),
      JSON.stringify(deliveries),
    );
  });

  it("refuses a forged webhook", async () => {
    const body = JSON.stringify({ event_id: "evt_forged", event_type: "TOR" });
    const now = Math.floor(Date.now() / 1000);
    const forged = await fetch(`${base}/webhooks/gatehouse`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-gatehouse-signature": `t=${now},v1=${"ab".repeat(32)}` },
      body,
    });
    assert.equal(forged.status, 400);
    assert.ok(!lines.some((candidate) => candidate.includes("evt_forged")));
  });
});
