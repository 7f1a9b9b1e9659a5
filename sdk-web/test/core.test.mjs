// The WebAssembly build of the core, loaded in Node through the package's own wrapper: it must
// reproduce sdk-core's signature test vectors and fingerprint known answers byte for byte.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  canonicalQuery,
  computeFingerprint,
  loadCoreSync,
  RequestSigner,
} from "../dist/esm/src/core.js";

const root = new URL("..", import.meta.url);
loadCoreSync(readFileSync(new URL("dist/esm/src/gatehouse_sdk_wasm_bg.wasm", root)));

const ENV_BITS = { root: 1, hack: 2, virtualEnv: 4, crawler: 8 };

test("signature vectors of sdk-core (signature-v1.json)", () => {
  const vectors = JSON.parse(readFileSync(new URL("../sdk-core/tests/vectors/signature-v1.json", root), "utf8"));
  assert.ok(vectors.length >= 8, "at least 8 vectors");
  for (const v of vectors) {
    assert.equal(canonicalQuery(v.query), v.canonical_query, `${v.name}: canonical query`);
    const envBits = v.env.reduce((bits, name) => bits | ENV_BITS[name], 0);
    assert.equal(envBits, v.env_bits, `${v.name}: env bits`);
    const signer = new RequestSigner({ keyId: v.key_id, secret: v.secret_b64url }, { deviceId: v.device_id, envBits });
    const token = signer.signAt(
      { path: v.path, query: v.query, body: new Uint8Array(Buffer.from(v.body_b64, "base64")) },
      v.timestamp_ms,
      new Uint8Array(Buffer.from(v.nonce_hex, "hex")),
    );
    assert.equal(token, v.token, `${v.name}: token`);
    assert.equal(Buffer.from(token, "base64url").toString("hex"), v.token_hex, `${v.name}: token bytes`);
  }
});

test("sign() uses the clock and a fresh nonce; text bodies are hashed as UTF-8", () => {
  const signer = new RequestSigner({ keyId: "k1", secret: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" }, { deviceId: "dev_x", envBits: 8 });
  const before = Date.now();
  const [a, b] = [signer.sign({ path: "/login", body: "{}" }), signer.sign({ path: "/login", body: "{}" })];
  assert.notEqual(a, b, "fresh nonces");
  const bytes = Buffer.from(a, "base64url");
  const timestamp = Number(bytes.readBigInt64BE(4)); // after version, key id length and "k1"
  assert.ok(timestamp >= before && timestamp <= Date.now(), "signed now");
  assert.equal(bytes[2 + 2 + 8 + 16 + 1 + 5], 8, "env flags byte carries crawler");
  const nonce = new Uint8Array(16);
  assert.equal(
    signer.signAt({ path: "/login", body: "{}" }, 1, nonce),
    signer.signAt({ path: "/login", body: new TextEncoder().encode("{}") }, 1, nonce),
  );
});

test("bad input is refused with a message that names it", () => {
  const key = { keyId: "k1", secret: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" };
  assert.throws(() => new RequestSigner({ ...key, secret: "short" }, { deviceId: "", envBits: 0 }), /invalid secret/);
  assert.throws(() => new RequestSigner({ ...key, keyId: "a.b" }, { deviceId: "", envBits: 0 }), /invalid key_id/);
  assert.throws(() => new RequestSigner(key, { deviceId: "", envBits: 16 }), /invalid env_bits/);
  const signer = new RequestSigner(key, { deviceId: "", envBits: 0 });
  assert.throws(() => signer.signAt({ path: "/" }, 1, new Uint8Array(15)), /invalid nonce/);
  assert.throws(() => new RequestSigner(key, { deviceId: "tab\t", envBits: 0 }).sign({ path: "/" }), /invalid device_id/);
  assert.throws(() => canonicalQuery('{"a":[1]}'), /invalid query/);
  assert.throws(() => computeFingerprint({ userAgnet: "x" }), /unknown field `userAgnet`/);
});

test("fingerprint known answer of sdk-core (desktop Chrome) and its env flags", () => {
  const chrome = {
    osName: "Windows",
    osVersion: "10.0",
    locale: "de-DE",
    timezone: "Europe/Berlin",
    screenWidth: 2560,
    screenHeight: 1440,
    screenDensity: 1.25,
    userAgent:
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
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
  const fingerprint = computeFingerprint(chrome);
  // sdk-core/src/fingerprint.rs `known_answers`: the same attributes give the same id in Rust.
  assert.equal(fingerprint.deviceId, "dev_2a04a3365beb70b02ccf14b897237355");
  assert.deepEqual(fingerprint.env, []);
  assert.equal(fingerprint.envBits, 0);
  for (const hash of Object.values(fingerprint.components)) assert.match(hash, /^[0-9a-f]{16}$/);

  const automated = computeFingerprint({ ...chrome, webdriver: true, windowWidth: 800, browserVersion: "127.0.1.2" });
  assert.equal(automated.deviceId, fingerprint.deviceId, "volatile attributes and env flags keep the id");
  assert.deepEqual(automated.env, ["crawler"]);
  assert.equal(automated.envBits, 8);
  const software = computeFingerprint({ ...chrome, webglRenderer: "ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device))" });
  assert.deepEqual(software.env, ["virtualEnv"]);
  assert.notEqual(software.deviceId, fingerprint.deviceId);
});
