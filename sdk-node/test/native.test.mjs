// The binding glue without a server: conversions of fingerprint and signature inputs and
// outputs, the cross-language agreements (sdk-core's known answers and signature test vectors),
// errors as GatehouseError subclasses, and the generated per-RPC surface.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, it } from "node:test";

import * as esm from "gatehouse-sdk";
import {
  Gatehouse,
  GatehouseError,
  InvalidRequestError,
  NetworkError,
  SERVICES,
  fingerprint,
  methods,
  parseToken,
  sign,
  signAt,
  verifyToken,
} from "gatehouse-sdk";

const require = createRequire(import.meta.url);
const VECTORS = new URL("../../sdk-core/tests/vectors/signature-v1.json", import.meta.url);
const SECRET = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

// The same devices as sdk-core's fingerprint known-answer test (fingerprint.rs), so the ids
// must be the same.
const ANDROID_PHONE = {
  platform: "android",
  osName: "Android",
  osVersion: "14.0.2",
  locale: "en_US",
  timezone: "America/Chicago",
  screenWidth: 1080,
  screenHeight: 2400,
  screenDensity: 2.625,
  cpuCount: 8,
  memoryMb: 7634,
  installId: "3f9a1c0e5b7d4a21",
  manufacturer: "samsung",
  model: "SM-S911B",
  buildTags: "release-keys",
  batteryLevel: 0.81,
};
const CHROME_UA =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
const DESKTOP_CHROME = {
  platform: "web",
  osName: "Windows",
  osVersion: "10.0",
  locale: "de-DE",
  timezone: "Europe/Berlin",
  screenWidth: 2560,
  screenHeight: 1440,
  screenDensity: 1.25,
  userAgent: CHROME_UA,
  languages: ["de-DE", "de", "en"],
  browserPlatform: "Win32",
  hardwareConcurrency: 12,
  deviceMemoryGb: 8,
  canvasHash: "a41f0c93d2e7b856",
  webglVendor: "Google Inc. (NVIDIA)",
  webglRenderer: "ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11 vs_5_0 ps_5_0, D3D11)",
  audioHash: "124.04347527516074",
  fonts: ["Arial", "Calibri", "Cambria", "Segoe UI", "Verdana"],
  browserVersion: "126.0.6478.127",
  windowWidth: 1920,
  windowHeight: 1017,
};

function envOf(names) {
  return {
    root: names.includes("root"),
    hack: names.includes("hack"),
    virtualEnv: names.includes("virtualEnv"),
    crawler: names.includes("crawler"),
  };
}

describe("fingerprint", () => {
  it("gives sdk-core's known device ids for a phone and a desktop browser", () => {
    const phone = fingerprint(ANDROID_PHONE);
    assert.equal(phone.deviceId, "dev_c27ce081c8f35d0578ea25208f2cf54f");
    assert.deepEqual(phone.env, { root: false, hack: false, virtualEnv: false, crawler: false });
    assert.equal(phone.components.install_id.length, 16);
    const browser = fingerprint(DESKTOP_CHROME);
    assert.equal(browser.deviceId, "dev_2a04a3365beb70b02ccf14b897237355");
    assert.ok("canvas" in browser.components && "fonts" in browser.components);
    assert.ok(!("install_id" in browser.components));
  });

  it("reports automation as an env flag without changing the id", () => {
    const driven = fingerprint({ ...DESKTOP_CHROME, webdriver: true, headlessHints: ["HeadlessChrome"] });
    assert.equal(driven.deviceId, "dev_2a04a3365beb70b02ccf14b897237355");
    assert.equal(driven.env.crawler, true);
    const rooted = fingerprint({ ...ANDROID_PHONE, buildTags: "test-keys", hookingHints: ["frida"] });
    assert.equal(rooted.env.root, true);
    assert.equal(rooted.env.hack, true);
  });

  it("refuses a wrong type with an InvalidRequestError naming the field", () => {
    assert.throws(
      () => fingerprint({ screenWidth: "wide" }),
      (error) => error instanceof InvalidRequestError && error.field === "screenWidth",
    );
  });
});

describe("signature", () => {
  const vectors = JSON.parse(readFileSync(VECTORS, "utf8"));

  it("reproduces every sdk-core test vector", () => {
    assert.ok(vectors.length >= 8, `only ${vectors.length} vectors`);
    for (const vector of vectors) {
      const input = {
        keyId: vector.key_id,
        secret: vector.secret_b64url,
        path: vector.path,
        query: vector.query,
        body: Buffer.from(vector.body_b64, "base64"),
        deviceId: vector.device_id,
        env: envOf(vector.env),
      };
      const token = signAt(input, vector.timestamp_ms, Buffer.from(vector.nonce_hex, "hex"));
      assert.equal(token, vector.token, vector.name);

      const parsed = parseToken(token);
      assert.equal(parsed.version, 1, vector.name);
      assert.equal(parsed.keyId, vector.key_id, vector.name);
      assert.equal(parsed.timestampMs, vector.timestamp_ms, vector.name);
      assert.equal(parsed.nonce.toString("hex"), vector.nonce_hex, vector.name);
      assert.equal(parsed.deviceId, vector.device_id, vector.name);
      assert.deepEqual(parsed.env, envOf(vector.env), vector.name);
      const bytes = Buffer.from(vector.token_hex, "hex");
      assert.deepEqual(parsed.mac, bytes.subarray(bytes.length - 32), vector.name);

      const verified = verifyToken({ ...input, token, nowMs: vector.timestamp_ms });
      assert.deepEqual(verified, { valid: true, code: 1200, message: "pass" }, vector.name);
    }
  });

  it("signs a body given as a string like the same bytes in a Buffer", () => {
    const json = vectors.find((vector) => vector.name === "post-json-query-same-as-string");
    const token = signAt(
      {
        keyId: json.key_id,
        secret: json.secret_b64url,
        path: json.path,
        query: json.query,
        body: Buffer.from(json.body_b64, "base64").toString("utf8"),
        deviceId: json.device_id,
        env: { root: true },
      },
      json.timestamp_ms,
      new Uint8Array(Buffer.from(json.nonce_hex, "hex")),
    );
    assert.equal(token, json.token);
  });

  it("verifies a fresh token and names what does not match", () => {
    const request = { keyId: "sgk_1", secret: SECRET, path: "/api/login", query: "b=2&a=1", body: '{"user":"alice"}' };
    const token = sign({ ...request, deviceId: "dev_0123", env: { virtualEnv: true } });
    assert.notEqual(token, sign(request), "a new nonce each time");
    const parsed = parseToken(token);
    assert.ok(Math.abs(parsed.timestampMs - Date.now()) < 60_000);
    assert.deepEqual(parsed.env, { root: false, hack: false, virtualEnv: true, crawler: false });

    const check = (changes) => verifyToken({ ...request, token, ...changes });
    assert.equal(check({}).code, 1200);
    assert.equal(check({ query: "?a=1&b=2" }).code, 1200, "the query is compared in canonical form");
    assert.equal(check({ secret: SECRET.replace("AAEC", "AAED") }).code, 1401);
    assert.equal(check({ nowMs: Date.now() + 10 * 60_000 }).code, 1501);
    assert.equal(check({ path: "/api/logout" }).code, 1502);
    assert.equal(check({ body: '{"user":"mallory"}' }).code, 1503);
    const garbage = check({ token: "not a token!" });
    assert.equal(garbage.valid, false);
    assert.equal(garbage.code, 1301);
  });

  it("throws InvalidRequestError naming the bad argument", () => {
    const good = { keyId: "sgk_1", secret: SECRET, path: "/" };
    const cases = [
      [() => sign({ ...good, secret: "c2hvcnQ" }), "secret"],
      [() => sign({ ...good, keyId: "no spaces allowed" }), "keyId"],
      [() => sign({ ...good, deviceId: "x".repeat(65) }), "deviceId"],
      [() => sign({ ...good, query: '{"a": null}' }), "query"],
      [() => sign({ secret: SECRET, path: "/" }), "keyId"],
      [() => signAt(good, 0, Buffer.alloc(15)), "nonce"],
      [() => parseToken("AAAA"), "token"],
    ];
    for (const [call, field] of cases) {
      assert.throws(call, (error) => {
        assert.ok(error instanceof InvalidRequestError, `${field}: ${error}`);
        assert.ok(error instanceof GatehouseError && error instanceof Error);
        assert.equal(error.reason, "INVALID_REQUEST");
        assert.equal(error.field, field);
        assert.equal(error.name, "InvalidRequestError");
        return true;
      });
    }
  });
});

describe("client surface", () => {
  it("has one method per RPC of the contract, generated from proto/", async () => {
    // The addon lists the RPCs compiled into sdk-core; the package's table was generated from
    // proto/ by another route, so the two agree only if the generation missed nothing.
    const rpcs = methods();
    assert.ok(rpcs.length >= 41, `${rpcs.length} RPCs`);
    const generated = Object.values(SERVICES).flatMap(({ service, methods: byName }) =>
      Object.values(byName).map((rpc) => `${service}/${rpc}`),
    );
    assert.deepEqual([...generated].sort(), [...rpcs].sort());

    // Lazy: nothing listens on port 1, and nothing is called.
    const gh = await Gatehouse.connect({ endpoint: "http://127.0.0.1:1", apiKey: "sk_test", lazy: true });
    let count = 0;
    for (const [property, { methods: byName }] of Object.entries(SERVICES)) {
      for (const name of Object.keys(byName)) {
        assert.equal(typeof gh[property][name], "function", `${property}.${name}`);
        count += 1;
      }
    }
    assert.equal(count, rpcs.length);
    for (const [property, name] of [
      ["signals", "sendSignal"],
      ["identities", "getIdentityStatus"],
      ["decisions", "trackEvent"],
      ["blocker", "checkVisitor"],
      ["smartUrls", "check"],
      ["verify", "verify"],
      ["admin", "createTenant"],
    ]) {
      assert.equal(typeof gh[property][name], "function", `${property}.${name}`);
    }
  });

  it("cannot be constructed without connect", () => {
    assert.throws(() => new Gatehouse(), TypeError);
  });

  it("rejects a call to an unreachable server with NetworkError", async () => {
    const gh = await Gatehouse.connect({
      endpoint: "http://127.0.0.1:1",
      apiKey: "sk_test",
      lazy: true,
      retry: { maxAttempts: 2, initialBackoffMs: 1 },
    });
    await assert.rejects(gh.decisions.getStats({}), (error) => {
      assert.ok(error instanceof NetworkError, String(error));
      assert.equal(error.reason, "NETWORK");
      return true;
    });
    await assert.rejects(
      Gatehouse.connect({ endpoint: "http://127.0.0.1:1", apiKey: "sk_test", connectTimeoutMs: 500 }),
      NetworkError,
    );
  });

  it("refuses bad options and requests before sending anything", async () => {
    await assert.rejects(
      Gatehouse.connect({ endpoint: "http://127.0.0.1:1", apiKey: " " }),
      (error) => error instanceof InvalidRequestError && error.field === "api_key",
    );
    await assert.rejects(Gatehouse.connect(), (error) => error instanceof InvalidRequestError && error.field === "options");
    const gh = await Gatehouse.connect({ endpoint: "http://127.0.0.1:1", apiKey: "sk_test", lazy: true });
    await assert.rejects(
      gh.signals.sendSignal({ noSuchField: 1 }),
      (error) => error instanceof InvalidRequestError && error.field === "request" && /noSuchField/.test(error.message),
    );
    await assert.rejects(
      gh.call("SignalService/Nope", {}),
      (error) => error instanceof InvalidRequestError && error.field === "method",
    );
  });

  it("is the same module from require and import", () => {
    const cjs = require("gatehouse-sdk");
    assert.equal(cjs.Gatehouse, esm.Gatehouse);
    assert.equal(cjs.fingerprint, esm.fingerprint);
    assert.equal(esm.default.UnauthorizedError, esm.UnauthorizedError);
  });
});
