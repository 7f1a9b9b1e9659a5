// End to end: Debian's headless Chromium (driven by playwright-core) loads test pages that use the
// built SDK (the drop-in tag and the ES module bundle) against the real gatehouse binary; the test
// reads what arrived back with the tenant's secret key.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { chromium } from "playwright-core";
import { EnvFlag } from "../dist/esm/src/gen/gatehouse/v1/common_pb.js";
import {
  ClickEventType,
  DecisionLabel,
  TrackEventRequestSchema,
} from "../dist/esm/src/gen/gatehouse/v1/decision_pb.js";
import { EventType } from "../dist/esm/src/gen/gatehouse/v1/identity_pb.js";
import { SignalSource } from "../dist/esm/src/gen/gatehouse/v1/signal_pb.js";
import { clients, eventually, startGatehouse, startPageServer } from "./harness.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
/** A person's Chrome: the headless user agent would flag every context as a crawler by itself. */
const CHROME_UA =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
const USER = "user-web-1";
const CLICK_IDS = { gclid: "G-e2e-1", gbraid: "GB-e2e-1", wbraid: "WB-e2e-1", msclkid: "M-e2e-1", fbclid: "F-e2e-1" };

let gatehouse;
let tenant; // { secret, publishable }
let allowed; // page server whose origin the tenant allows
let refused; // page server on an origin no tenant allows
let browser;

function pages(endpoint, publishableKey) {
  const tag = `<script src="/sdk/gatehouse-tag.js" data-key="${publishableKey}" data-endpoint="${endpoint}"></script>`;
  return (url) => {
    switch (url.pathname) {
      case "/landing.html":
        return `<!doctype html><html><head><meta charset="utf-8"><title>Offer</title>
<script>window.errors = []; addEventListener("gatehouse:error", (e) => errors.push({ kind: e.detail?.kind, message: String(e.detail?.message ?? e.detail) }));</script>
${tag}</head><body><h1>Spring offer</h1><p><a id="ad" data-gatehouse-ad href="/thanks.html">Buy now</a></p>
<div style="height: 5000px">Details</div></body></html>`;
      case "/app.html":
        return `<!doctype html><html><head><meta charset="utf-8"><title>App</title></head><body>
<script type="module">
import { createGatehouse } from "/sdk/gatehouse-web.js";
try {
  const gatehouse = await createGatehouse({ endpoint: ${JSON.stringify(endpoint)}, publishableKey: ${JSON.stringify(publishableKey)} });
  const response = await gatehouse.sendSignal({ type: "login", userId: new URL(location.href).searchParams.get("user") });
  window.result = { deviceId: gatehouse.deviceId, fingerprint: gatehouse.fingerprint, webdriver: gatehouse.attributes.webdriver, signalId: response.signalId };
} catch (error) {
  window.result = { error: String(error), kind: error.kind };
}
</script></body></html>`;
      case "/thanks.html":
        return "<!doctype html><title>Thanks</title><p>Thanks</p>";
      default:
        return undefined;
    }
  };
}

async function clickEvents(visitorId) {
  const { events } = await clients(gatehouse.endpoint, tenant.secret).decisions.listClickEvents({
    visitorId,
    pageSize: 500,
  });
  return events;
}

/**
 * One grpc-web TrackEvent as a browser sends it (one HTTP/1.1 POST, whole body at once) from
 * `origin` with the publishable key; the grpc-status, from the headers (trailers-only answer) or
 * from the trailer frame.
 */
async function grpcWebTrack(origin) {
  const message = toBinary(
    TrackEventRequestSchema,
    create(TrackEventRequestSchema, { type: ClickEventType.PAGE_VIEW, url: `${origin}/landing.html`, gclid: "G-direct" }),
  );
  const body = new Uint8Array(5 + message.length);
  new DataView(body.buffer).setUint32(1, message.length);
  body.set(message, 5);
  const response = await fetch(`${gatehouse.endpoint}/gatehouse.v1.DecisionService/TrackEvent`, {
    method: "POST",
    headers: { origin, "content-type": "application/grpc-web+proto", "x-grpc-web": "1", "x-api-key": tenant.publishable },
    body,
  });
  const bytes = new Uint8Array(await response.arrayBuffer());
  const header = response.headers.get("grpc-status");
  if (header !== null) return header;
  for (let at = 0; at + 5 <= bytes.length; ) {
    const length = new DataView(bytes.buffer, bytes.byteOffset + at + 1, 4).getUint32(0);
    if (bytes[at] & 0x80) {
      const trailer = new TextDecoder().decode(bytes.subarray(at + 5, at + 5 + length));
      return /grpc-status:\s*(\d+)/i.exec(trailer)?.[1];
    }
    at += 5 + length;
  }
  return undefined;
}

/** Loads the landing page in `context`; resolves to the tag's device id and visitor id. */
async function land(context, origin, query = "") {
  const page = await context.newPage();
  await page.goto(`${origin}/landing.html${query}`);
  const deviceId = await page.evaluate(() => window.gatehouse.then((g) => g.deviceId));
  const visitorId = await page.evaluate(() => localStorage.getItem("gatehouse.visitor"));
  return { page, deviceId, visitorId };
}

before(async () => {
  gatehouse = await startGatehouse();
  const admin = clients(gatehouse.endpoint, gatehouse.adminToken).admin;
  const created = await admin.createTenant({ name: "web-e2e" });
  tenant = { id: created.tenant.tenantId, secret: created.secretKey, publishable: created.publishableKey };
  allowed = await startPageServer(pages(gatehouse.endpoint, tenant.publishable));
  refused = await startPageServer(pages(gatehouse.endpoint, tenant.publishable));
  await admin.updateTenant({ tenantId: tenant.id, settings: { allowedOrigins: [allowed.origin] } });
  // Browsers may only send signals about users the tenant's server introduced.
  await clients(gatehouse.endpoint, tenant.secret).signals.sendSignal({
    idempotencyKey: "server-signup-1",
    type: "signup",
    source: SignalSource.SERVER,
    identifiers: { userId: USER },
    ip: "198.51.100.20",
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
});

after(async () => {
  await browser?.close();
  await allowed?.stop();
  await refused?.stop();
  await gatehouse?.stop();
});

describe("the drop-in tag", () => {
  test("records the page view with the click ids, the ad click, then scroll depth and time in view on leaving", async () => {
    const context = await browser.newContext({ userAgent: CHROME_UA });
    const query = `?${new URLSearchParams(CLICK_IDS)}&utm_source=google`;
    const { page, deviceId, visitorId } = await land(context, allowed.origin, query);
    assert.match(deviceId, /^dev_[0-9a-f]{32}$/);
    assert.match(visitorId, /^vis_[0-9a-f]{24}$/);

    // Read for a while, scroll past the middle, then follow the ad (the page goes away).
    const started = Date.now();
    await page.evaluate(() => scrollTo(0, document.documentElement.scrollHeight * 0.6));
    await page.waitForTimeout(1500);
    await Promise.all([page.waitForURL("**/thanks.html"), page.click("#ad")]);
    const dwellUpperBound = Date.now() - started + 2000;

    const events = await eventually(async () => {
      const found = await clickEvents(visitorId);
      return found.some((e) => e.data?.timeOnPageMs !== undefined) && found.some((e) => e.type === ClickEventType.CLICK)
        ? found
        : undefined;
    });
    assert.ok(events, "page view, click and the engagement update arrived");
    const view = events.find((e) => e.type === ClickEventType.PAGE_VIEW && e.data?.timeOnPageMs === undefined);
    assert.ok(view, "the first page view");
    assert.deepEqual(
      { gclid: view.gclid, gbraid: view.gbraid, wbraid: view.wbraid, msclkid: view.msclkid, fbclid: view.fbclid },
      CLICK_IDS,
    );
    assert.equal(view.url, `${allowed.origin}/landing.html${query}`);
    assert.equal(view.data.deviceId, deviceId);
    assert.equal(view.data.jsEnabled, true);
    assert.equal(view.data.userAgent, CHROME_UA);
    assert.ok(view.data.timezone.length > 0, "time zone");
    assert.equal(view.ip, "127.0.0.1", "the IP is the connection's");

    const click = events.find((e) => e.type === ClickEventType.CLICK);
    assert.equal(click.url, `${allowed.origin}/thanks.html`);
    assert.equal(click.gclid, CLICK_IDS.gclid);
    assert.equal(click.data.honeypotHit, false);

    const engagement = events.find((e) => e.data?.timeOnPageMs !== undefined);
    const dwell = Number(engagement.data.timeOnPageMs);
    assert.ok(dwell >= 1500 && dwell <= dwellUpperBound, `time in view ${dwell} ms`);
    assert.ok(engagement.data.scrollDepth >= 60 && engagement.data.scrollDepth <= 100, `scroll ${engagement.data.scrollDepth}%`);
    assert.equal(engagement.data.deviceId, deviceId);
    await context.close();
  });

  test("a followed honeypot link is reported and alone decides FRAUD", async () => {
    const context = await browser.newContext({ userAgent: CHROME_UA });
    const { page, visitorId } = await land(context, allowed.origin);
    const trap = page.locator('a[href*="gh_hp=1"]');
    assert.equal(await trap.count(), 1);
    const box = await trap.boundingBox();
    assert.ok(box.x + box.width <= 0, `people cannot see it: ${JSON.stringify(box)}`);
    await trap.evaluate((link) => link.click());
    const hit = await eventually(async () => (await clickEvents(visitorId)).find((e) => e.data?.honeypotHit));
    assert.ok(hit, "honeypot click arrived");
    assert.equal(hit.type, ClickEventType.CLICK);
    const decision = await clients(gatehouse.endpoint, tenant.secret).decisions.getDecision({ visitorId });
    assert.equal(decision.label, DecisionLabel.FRAUD);
    assert.ok(decision.reasons.some((r) => r.rule === "honeypot"));
    await context.close();
  });

  test("the same browser profile loaded twice keeps its device id and visitor id", async () => {
    const profile = mkdtempSync(join(tmpdir(), "gatehouse-web-profile-"));
    try {
      const visits = [];
      for (let i = 0; i < 2; i++) {
        const context = await chromium.launchPersistentContext(profile, {
          executablePath: CHROMIUM,
          headless: true,
          userAgent: CHROME_UA,
        });
        const { deviceId, visitorId } = await land(context, allowed.origin);
        visits.push({ deviceId, visitorId });
        await context.close();
      }
      assert.match(visits[0].deviceId, /^dev_/);
      assert.deepEqual(visits[1], visits[0]);
      const events = await eventually(async () => {
        const found = await clickEvents(visits[0].visitorId);
        return found.filter((e) => e.type === ClickEventType.PAGE_VIEW && e.data?.timeOnPageMs === undefined).length >= 2
          ? found
          : undefined;
      });
      assert.ok(events, "both page views stored under one visitor");
      assert.ok(events.every((e) => e.data.deviceId === visits[0].deviceId));
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  });

  test("a page on an origin the tenant does not allow is refused", async () => {
    const context = await browser.newContext({ userAgent: CHROME_UA });
    const page = await context.newPage();
    await page.goto(`${refused.origin}/landing.html?gclid=G-refused`);
    await page.waitForFunction(() => window.errors.length > 0);
    const [error] = await page.evaluate(() => window.errors);
    // The browser refuses the response of the failed preflight; the page sees a network error.
    assert.equal(error.kind, "network", JSON.stringify(error));
    const all = await clickEvents("");
    assert.ok(!all.some((e) => e.gclid === "G-refused"), "nothing stored from the refused origin");
    await context.close();

    // Preflight: answered for the allowed origin only.
    const preflight = (origin) =>
      fetch(`${gatehouse.endpoint}/gatehouse.v1.DecisionService/TrackEvent`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type,x-api-key,x-grpc-web",
        },
      });
    assert.equal((await preflight(allowed.origin)).headers.get("access-control-allow-origin"), allowed.origin);
    assert.equal((await preflight(refused.origin)).headers.get("access-control-allow-origin"), null);

    // And the request itself, sent without a browser's CORS checks, is refused by the server.
    assert.equal(await grpcWebTrack(refused.origin), "7", "PERMISSION_DENIED");
    assert.equal(await grpcWebTrack(allowed.origin), "0", "OK");
  });
});

describe("the ES module SDK", () => {
  async function signalFrom(context) {
    const page = await context.newPage();
    await page.goto(`${allowed.origin}/app.html?user=${USER}`);
    await page.waitForFunction(() => window.result);
    const result = await page.evaluate(() => window.result);
    assert.equal(result.error, undefined, JSON.stringify(result));
    return result;
  }

  test("sends a browser signal; the identity keeps the device, its fingerprint and the crawler flag of automation", async () => {
    const context = await browser.newContext({ userAgent: CHROME_UA });
    const result = await signalFrom(context);
    await context.close();
    assert.equal(result.webdriver, true, "playwright drives this browser");
    assert.ok(result.fingerprint.env.includes("crawler"), JSON.stringify(result.fingerprint.env));
    assert.match(result.signalId, /^sig_/);

    const { identity } = await clients(gatehouse.endpoint, tenant.secret).identity.getIdentity({ userId: USER });
    const seen = identity.devices.find((d) => d.device.deviceId === result.deviceId);
    assert.ok(seen, `device ${result.deviceId} stored on the identity`);
    assert.ok(seen.device.envFlags.includes(EnvFlag.CRAWLER));
    assert.deepEqual({ ...seen.device.components }, result.fingerprint.components);
    for (const component of ["platform", "user_agent", "canvas", "webgl", "fonts", "screen", "timezone"]) {
      assert.match(seen.device.components[component] ?? "", /^[0-9a-f]{16}$/, component);
    }
    const { events } = await clients(gatehouse.endpoint, tenant.secret).identity.listEvents({
      identityId: identity.identityId,
      type: EventType.DEVICE_RISK,
    });
    assert.ok(events.length > 0, "the automation raised a DEVICE_RISK event");
  });

  test("without the automation switches the same browser is the same device, with no crawler flag", async () => {
    const quiet = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      ignoreDefaultArgs: ["--enable-automation"],
      args: ["--disable-blink-features=AutomationControlled"],
    });
    try {
      const person = await signalFrom(await quiet.newContext({ userAgent: CHROME_UA }));
      const robot = await signalFrom(await browser.newContext({ userAgent: CHROME_UA }));
      assert.equal(person.webdriver, false);
      assert.ok(!person.fingerprint.env.includes("crawler"), JSON.stringify(person.fingerprint.env));
      assert.ok(robot.fingerprint.env.includes("crawler"));
      assert.equal(person.deviceId, robot.deviceId, "env flags never change the device id");
    } finally {
      await quiet.close();
    }
  });
});
