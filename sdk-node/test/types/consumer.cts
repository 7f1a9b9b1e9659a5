// The CommonJS view of the same declarations.
import gatehouse = require("gatehouse-sdk");

export async function check(): Promise<boolean | undefined> {
  const gh = await gatehouse.Gatehouse.connect({ endpoint: "http://127.0.0.1:50051", apiKey: "sk_..." });
  const response = await gh.blocker.checkVisitor({ ip: "203.0.113.7", ua: "curl/8", url: "/" });
  const rpcs: string[] = gatehouse.methods();
  const parsed = gatehouse.parseToken("x");
  return response.ipStatus?.isBot ?? (rpcs.length > 0 && parsed.keyId === "");
}
