"use strict";

// The package's entry point: the native addon (built by napi from sdk-node/src) behind a thin
// layer that gives every RPC its own Promise-returning method and throws GatehouseError
// subclasses. The per-RPC methods come from generated/services.js, generated from proto/.

const native = require("../native/index.js");
const { SERVICES } = require("../generated/services.js");
const errors = require("./errors.js");

const { fromNative } = errors;

function rethrowing(fn) {
  const wrapped = (...args) => {
    try {
      return fn(...args);
    } catch (error) {
      throw fromNative(error);
    }
  };
  Object.defineProperty(wrapped, "name", { value: fn.name });
  return wrapped;
}

// 64-bit integers may be given as BigInt; the protobuf JSON mapping takes them as strings.
function jsonReplacer(_key, value) {
  return typeof value === "bigint" ? value.toString() : value;
}

const CONSTRUCTING = Symbol("Gatehouse.connect");

/**
 * A connection to a Gatehouse server with one property per service (`signals`, `identities`,
 * `decisions`, `blocker`, `smartUrls`, `verify`, `admin`) and one method per RPC. Create it
 * with `await Gatehouse.connect({ endpoint, apiKey })`.
 */
class Gatehouse {
  #native;

  /** Connects to a server; see `ConnectOptions`. Rejects with a `GatehouseError` subclass. */
  static async connect(options) {
    if (options === null || typeof options !== "object") {
      throw new errors.InvalidRequestError(
        "options: pass { endpoint, apiKey }, for example { endpoint: 'http://127.0.0.1:50051', apiKey: 'sk_...' }",
        "options",
      );
    }
    try {
      return new Gatehouse(CONSTRUCTING, await native.connect(options));
    } catch (error) {
      throw fromNative(error);
    }
  }

  constructor(token, client) {
    if (token !== CONSTRUCTING) {
      throw new TypeError("use `await Gatehouse.connect({ endpoint, apiKey })` to create a Gatehouse");
    }
    this.#native = client;
    for (const [property, { service, methods }] of Object.entries(SERVICES)) {
      const serviceClient = {};
      for (const [name, rpc] of Object.entries(methods)) {
        const method = `${service}/${rpc}`;
        serviceClient[name] = (request) => this.call(method, request);
      }
      Object.defineProperty(this, property, { value: Object.freeze(serviceClient), enumerable: true });
    }
  }

  /**
   * Calls any RPC by name (`"SignalService/SendSignal"`) with a request in the protobuf JSON
   * mapping; resolves to the response object. The per-service methods call this.
   */
  async call(method, request = {}) {
    let response;
    try {
      response = await this.#native.call(method, JSON.stringify(request ?? {}, jsonReplacer));
    } catch (error) {
      throw fromNative(error);
    }
    return JSON.parse(response);
  }
}

module.exports = {
  Gatehouse,
  fingerprint: rethrowing(native.fingerprint),
  sign: rethrowing(native.sign),
  signAt: rethrowing(native.signAt),
  parseToken: rethrowing(native.parseToken),
  verifyToken: rethrowing(native.verifyToken),
  methods: rethrowing(native.methods),
  SERVICES,
  GatehouseError: errors.GatehouseError,
  InvalidRequestError: errors.InvalidRequestError,
  UnauthorizedError: errors.UnauthorizedError,
  PaymentRequiredError: errors.PaymentRequiredError,
  NotFoundError: errors.NotFoundError,
  ConflictError: errors.ConflictError,
  RateLimitedError: errors.RateLimitedError,
  NetworkError: errors.NetworkError,
  ServerError: errors.ServerError,
};
