/**
 * The Gatehouse client core (Rust, `sdk-core`) compiled to WebAssembly: the device fingerprint
 * and request signatures, byte for byte the same as every other Gatehouse SDK computes them.
 *
 * @module
 */
import init, {
  canonicalQuery as wasmCanonicalQuery,
  fingerprint as wasmFingerprint,
  Signer as WasmSigner,
  initSync,
} from "../pkg/gatehouse_sdk_wasm.js";

/** Where the WebAssembly module comes from: its URL, a fetch `Response`, its bytes or a compiled module. */
export type WasmSource = URL | string | Response | BufferSource | WebAssembly.Module;

/** A device risk, as the core names it. */
export type EnvFlagName = "root" | "hack" | "virtualEnv" | "crawler";

/**
 * What a browser reveals about itself; what is absent was not collected. Which attributes feed
 * the device id and which only the env flags is decided by the core (see `sdk-core`'s
 * `fingerprint` module): versions and window size never change the id.
 */
export interface BrowserAttributes {
  /** OS name, for example `navigator.userAgentData.platform` (`Windows`). */
  osName?: string;
  /** OS version; only its major part feeds the id. */
  osVersion?: string;
  /** `navigator.userAgent`; only its browser and OS families feed the id. */
  userAgent?: string;
  /** `navigator.languages`. */
  languages?: string[];
  /** `navigator.language`. */
  locale?: string;
  /** The IANA time zone, for example `Europe/Berlin`. */
  timezone?: string;
  /** `screen.width` in CSS pixels. */
  screenWidth?: number;
  /** `screen.height` in CSS pixels. */
  screenHeight?: number;
  /** `devicePixelRatio`. */
  screenDensity?: number;
  /** `navigator.platform`. */
  browserPlatform?: string;
  /** `navigator.hardwareConcurrency`. */
  hardwareConcurrency?: number;
  /** `navigator.deviceMemory`, in GB (Chromium only). */
  deviceMemoryGb?: number;
  /** Hash of a rendered canvas. */
  canvasHash?: string;
  /** Unmasked WebGL vendor. */
  webglVendor?: string;
  /** Unmasked WebGL renderer. */
  webglRenderer?: string;
  /** Hash of an offline audio rendering. */
  audioHash?: string;
  /** Installed fonts found by the probe. */
  fonts?: string[];
  /** `navigator.webdriver`: the browser is driven by automation. */
  webdriver?: boolean;
  /** Headless and automation indications (for example `playwright`, `chromedriver`). */
  headlessHints?: string[];
  /** The browser's version (volatile). */
  browserVersion?: string;
  /** `innerWidth` (volatile). */
  windowWidth?: number;
  /** `innerHeight` (volatile). */
  windowHeight?: number;
}

/** The fingerprint of a browser. */
export interface Fingerprint {
  /** The stable device id, `dev_` and 32 hex digits. */
  deviceId: string;
  /** Component name to the 16-hex-digit hash of its value, for the components collected. */
  components: Record<string, string>;
  /** The device risks found. */
  env: EnvFlagName[];
  /** The same risks as the signature's `env_flags` byte. */
  envBits: number;
}

/** An SDK signing key (`AdminService.CreateSigningKey`). */
export interface SigningKey {
  /** The key id, sent in clear in every token. */
  keyId: string;
  /** The 32-byte secret, base64url without padding. */
  secret: string;
}

/** The parts of an HTTP request a token covers. */
export interface SignableRequest {
  /** The request path without the query string, for example `/api/login`. */
  path: string;
  /** The query string (`a=1&b=2`, a leading `?` allowed) or a JSON object text; empty by default. */
  query?: string;
  /** The raw body: bytes, or text that is hashed as UTF-8; empty by default. */
  body?: Uint8Array | string;
}

let loading: Promise<void> | undefined;

/**
 * Loads the WebAssembly core once; later calls return the same promise. Pass the module's URL
 * (the npm package's default is beside its JavaScript) or its bytes.
 */
export function loadCore(source: WasmSource): Promise<void> {
  return (loading ??= init({ module_or_path: source }).then(() => undefined));
}

/** Loads the WebAssembly core synchronously from its bytes or a compiled module. */
export function loadCoreSync(source: BufferSource | WebAssembly.Module): void {
  initSync({ module: source });
  loading = Promise.resolve();
}

/** Computes the fingerprint of `attributes` (after {@link loadCore}). */
export function computeFingerprint(attributes: BrowserAttributes): Fingerprint {
  return JSON.parse(wasmFingerprint(JSON.stringify(attributes))) as Fingerprint;
}

/** The canonical form of a query string or JSON object, as the signature hashes it. */
export function canonicalQuery(query: string): string {
  return wasmCanonicalQuery(query);
}

const encoder = /*@__PURE__*/ new TextEncoder();

/**
 * Signs requests to your own backend for one device, which passes the token to
 * `VerifyService.VerifySignature` with the request it received.
 */
export class RequestSigner {
  readonly #signer: WasmSigner;

  /** A signer for `key` that reports the device id and env flags of `fingerprint`. */
  constructor(key: SigningKey, fingerprint: Pick<Fingerprint, "deviceId" | "envBits">) {
    this.#signer = new WasmSigner(key.keyId, key.secret, fingerprint.deviceId, fingerprint.envBits);
  }

  /** A token over `request`, signed now with a fresh random nonce. */
  sign(request: SignableRequest): string {
    return this.signAt(request, Date.now(), crypto.getRandomValues(new Uint8Array(16)));
  }

  /** A token over `request` at `timestampMs` with `nonce` (16 bytes): for test vectors. */
  signAt(request: SignableRequest, timestampMs: number, nonce: Uint8Array): string {
    const body = request.body ?? new Uint8Array();
    return this.#signer.sign(
      request.path,
      request.query ?? "",
      typeof body === "string" ? encoder.encode(body) : body,
      BigInt(timestampMs),
      nonce,
    );
  }
}
