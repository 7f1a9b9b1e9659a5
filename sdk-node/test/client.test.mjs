// The client against a real `gatehouse serve`: a tenant created through AdminService, a server
// signal, a visitor check, errors as GatehouseError subclasses, and a request signed here and
// verified by the server's VerifyService.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import {
  Gatehouse,
  GatehouseError,
  InvalidRequestError,
  NotFoundError,
  PaymentRequiredError,
  RateLimitedError,
  UnauthorizedError,
  fingerprint,
  sign,
} from "gatehouse-sdk";

import { ADMIN_TOKEN, createTenant, startServer } from "./support/server.mjs";

const BROWSER_UA =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
const DEVICE = {
  platform: "web",
  osName: "Linux",
  userAgent: BROWSER_UA,
  screenWidth: 1920,
  screenHeight: 1080,
  canvasHash: "9c2f61aa03d4e187",
  timezone: "Europe/Berlin",
};

describe("client against a real server", () => {
  let server;
  let tenant;
  let gh;

  before(async () => {
    server = await startServer();
    tenant = await createTenant(server, "node-client-test");
    gh = await Gatehouse.connect({ endpoint: server.endpoint, apiKey: tenant.secretKey, timeoutMs: 5000 });
  });

  after(async () => {
    await server?.stop();
  });

  it("creates tenants with the admin token, 64-bit integers as strings", async () => {
    assert.match(tenant.id, /^tn_/);
    assert.match(tenant.publishableKey, /^pk_/);
    assert.match(tenant.secretKey, /^sk_/);
    const admin = await Gatehouse.connect({ endpoint: server.endpoint, apiKey: ADMIN_TOKEN });
    const { tenant: fetched } = await admin.admin.getTenant({ tenantId: tenant.id });
    assert.equal(fetched.name, "node-client-test");
    assert.equal(typeof fetched.createdMs, "string");
    assert.ok(Math.abs(Number(fetched.createdMs) - Date.now()) < 60_000);
  });

  it("sends a server signal and reads the identity it created", async () => {
    const device = fingerprint(DEVICE);
    const request = {
      idempotencyKey: `login-${Date.now()}`,
      type: "login",
      source: "SIGNAL_SOURCE_SERVER",
      identifiers: { userId: "alice" },
      ip: "203.0.113.7",
      userAgent: BROWSER_UA,
      device: { deviceId: device.deviceId, platform: "DEVICE_PLATFORM_WEB", components: device.components },
      metadata: { plan: "pro" },
      timeMs: BigInt(Date.now()),
    };
    const sent = await gh.signals.sendSignal(request);
    assert.match(sent.signalId, /^sig_/);
    assert.equal(sent.identifiers.userId, "alice");
    assert.equal(sent.device.deviceId, device.deviceId);
    assert.equal(sent.replayed, false);

    const again = await gh.signals.sendSignal(request);
    assert.equal(again.replayed, true);
    assert.equal(again.signalId, sent.signalId);

    const status = await gh.identities.getIdentityStatus({ userId: "alice" });
    assert.equal(status.identityId, sent.identifiers.identityId);
    assert.equal(status.status, "IDENTITY_STATUS_ACTIVE");
    assert.deepEqual(status.activeBans, []);
  });

  it("checks visitors: a browser gets in, a crawler is blocked", async () => {
    const human = await gh.blocker.checkVisitor({ ip: "203.0.113.7", ua: BROWSER_UA, url: "/pricing" });
    assert.equal(human.ip, "203.0.113.7");
    assert.equal(human.ipStatus.blockAccess, false);
    assert.equal(human.ipStatus.detectActivity, "DETECT_ACTIVITY_VISITOR");
    const crawler = await gh.blocker.checkVisitor({ ip: "203.0.113.8", ua: "curl/8.5.0", url: "/pricing" });
    assert.equal(crawler.ipStatus.isBot, true);
    assert.equal(crawler.ipStatus.blockAccess, true);
  });

  it("turns a wrong key into UnauthorizedError", async () => {
    const wrong = await Gatehouse.connect({ endpoint: server.endpoint, apiKey: "sk_0000000000000000000000000000000000000000" });
    await assert.rejects(wrong.signals.sendSignal({ type: "login", identifiers: { userId: "alice" } }), (error) => {
      assert.ok(error instanceof UnauthorizedError, String(error));
      assert.ok(error instanceof GatehouseError);
      assert.equal(error.reason, "UNAUTHORIZED");
      assert.equal(error.name, "UnauthorizedError");
      assert.match(error.message, /API key/);
      return true;
    });
    const publishable = await Gatehouse.connect({ endpoint: server.endpoint, apiKey: tenant.publishableKey });
    await assert.rejects(publishable.blocker.checkVisitor({ ip: "203.0.113.7", ua: BROWSER_UA }), UnauthorizedError);
  });

  it("names the refused field in InvalidRequestError, and missing things in NotFoundError", async () => {
    const publishable = await Gatehouse.connect({ endpoint: server.endpoint, apiKey: tenant.publishableKey });
    await assert.rejects(
      publishable.signals.sendSignal({
        type: "login",
        source: "SIGNAL_SOURCE_APP",
        identifiers: { userId: "alice" },
        ip: "198.51.100.1",
      }),
      (error) => error instanceof InvalidRequestError && error.field === "ip",
    );
    await assert.rejects(gh.identities.getIdentity({ identityId: "idt_000000000000000000000000" }), (error) => {
      assert.ok(error instanceof NotFoundError, String(error));
      assert.equal(error.reason, "NOT_FOUND");
      return true;
    });
  });

  it("turns the tenant's rate limit into RateLimitedError with the seconds to wait", async () => {
    const limited = await createTenant(server, "node-rate-limited", { rateLimitPerMinute: 2 });
    const client = await Gatehouse.connect({ endpoint: server.endpoint, apiKey: limited.secretKey });
    // Two calls a minute pass; a minute boundary in between resets the count once at most.
    let refused;
    for (let call = 0; call < 6 && !refused; call += 1) {
      await client.blocker.checkVisitor({ ip: "203.0.113.7", ua: BROWSER_UA }).catch((error) => {
        refused = error;
      });
    }
    assert.ok(refused instanceof RateLimitedError, String(refused));
    assert.equal(refused.reason, "RATE_LIMITED");
    assert.ok(Number.isInteger(refused.retryAfterSeconds), String(refused.retryAfterSeconds));
    assert.ok(refused.retryAfterSeconds >= 0 && refused.retryAfterSeconds <= 60, String(refused.retryAfterSeconds));
  });

  it("turns a tenant whose traffic is off into PaymentRequiredError", async () => {
    const off = await createTenant(server, "node-traffic-off", { trafficEnabled: false });
    const client = await Gatehouse.connect({ endpoint: server.endpoint, apiKey: off.secretKey });
    await assert.rejects(client.blocker.checkVisitor({ ip: "203.0.113.7", ua: BROWSER_UA }), (error) => {
      assert.ok(error instanceof PaymentRequiredError, String(error));
      assert.equal(error.reason, "PAYMENT_REQUIRED");
      return true;
    });
  });

  it("signs a request that the server's VerifyService passes", async () => {
    const { key, secret } = await gh.admin.createSigningKey({ tenantId: tenant.id });
    const device = fingerprint(DEVICE);
    const request = { path: "/api/v1/login", query: "next=%2Fhome&lang=de", body: '{"user":"alice"}' };
    const token = sign({ keyId: key.keyId, secret, ...request, deviceId: device.deviceId, env: device.env });

    const verify = (body) =>
      gh.verify.verify({
        partnerCode: tenant.id,
        path: request.path,
        sign: token,
        query: request.query,
        body: Buffer.from(body).toString("base64"),
      });
    const passed = await verify(request.body);
    assert.equal(passed.code, "VERIFY_ENVELOPE_CODE_OK", passed.message);
    assert.equal(passed.data.status, "VERIFY_STATUS_PASS");
    assert.equal(passed.data.outcome, "VERIFY_OUTCOME_PASS");
    assert.equal(passed.data.deviceId, device.deviceId);
    assert.equal(passed.data.keyId, key.keyId);

    const tampered = await verify('{"user":"mallory"}');
    assert.equal(tampered.data.status, "VERIFY_STATUS_QUERY_OR_BODY_MISMATCH");
    assert.equal(tampered.data.outcome, "VERIFY_OUTCOME_BLOCK");
  });
});
