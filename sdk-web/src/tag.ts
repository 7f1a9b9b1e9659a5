/**
 * The drop-in tag for landing pages (built as `gatehouse-tag.js`):
 *
 * ```html
 * <script src="https://cdn.example/gatehouse-tag.js" data-key="pk_..."
 *         data-endpoint="https://gatehouse.example:50051" async></script>
 * ```
 *
 * It records the page view with the ad click ids of the URL, clicks on ad links, the scroll depth
 * and the time the page was in view (sent when the page is hidden or left, with keepalive
 * requests), a honeypot link that people cannot see, that JavaScript ran, and the device id. The
 * visitor id is kept in `localStorage`. `window.gatehouse` is a promise of the {@link Gatehouse}
 * instance, for signals; failures are dispatched on `window` as `gatehouse:error` events whose
 * `detail` is a `GatehouseError`.
 *
 * @module
 */
import { clickIdsFromUrl, Gatehouse, type PageEvent } from "./client.js";

declare global {
  interface Window {
    /** The tag's connection, once the core is loaded and the fingerprint computed. */
    gatehouse?: Promise<Gatehouse>;
  }
}

const VISITOR_KEY = "gatehouse.visitor";
/** The honeypot link leads to the same page with this parameter, for crawlers that follow it. */
const HONEYPOT_PARAM = "gh_hp";
/** Links to ad networks' click trackers, and links that carry click ids. */
const AD_LINK = /googleadservices\.com|doubleclick\.net|\/aclk\?|[?&](?:gclid|gbraid|wbraid|msclkid|fbclid)=/;

function visitorId(): string {
  try {
    const known = localStorage.getItem(VISITOR_KEY);
    if (known) return known;
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    const id = `vis_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
    localStorage.setItem(VISITOR_KEY, id);
    return id;
  } catch {
    // Storage blocked: the server assigns an id per event.
    return "";
  }
}

/** `element.matches`, false for a selector the browser cannot parse. */
function matches(element: Element, selector: string): boolean {
  try {
    return element.matches(selector);
  } catch {
    return false;
  }
}

function reportError(error: unknown): void {
  dispatchEvent(new CustomEvent("gatehouse:error", { detail: error }));
}

function start(script: HTMLScriptElement, publishableKey: string, endpoint: string): Promise<Gatehouse> {
  const landing = location.href;
  const clickIds = clickIdsFromUrl(landing);
  const visitor = visitorId();
  const adSelector = script.dataset.adSelector;
  let connected: Gatehouse | undefined;

  const track = (event: PageEvent) => {
    connected
      ?.trackEvent({ clickIds, ...event, visitorId: visitor || undefined })
      .catch(reportError);
  };

  // Time in view: counted only while the page is visible.
  let visibleMs = 0;
  let visibleSince: number | undefined = document.visibilityState === "visible" ? 0 : undefined;
  let sentMs = -1;
  let scrollDepth = 0;
  const measureScroll = () => {
    const height = Math.max(document.documentElement.scrollHeight, 1);
    const seen = Math.round(((scrollY + innerHeight) / height) * 100);
    scrollDepth = Math.max(scrollDepth, Math.min(100, seen));
  };
  const flush = () => {
    if (visibleSince !== undefined) {
      visibleMs += performance.now() - visibleSince;
      visibleSince = undefined;
    }
    // Before the core is loaded there is nothing to send with; the time keeps counting.
    if (!connected || Math.round(visibleMs) === sentMs) return;
    sentMs = Math.round(visibleMs);
    measureScroll();
    track({ type: "page_view", url: landing, timeOnPageMs: sentMs, scrollDepth });
  };
  addEventListener("scroll", measureScroll, { passive: true });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") visibleSince = performance.now();
    else flush();
  });
  addEventListener("pagehide", flush);

  // Clicks: on the honeypot, on ad links.
  let trap: HTMLAnchorElement | undefined;
  document.addEventListener(
    "click",
    (event) => {
      const link = (event.target as Element | null)?.closest?.("a[href]") as HTMLAnchorElement | null;
      if (!link) return;
      if (link === trap) {
        event.preventDefault();
        track({ type: "click", url: link.href, referrer: landing, honeypotHit: true });
      } else if (
        link.hasAttribute("data-gatehouse-ad") ||
        (adSelector !== undefined && matches(link, adSelector)) ||
        AD_LINK.test(link.href)
      ) {
        track({ type: "click", url: link.href, referrer: landing });
      }
    },
    true,
  );
  if (script.dataset.honeypot !== "off") {
    const plant = () => {
      trap = document.createElement("a");
      trap.href = `${location.pathname}?${HONEYPOT_PARAM}=1`;
      trap.textContent = "Special offer";
      trap.rel = "nofollow";
      trap.tabIndex = -1;
      trap.setAttribute("aria-hidden", "true");
      trap.style.cssText = "position:absolute;left:-10000px;top:0;width:1px;height:1px;overflow:hidden;opacity:0";
      document.body.appendChild(trap);
    };
    if (document.body) plant();
    else document.addEventListener("DOMContentLoaded", plant);
  }

  const wasm = script.dataset.wasm ?? new URL("gatehouse_sdk_wasm_bg.wasm", script.src);
  const ready = Gatehouse.create({ endpoint, publishableKey, wasm });
  ready.then(
    (gatehouse) => {
      connected = gatehouse;
      measureScroll();
      track({
        type: "page_view",
        url: landing,
        honeypotHit: new URL(landing).searchParams.has(HONEYPOT_PARAM),
      });
    },
    reportError,
  );
  return ready;
}

const script = document.currentScript as HTMLScriptElement | null;
const key = script?.dataset.key;
const endpoint = script?.dataset.endpoint;
if (script && key && endpoint) {
  window.gatehouse = start(script, key, endpoint);
} else {
  reportError(new Error("gatehouse-tag.js needs data-key and data-endpoint on its script element"));
}
