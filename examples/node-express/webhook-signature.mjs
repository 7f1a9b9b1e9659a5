// Checks the signature Gatehouse puts on every webhook delivery, as documented in
// server/src/webhooks/signature.rs:
//
//   x-gatehouse-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//
// The key is the whole secret string, `whsec_` prefix included. The timestamp is signed with the
// body, so a delivery replayed outside the tolerance window is refused. Unknown parts are
// ignored (a later scheme may be added beside v1); any matching v1 value is accepted.

import { createHmac, timingSafeEqual } from "node:crypto";

/** The header that carries the signature. */
export const SIGNATURE_HEADER = "x-gatehouse-signature";

/**
 * True when `header` is a valid signature of `body` (the raw bytes received) made with `secret`
 * within `toleranceSeconds` of `nowSeconds`. Compares in constant time.
 */
export function verifyWebhookSignature(
  secret,
  header,
  body,
  { nowSeconds = Math.floor(Date.now() / 1000), toleranceSeconds = 300 } = {},
) {
  if (typeof secret !== "string" || secret === "" || typeof header !== "string") return false;
  let timestamp = null;
  const candidates = [];
  for (const part of header.split(",")) {
    const trimmed = part.trim();
    const equals = trimmed.indexOf("=");
    if (equals < 0) continue;
    const [name, value] = [trimmed.slice(0, equals), trimmed.slice(equals + 1)];
    if (name === "t") {
      // Two timestamps: which one was signed is ambiguous, so neither is trusted.
      if (timestamp !== null || !/^\d{1,15}$/.test(value)) return false;
      timestamp = Number(value);
    } else if (name === "v1" && /^[0-9a-fA-F]{64}$/.test(value)) {
      candidates.push(Buffer.from(value, "hex"));
    }
  }
  if (timestamp === null || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest();
  // Every candidate is compared, so the time taken does not tell which one matched.
  return candidates.reduce((matched, candidate) => timingSafeEqual(candidate, expected) || matched, false);
}
