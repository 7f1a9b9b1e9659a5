// Compiled by `npm run typecheck` (and against the packed package by test.sh): the declarations
// must describe what the README shows, with request and response types from proto/.
import {
  Gatehouse,
  GatehouseError,
  InvalidRequestError,
  UnauthorizedError,
  fingerprint,
  sign,
  type SendSignalRequestJson,
  type CheckVisitorResponseJson,
} from "gatehouse-sdk";
import gatehouse from "gatehouse-sdk";

const device = fingerprint({ platform: "web", userAgent: "Mozilla/5.0", screenWidth: 1920 });
const deviceId: string = device.deviceId;
const token: string = sign({
  keyId: "sdk_1",
  secret: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
  path: "/api/login",
  body: Buffer.from("{}"),
  deviceId,
  env: device.env,
});

export async function login(): Promise<string> {
  const gh = await Gatehouse.connect({ endpoint: "http://127.0.0.1:50051", apiKey: "sk_...", timeoutMs: 2000 });
  const signal: SendSignalRequestJson = {
    type: "login",
    source: "SIGNAL_SOURCE_SERVER",
    identifiers: { userId: "alice" },
    ip: "203.0.113.7",
    device: { deviceId },
  };
  try {
    const sent = await gh.signals.sendSignal(signal);
    const visitor: CheckVisitorResponseJson = await gh.blocker.checkVisitor({ ip: "203.0.113.7", ua: "Mozilla/5.0" });
    const blocked: boolean | undefined = visitor.ipStatus?.blockAccess;
    const verified = await gh.verify.verify({ partnerCode: "tn_1", path: "/api/login", sign: token });
    const status: string | undefined = verified.data?.status;
    await gh.admin.createTenant({ name: "shop" });
    return `${sent.signalId} ${blocked} ${status}`;
  } catch (error) {
    if (error instanceof InvalidRequestError) return `fix ${error.field}`;
    if (error instanceof UnauthorizedError) return error.reason;
    if (error instanceof GatehouseError) return error.message;
    throw error;
  }
}

// @ts-expect-error: requests are checked against the proto's JSON types
export const wrong: SendSignalRequestJson = { userId: "alice" };
export const viaDefault: typeof Gatehouse = gatehouse.Gatehouse;
export { token };
