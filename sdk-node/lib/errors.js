"use strict";

// The errors every function and call of the package throws: one class per stable reason of
// sdk-core's `ClientError::reason()`, so callers can `catch (e) { if (e instanceof
// UnauthorizedError) ... }` or switch on `e.reason`.

/** Base of every Gatehouse error; `reason` is the server's stable reason, or `NETWORK`. */
class GatehouseError extends Error {
  constructor(message, reason, options) {
    super(message, options);
    this.name = new.target.name;
    this.reason = reason;
  }
}

/** A field of the request is invalid (`INVALID_REQUEST`); `field` names it when known. */
class InvalidRequestError extends GatehouseError {
  constructor(message, field = null, options) {
    super(message, "INVALID_REQUEST", options);
    this.field = field;
  }
}

/** The API key is missing, wrong, revoked, or may not make this call (`UNAUTHORIZED`). */
class UnauthorizedError extends GatehouseError {
  constructor(message, options) {
    super(message, "UNAUTHORIZED", options);
  }
}

/** The tenant's service or traffic is switched off (`PAYMENT_REQUIRED`). */
class PaymentRequiredError extends GatehouseError {
  constructor(message, options) {
    super(message, "PAYMENT_REQUIRED", options);
  }
}

/** The named resource does not exist (`NOT_FOUND`). */
class NotFoundError extends GatehouseError {
  constructor(message, options) {
    super(message, "NOT_FOUND", options);
  }
}

/** The resource already exists (`CONFLICT`). */
class ConflictError extends GatehouseError {
  constructor(message, options) {
    super(message, "CONFLICT", options);
  }
}

/** Over the tenant's per-minute limit (`RATE_LIMITED`); retry after `retryAfterSeconds`. */
class RateLimitedError extends GatehouseError {
  constructor(message, retryAfterSeconds, options) {
    super(message, "RATE_LIMITED", options);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The server could not be reached, or the connection broke (`NETWORK`). */
class NetworkError extends GatehouseError {
  constructor(message, options) {
    super(message, "NETWORK", options);
  }
}

/** The server failed (`INTERNAL`); the details are in the server's log. */
class ServerError extends GatehouseError {
  constructor(message, options) {
    super(message, "INTERNAL", options);
  }
}

const BY_REASON = {
  INVALID_REQUEST: (d) => new InvalidRequestError(d.message, d.field ?? null),
  UNAUTHORIZED: (d) => new UnauthorizedError(d.message),
  PAYMENT_REQUIRED: (d) => new PaymentRequiredError(d.message),
  NOT_FOUND: (d) => new NotFoundError(d.message),
  CONFLICT: (d) => new ConflictError(d.message),
  RATE_LIMITED: (d) => new RateLimitedError(d.message, d.retryAfterSeconds ?? null),
  NETWORK: (d) => new NetworkError(d.message),
  INTERNAL: (d) => new ServerError(d.message),
};

// What napi itself throws when an argument has the wrong type or a required field is missing.
const NAPI_ARGUMENT_CODES = new Set([
  "InvalidArg",
  "ObjectExpected",
  "StringExpected",
  "NameExpected",
  "FunctionExpected",
  "NumberExpected",
  "BooleanExpected",
  "ArrayExpected",
  "BigintExpected",
]);

/**
 * Turns an error thrown by the native addon into its `GatehouseError` subclass. The addon writes
 * `{"reason", "message", "field"?, "retryAfterSeconds"?}` as JSON into the message (see
 * sdk-node/src/error.rs); napi's own argument errors become `InvalidRequestError`s.
 */
function fromNative(error) {
  if (!(error instanceof Error) || error instanceof GatehouseError) return error;
  if (error.message.startsWith("{")) {
    let details;
    try {
      details = JSON.parse(error.message);
    } catch {
      return error;
    }
    const make = BY_REASON[details?.reason];
    return make ? make(details) : error;
  }
  if (NAPI_ARGUMENT_CODES.has(error.code)) {
    // "Missing field `keyId`", "Failed to convert ... on SignInput.path": name the field if napi did.
    const named = /field `([^`]+)`/.exec(error.message) ?? / on \w+\.(\w+)$/.exec(error.message);
    const field = named?.[1] ?? null;
    return new InvalidRequestError(error.message, field, { cause: error });
  }
  return error;
}

module.exports = {
  GatehouseError,
  InvalidRequestError,
  UnauthorizedError,
  PaymentRequiredError,
  NotFoundError,
  ConflictError,
  RateLimitedError,
  NetworkError,
  ServerError,
  fromNative,
};
