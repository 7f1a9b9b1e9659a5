/**
 * Collects what a browser reveals about itself, for the core's fingerprint. Every probe is
 * guarded: a blocked or missing API leaves its attribute out instead of failing.
 *
 * @module
 */
import type { BrowserAttributes } from "./core.js";

/** Fonts the probe looks for: common on one OS family and rare on others. */
const FONT_PROBES = [
  "Arial Black", "Bahnschrift", "Calibri", "Cambria", "Candara", "Century Gothic", "Comic Sans MS",
  "Consolas", "Constantia", "Corbel", "Courier New", "DejaVu Sans", "Franklin Gothic Medium",
  "Gabriola", "Georgia", "Helvetica Neue", "Impact", "Liberation Mono", "Liberation Sans",
  "Lucida Console", "Lucida Grande", "Malgun Gothic", "Menlo", "Meiryo", "Microsoft YaHei",
  "Monaco", "MS Gothic", "Noto Color Emoji", "Noto Sans", "Palatino", "Roboto", "Segoe UI",
  "SimSun", "Tahoma", "Trebuchet MS", "Ubuntu", "Verdana", "Wingdings",
];
const FONT_BASES = ["monospace", "sans-serif", "serif"];

/**
 * A 53-bit string hash (cyrb53) as hex: the canvas and audio outputs are long, and the core hashes
 * the result again with SHA-256, so this only has to be compact and spread well.
 */
export function hashText(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, "0");
}

function attempt<T>(probe: () => T): T | undefined {
  try {
    return probe();
  } catch {
    return undefined;
  }
}

function canvasHash(): string | undefined {
  return attempt(() => {
    const canvas = document.createElement("canvas");
    canvas.width = 240;
    canvas.height = 60;
    const context = canvas.getContext("2d");
    if (!context) return undefined;
    context.textBaseline = "top";
    context.fillStyle = "#f60";
    context.fillRect(100, 1, 62, 20);
    context.fillStyle = "#069";
    context.font = "14px 'Arial'";
    context.fillText("Gatehouse, fingerprint \u{1F6E1}\u00e9", 2, 15);
    context.fillStyle = "rgba(102, 204, 0, 0.7)";
    context.beginPath();
    context.arc(50, 40, 18, 0, Math.PI * 2);
    context.fill();
    return hashText(canvas.toDataURL());
  });
}

function webgl(): { webglVendor?: string; webglRenderer?: string } {
  return (
    attempt(() => {
      const gl = document.createElement("canvas").getContext("webgl");
      if (!gl) return {};
      const info = gl.getExtension("WEBGL_debug_renderer_info");
      return {
        webglVendor: String(gl.getParameter(info ? info.UNMASKED_VENDOR_WEBGL : gl.VENDOR)),
        webglRenderer: String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER)),
      };
    }) ?? {}
  );
}

/** Renders a compressed oscillator offline; the samples differ with the audio stack. */
async function audioHash(): Promise<string | undefined> {
  const Offline =
    globalThis.OfflineAudioContext ??
    (globalThis as { webkitOfflineAudioContext?: typeof OfflineAudioContext })
      .webkitOfflineAudioContext;
  if (!Offline) return undefined;
  try {
    const context = new Offline(1, 5000, 44100);
    const oscillator = context.createOscillator();
    oscillator.type = "triangle";
    oscillator.frequency.value = 10000;
    const compressor = context.createDynamicsCompressor();
    compressor.threshold.value = -50;
    compressor.knee.value = 40;
    compressor.ratio.value = 12;
    compressor.attack.value = 0;
    compressor.release.value = 0.25;
    oscillator.connect(compressor);
    compressor.connect(context.destination);
    oscillator.start(0);
    // Some browsers never finish rendering in a background tab: give up after a second.
    const rendered = await Promise.race([
      context.startRendering(),
      new Promise<undefined>((resolve) => setTimeout(resolve, 1000)),
    ]);
    if (!rendered) return undefined;
    const samples = rendered.getChannelData(0);
    let sum = 0;
    for (let i = 4500; i < samples.length; i++) sum += Math.abs(samples[i] ?? 0);
    return sum.toString();
  } catch {
    return undefined;
  }
}

/** Fonts whose text width differs from every generic fallback's. */
function fonts(): string[] | undefined {
  return attempt(() => {
    const context = document.createElement("canvas").getContext("2d");
    if (!context) return undefined;
    const sample = "mmmmmmmmmmlliWw@#0";
    const width = (font: string) => {
      context.font = `72px ${font}`;
      return context.measureText(sample).width;
    };
    const bases = FONT_BASES.map(width);
    return FONT_PROBES.filter((font) =>
      FONT_BASES.some((base, i) => width(`'${font}', ${base}`) !== bases[i]),
    );
  });
}

/** Traces that automation tools leave in the page. */
export function automationHints(): string[] {
  const hints: string[] = [];
  const win = window as unknown as Record<string, unknown>;
  const doc = document as unknown as Record<string, unknown>;
  const has = (target: Record<string, unknown>, names: string[]) =>
    names.some((name) => name in target);
  if (has(win, ["callPhantom", "_phantom"])) hints.push("phantomjs");
  if (has(win, ["__nightmare"])) hints.push("nightmare");
  if (has(win, ["__playwright__binding__", "__pwInitScripts"])) hints.push("playwright");
  if (
    has(doc, ["__selenium_unwrapped", "__webdriver_evaluate", "__driver_evaluate", "__webdriver_script_fn", "__fxdriver_unwrapped"]) ||
    has(win, ["_selenium", "callSelenium", "_Selenium_IDE_Recorder"]) ||
    ["selenium", "webdriver", "driver"].some((name) => document.documentElement?.hasAttribute(name))
  ) {
    hints.push("selenium");
  }
  const keys = attempt(() => Object.keys(win).concat(Object.keys(doc))) ?? [];
  if (keys.some((key) => /^\$?cdc_|^\$wdc_/.test(key))) hints.push("chromedriver");
  if (navigator.languages?.length === 0) hints.push("no_languages");
  return hints;
}

function browserVersion(userAgent: string): string | undefined {
  return /(?:Edg|OPR|Firefox|Chrome|Chromium|Version)\/([\d.]+)/.exec(userAgent)?.[1];
}

/** Collects the browser's attributes; resolves in a few milliseconds (the audio probe is async). */
export async function collectAttributes(): Promise<BrowserAttributes> {
  const nav = navigator as Navigator & {
    deviceMemory?: number;
    userAgentData?: { platform?: string };
  };
  const userAgent = nav.userAgent;
  const attributes: BrowserAttributes = {
    // User-agent client hints (Chromium): the OS without its version, which needs a prompt-free
    // but asynchronous high-entropy request and changes with every OS update anyway.
    osName: nav.userAgentData?.platform || undefined,
    userAgent,
    languages: [...(nav.languages ?? [])],
    locale: nav.language,
    timezone: attempt(() => Intl.DateTimeFormat().resolvedOptions().timeZone),
    screenWidth: screen.width,
    screenHeight: screen.height,
    screenDensity: devicePixelRatio,
    browserPlatform: nav.platform,
    hardwareConcurrency: nav.hardwareConcurrency,
    deviceMemoryGb: nav.deviceMemory,
    canvasHash: canvasHash(),
    ...webgl(),
    audioHash: await audioHash(),
    fonts: fonts(),
    webdriver: nav.webdriver === true,
    headlessHints: automationHints(),
    browserVersion: browserVersion(userAgent),
    windowWidth: innerWidth,
    windowHeight: innerHeight,
  };
  // JSON leaves undefined out, so the core sees "not collected".
  return attributes;
}
