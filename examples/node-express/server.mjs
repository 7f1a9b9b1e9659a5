// Starts the example: `npm start` with GATEHOUSE_ENDPOINT (default http://127.0.0.1:50051),
// GATEHOUSE_SECRET_KEY (the tenant's sk_... key) and WEBHOOK_SECRET (the whsec_... secret that
// AdminService.CreateWebhook returned); PORT (3000) and HOST (127.0.0.1) say where to listen,
// TRUST_PROXY which proxies may set X-Forwarded-For (Express's "trust proxy"; loopback).

import { Gatehouse } from "gatehouse-sdk";

import { createApp } from "./app.mjs";

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set; see examples/node-express in the README`);
    process.exit(2);
  }
  return value;
}

const endpoint = process.env.GATEHOUSE_ENDPOINT ?? "http://127.0.0.1:50051";
const gatehouse = await Gatehouse.connect({
  endpoint,
  apiKey: required("GATEHOUSE_SECRET_KEY"),
  timeoutMs: 2000,
  // Start even while Gatehouse is down; calls fail open until it is back.
  lazy: true,
});
const app = createApp({
  gatehouse,
  webhookSecret: required("WEBHOOK_SECRET"),
  trustProxy: process.env.TRUST_PROXY ?? "loopback",
});

const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 3000);
const server = app.listen(port, host, (error) => {
  if (error) throw error;
  console.info(`listening on http://${host}:${port} (Gatehouse at ${endpoint})`);
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
