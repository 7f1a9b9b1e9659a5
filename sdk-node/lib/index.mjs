// ES module entry: the same objects as the CommonJS entry (one native addon instance).
import gatehouse from "./index.js";

export const {
  Gatehouse,
  fingerprint,
  sign,
  signAt,
  parseToken,
  verifyToken,
  methods,
  SERVICES,
  GatehouseError,
  InvalidRequestError,
  UnauthorizedError,
  PaymentRequiredError,
  NotFoundError,
  ConflictError,
  RateLimitedError,
  NetworkError,
  ServerError,
} = gatehouse;

export default gatehouse;
