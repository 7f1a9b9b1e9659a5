// An Express backend protected by Gatehouse:
//
// - every request (but the health check and the webhook) first asks BlockerService.CheckVisitor
//   whether the visitor may get in, and bots and blocked IPs get 403;
// - a login sends a server signal (SignalService.SendSignal, with the secret key) with the
//   user's IP, user agent and device, and refuses users Gatehouse has banned;
// - Gatehouse's webhooks (events such as NEW_DEVICE or TOR) arrive at POST /webhooks/gatehouse,
//   where their signature is checked before anything is trusted.
//
// If Gatehouse cannot be reached, the app fails open (logs and lets the request through): an
// outage of the detection service should not take the site down with it.

import { randomUUID } from "node:crypto";

import express from "express";
import { GatehouseError } from "gatehouse-sdk";

import { SIGNATURE_HEADER, verifyWebhookSignature } from "./webhook-signature.mjs";

// The demo's one user. A real app keeps users in a database with password hashes.
const USERS = new Map([["alice", "wonderland"]]);

// Webhook deliveries are at least once: remember recent event ids to handle each event once.
const REMEMBERED_EVENTS = 10_000;

/** BlockerService.CheckVisitor as middleware: 403 for visitors Gatehouse would block. */
export function checkVisitor(gatehouse, log) {
  return async (req, res, next) => {
    const ua = req.get("user-agent");
    if (!ua) {
      // Browsers always send one; only scripts leave it out.
      res.status(403).json({ error: "access denied", reason: "NO USER AGENT" });
      return;
    }
    try {
      const { ipStatus } = await gatehouse.blocker.checkVisitor({ ip: req.ip, ua, url: req.originalUrl });
      res.locals.visitor = ipStatus;
      if (ipStatus.blockAccess) {
        res.status(403).json({ error: "access denied", reason: ipStatus.detectActivityLabel });
        return;
      }
    } catch (error) {
      if (!(error instanceof GatehouseError)) throw error;
      log.warn(`gatehouse: visitor check skipped (${error.reason}: ${error.message})`);
    }
    next();
  };
}

/** The app; `gatehouse` is a connection made with the tenant's secret key. */
export function createApp({ gatehouse, webhookSecret, trustProxy = "loopback", log = console }) {
  const app = express();
  // req.ip is the client's address when a trusted reverse proxy sets X-Forwarded-For.
  app.set("trust proxy", trustProxy);
  const seenEvents = new Set();

  app.get("/healthz", (_req, res) => {
    res.json({ ok: true });
  });

  // The raw body: the signature covers the exact bytes that were sent.
  app.post("/webhooks/gatehouse", express.raw({ type: () => true, limit: "1mb" }), (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    if (!verifyWebhookSignature(webhookSecret, req.get(SIGNATURE_HEADER), body)) {
      log.warn("webhook: refused a delivery with a missing, wrong or stale signature");
      res.status(400).json({ error: "bad signature" });
      return;
    }
    let payload;
    try {
      payload = JSON.parse(body.toString("utf8"));
    } catch {
      res.status(400).json({ error: "body is not JSON" });
      return;
    }
    if (!seenEvents.has(payload.event_id)) {
      seenEvents.add(payload.event_id);
      if (seenEvents.size > REMEMBERED_EVENTS) seenEvents.delete(seenEvents.values().next().value);
      // Here a real app would alert, lock the account or ask the user to confirm.
      log.info(
        `webhook: ${payload.event_type} event ${payload.event_id} for identity ${payload.event?.identity_id ?? "?"}`,
      );
    }
    res.json({ received: true });
  });

  app.use(checkVisitor(gatehouse, log));
  app.use(express.json({ limit: "16kb" }));

  app.get("/", (_req, res) => {
    res.type("text/plain").send("Welcome, human.\n");
  });

  app.post("/login", async (req, res) => {
    const { username, password, deviceId } = req.body ?? {};
    if (typeof username !== "string" || typeof password !== "string") {
      res.status(400).json({ error: "send JSON with username and password" });
      return;
    }
    const known = USERS.has(username);
    const passwordMatches = known && USERS.get(username) === password;
    let signal = null;
    // Signals for known users only: an unknown user id would create an identity on the fly.
    if (known) {
      try {
        signal = await gatehouse.signals.sendSignal({
          idempotencyKey: randomUUID(),
          type: passwordMatches ? "login" : "login_failed",
          source: "SIGNAL_SOURCE_SERVER",
          identifiers: { userId: username },
          ip: req.ip,
          userAgent: req.get("user-agent"),
          device: typeof deviceId === "string" && deviceId ? { deviceId } : undefined,
        });
      } catch (error) {
        if (!(error instanceof GatehouseError)) throw error;
        log.warn(`gatehouse: login signal not sent (${error.reason}: ${error.message})`);
      }
    }
    if (!passwordMatches) {
      res.status(401).json({ error: "wrong username or password" });
      return;
    }
    const results = signal?.immediateResults ?? [];
    if (results.some((result) => result.type === "IMMEDIATE_RESULT_TYPE_BANNED")) {
      res.status(403).json({ error: "this account is blocked" });
      return;
    }
    res.json({
      ok: true,
      user: username,
      identityId: signal?.identifiers?.identityId ?? null,
      risks: results.map((result) => result.type),
    });
  });

  return app;
}
