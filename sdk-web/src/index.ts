/**
 * gatehouse-web: Gatehouse for browsers.
 *
 * ```ts
 * import { createGatehouse } from "gatehouse-web";
 * const gatehouse = await createGatehouse({ endpoint: "https://gatehouse.example:50051", publishableKey: "pk_..." });
 * await gatehouse.sendSignal({ type: "login", userId: "user-42" });
 * ```
 *
 * @module
 */
import { Gatehouse, type GatehouseConfig } from "./client.js";
import type { WasmSource } from "./core.js";

export {
  CLICK_ID_NAMES,
  clickIdsFromUrl,
  Gatehouse,
  GatehouseError,
  type BrowserSignal,
  type ClickIds,
  type GatehouseConfig,
  type GatehouseErrorKind,
  type PageEvent,
} from "./client.js";
export { automationHints, collectAttributes, hashText } from "./collect.js";
export {
  canonicalQuery,
  computeFingerprint,
  loadCore,
  loadCoreSync,
  RequestSigner,
  type BrowserAttributes,
  type EnvFlagName,
  type Fingerprint,
  type SignableRequest,
  type SigningKey,
  type WasmSource,
} from "./core.js";

/**
 * Connects this browser to Gatehouse: loads the WebAssembly core (by default
 * `gatehouse_sdk_wasm_bg.wasm` beside this module; bundlers that copy `new URL(..., import.meta.url)`
 * assets resolve it), collects the browser's attributes and computes its fingerprint.
 */
export function createGatehouse(
  config: Omit<GatehouseConfig, "wasm"> & { wasm?: WasmSource },
): Promise<Gatehouse> {
  return Gatehouse.create({
    ...config,
    wasm: config.wasm ?? new URL("gatehouse_sdk_wasm_bg.wasm", import.meta.url),
  });
}
