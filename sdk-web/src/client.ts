/**
 * The browser's Gatehouse client: signals and click events over grpc-web with the publishable key,
 * carrying the device fingerprint from the WebAssembly core.
 *
 * @module
 */
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { DevicePlatform, EnvFlag, type DeviceSchema } from "./gen/gatehouse/v1/common_pb.js";
import {
  ClickEventType,
  DecisionService,
  type TrackEventResponse,
} from "./gen/gatehouse/v1/decision_pb.js";
import {
  ApprovalDecision,
  IdentityService,
  type ResolveApprovalResponse,
} from "./gen/gatehouse/v1/identity_pb.js";
import { SignalService, SignalSource, type SendSignalResponse } from "./gen/gatehouse/v1/signal_pb.js";
import { collectAttributes } from "./collect.js";
import {
  computeFingerprint,
  loadCore,
  RequestSigner,
  type BrowserAttributes,
  type EnvFlagName,
  type Fingerprint,
  type SigningKey,
  type WasmSource,
} from "./core.js";

/** How to reach Gatehouse. */
export interface GatehouseConfig {
  /** The server's grpc-web base URL (its gRPC port), for example `https://gatehouse.example:50051`. */
  endpoint: string;
  /** The tenant's publishable key (`pk_...`); the page's origin must be in the tenant's `allowed_origins`. */
  publishableKey: string;
  /** Where the WebAssembly core is: its URL or bytes. */
  wasm: WasmSource;
  /** A `fetch` to send with; every request is sent with `keepalive: true` so it survives the page. */
  fetch?: typeof globalThis.fetch;
  /** How long a call may take, in milliseconds; default 10 000. */
  timeoutMs?: number;
}

/** The ad click ids a landing page URL can carry. */
export const CLICK_ID_NAMES = ["gclid", "gbraid", "wbraid", "msclkid", "fbclid"] as const;

/** Ad click ids by name. */
export type ClickIds = Partial<Record<(typeof CLICK_ID_NAMES)[number], string>>;

/** The click ids in a URL's query string. */
export function clickIdsFromUrl(url: string | URL): ClickIds {
  const params = new URL(url).searchParams;
  const ids: ClickIds = {};
  for (const name of CLICK_ID_NAMES) {
    const value = params.get(name);
    if (value) ids[name] = value;
  }
  return ids;
}

/** What a visitor did on a page. */
export interface PageEvent {
  /** What happened. */
  type: "page_view" | "click" | "conversion";
  /** The page (or, for a click, the clicked link); the current page by default. */
  url?: string;
  /** The referring URL; `document.referrer` by default. */
  referrer?: string;
  /** The visitor id returned by an earlier event; a new one is assigned when absent. */
  visitorId?: string;
  /** The ad click ids, usually {@link clickIdsFromUrl} of the landing URL. */
  clickIds?: ClickIds;
  /** How far the visitor scrolled, in percent 0-100. */
  scrollDepth?: number;
  /** How long the page was in view, in milliseconds. */
  timeOnPageMs?: number;
  /** The visitor followed the honeypot link. */
  honeypotHit?: boolean;
}

/** A signal about the signed-in user. */
export interface BrowserSignal {
  /** The action, for example `login` or `checkout`. */
  type: string;
  /** Your id of the user (the identity must exist: your server's first signal creates it). */
  userId?: string;
  /** Gatehouse's identity id (`idt_...`). */
  identityId?: string;
  /** A retry with the same key within 24 hours is answered once; random by default. */
  idempotencyKey?: string;
}

/** What a caller can do about a failed call. */
export type GatehouseErrorKind =
  | "unauthorized"
  | "invalid_input"
  | "not_found"
  | "rate_limited"
  | "network"
  | "server";

/** A failed call, with the server's stable reason when it answered. */
export class GatehouseError extends Error {
  /** What kind of failure this is. */
  readonly kind: GatehouseErrorKind;
  /** The server's `x-gatehouse-reason`, for example `UNAUTHORIZED`; empty without an answer. */
  readonly reason: string;
  /** For `invalid_input`: the field the server named. */
  readonly field: string | undefined;
  /** For `rate_limited`: when the limit resets, Unix milliseconds. */
  readonly retryAtMs: number | undefined;

  /** Wraps the transport's error. */
  constructor(cause: unknown) {
    const error = ConnectError.from(cause);
    super(error.rawMessage, { cause });
    this.name = "GatehouseError";
    this.reason = error.metadata.get("x-gatehouse-reason") ?? "";
    this.kind = errorKind(error);
    this.field = this.kind === "invalid_input" ? error.rawMessage.split(":")[0] : undefined;
    const reset = Number(error.metadata.get("x-ratelimit-reset"));
    this.retryAtMs = this.kind === "rate_limited" && reset > 0 ? reset * 1000 : undefined;
  }
}

function errorKind(error: ConnectError): GatehouseErrorKind {
  switch (error.code) {
    case Code.Unauthenticated:
    case Code.PermissionDenied:
      return "unauthorized";
    case Code.InvalidArgument:
      return "invalid_input";
    case Code.NotFound:
      return "not_found";
    case Code.ResourceExhausted:
      return "rate_limited";
    // fetch rejects with a TypeError when the server was not reached, or when the browser refused
    // the answer (a CORS preflight that did not allow the page's origin); transports call it
    // UNKNOWN, like a server error of unknown kind.
    case Code.Unknown:
      return error.cause instanceof TypeError ? "network" : "server";
    case Code.Unavailable:
    case Code.DeadlineExceeded:
    case Code.Canceled:
      return "network";
    default:
      return "server";
  }
}

const ENV_FLAGS: Record<EnvFlagName, EnvFlag> = {
  root: EnvFlag.ROOT,
  hack: EnvFlag.HACK,
  virtualEnv: EnvFlag.VIRTUAL_ENV,
  crawler: EnvFlag.CRAWLER,
};

const EVENT_TYPES: Record<PageEvent["type"], ClickEventType> = {
  page_view: ClickEventType.PAGE_VIEW,
  click: ClickEventType.CLICK,
  conversion: ClickEventType.CONVERSION,
};

function randomKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function call<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    throw new GatehouseError(error);
  }
}

/** One browser's connection to Gatehouse: its fingerprint, and the calls a publishable key may make. */
export class Gatehouse {
  /** What the browser revealed. */
  readonly attributes: BrowserAttributes;
  /** The fingerprint the core computed from {@link attributes}. */
  readonly fingerprint: Fingerprint;
  readonly #signals: Client<typeof SignalService>;
  readonly #decisions: Client<typeof DecisionService>;
  readonly #identity: Client<typeof IdentityService>;
  readonly #timeoutMs: number;

  /** Loads the core, collects the browser's attributes and computes its fingerprint. */
  static async create(config: GatehouseConfig): Promise<Gatehouse> {
    const [attributes] = await Promise.all([collectAttributes(), loadCore(config.wasm)]);
    return new Gatehouse(config, attributes, computeFingerprint(attributes));
  }

  private constructor(config: GatehouseConfig, attributes: BrowserAttributes, fingerprint: Fingerprint) {
    this.attributes = attributes;
    this.fingerprint = fingerprint;
    this.#timeoutMs = config.timeoutMs ?? 10_000;
    const send = config.fetch ?? globalThis.fetch;
    const authenticate: Interceptor = (next) => (request) => {
      request.header.set("x-api-key", config.publishableKey);
      return next(request);
    };
    const transport = createGrpcWebTransport({
      baseUrl: config.endpoint,
      // keepalive: an event sent as the page goes away (pagehide, a followed link) still arrives.
      fetch: (input, init) => send(input, { ...init, keepalive: true }),
      interceptors: [authenticate],
    });
    this.#signals = createClient(SignalService, transport);
    this.#decisions = createClient(DecisionService, transport);
    this.#identity = createClient(IdentityService, transport);
  }

  /** The stable device id from the fingerprint. */
  get deviceId(): string {
    return this.fingerprint.deviceId;
  }

  /** The device as signals carry it. */
  device(): MessageInitShape<typeof DeviceSchema> {
    const a = this.attributes;
    return {
      deviceId: this.fingerprint.deviceId,
      platform: DevicePlatform.WEB,
      locale: a.locale ?? "",
      timezone: a.timezone ?? "",
      screenWidth: a.screenWidth ?? 0,
      screenHeight: a.screenHeight ?? 0,
      envFlags: this.fingerprint.env.map((name) => ENV_FLAGS[name]),
      components: this.fingerprint.components,
    };
  }

  /** Sends a signal about the signed-in user (`SignalService.SendSignal`, source BROWSER). */
  sendSignal(signal: BrowserSignal): Promise<SendSignalResponse> {
    return call(() =>
      this.#signals.sendSignal(
        {
          idempotencyKey: signal.idempotencyKey ?? randomKey(),
          type: signal.type,
          source: SignalSource.BROWSER,
          device: this.device(),
          identifiers: { userId: signal.userId ?? "", identityId: signal.identityId ?? "" },
        },
        { timeoutMs: this.#timeoutMs },
      ),
    );
  }

  /** Records what the visitor did (`DecisionService.TrackEvent`); the answer has the visitor id. */
  trackEvent(event: PageEvent): Promise<TrackEventResponse> {
    const ids = event.clickIds ?? {};
    return call(() =>
      this.#decisions.trackEvent(
        {
          type: EVENT_TYPES[event.type],
          url: event.url ?? location.href,
          referrer: event.referrer ?? document.referrer,
          visitorId: event.visitorId ?? "",
          gclid: ids.gclid ?? "",
          gbraid: ids.gbraid ?? "",
          wbraid: ids.wbraid ?? "",
          msclkid: ids.msclkid ?? "",
          fbclid: ids.fbclid ?? "",
          data: {
            userAgent: this.attributes.userAgent ?? "",
            scrollDepth: event.scrollDepth,
            timeOnPageMs: event.timeOnPageMs === undefined ? undefined : BigInt(Math.round(event.timeOnPageMs)),
            honeypotHit: event.honeypotHit ?? false,
            jsEnabled: true,
            timezone: this.attributes.timezone ?? "",
            deviceId: this.fingerprint.deviceId,
          },
        },
        { timeoutMs: this.#timeoutMs },
      ),
    );
  }

  /** Answers an approval your backend created (`IdentityService.ResolveApproval`). */
  resolveApproval(approvalToken: string, approve: boolean): Promise<ResolveApprovalResponse> {
    return call(() =>
      this.#identity.resolveApproval(
        {
          approvalToken,
          decision: approve ? ApprovalDecision.APPROVE : ApprovalDecision.DENY,
        },
        { timeoutMs: this.#timeoutMs },
      ),
    );
  }

  /** A signer of requests to your own backend, carrying this device's id and env flags. */
  signer(key: SigningKey): RequestSigner {
    return new RequestSigner(key, this.fingerprint);
  }
}
