// Headless Chromium for the HTML tests: Debian's /usr/bin/chromium driven by playwright-core (no browser
// download). Like the kernel oracle: CI (CI set, or IPTSCOPE_REQUIRE_TOOLS=1) fails loudly when Chromium
// or Graphviz is missing; a local run skips with the reason printed once.

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { inflateSync } from "node:zlib";
import { describe, it } from "vitest";
import type { SuiteFunction } from "./kernel.js";

export const CHROMIUM = process.env.IPTSCOPE_CHROMIUM ?? "/usr/bin/chromium";

type ToolStatus = { usable: true } | { usable: false; reason: string };

function ciRequires(variable: string): boolean {
  const ci = process.env.CI;
  return (ci !== undefined && ci !== "" && ci !== "0" && ci.toLowerCase() !== "false") || process.env[variable] === "1";
}

function probe(command: string, args: readonly string[], what: string): ToolStatus {
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 30_000 });
  if (result.error) return { usable: false, reason: `${what}: cannot run ${command}: ${result.error.message}` };
  if (result.status !== 0) return { usable: false, reason: `${what}: ${command} ${args.join(" ")} exited ${result.status}: ${result.stderr.trim()}` };
  return { usable: true };
}

const cache = new Map<string, ToolStatus>();

export function chromiumStatus(): ToolStatus {
  if (!cache.has("chromium")) {
    cache.set(
      "chromium",
      existsSync(CHROMIUM) ? probe(CHROMIUM, ["--headless=new", "--no-sandbox", "--version"], "chromium") : { usable: false, reason: `${CHROMIUM} not found (apt-get install chromium)` },
    );
  }
  return cache.get("chromium")!;
}

export function graphvizStatus(): ToolStatus {
  if (!cache.has("graphviz")) cache.set("graphviz", probe("dot", ["-V"], "graphviz"));
  return cache.get("graphviz")!;
}

const warned = new Set<string>();

function toolDescribe(status: ToolStatus, variable: string): SuiteFunction {
  if (status.usable) return (name, fn) => describe(name, fn);
  const reason = status.reason;
  if (ciRequires(variable)) {
    return (name) =>
      describe(name, () => {
        it("needs the tool", () => {
          throw new Error(`unusable in CI: ${reason}`);
        });
      });
  }
  if (!warned.has(reason)) {
    warned.add(reason);
    console.warn(`[iptscope] skipping: ${reason} (set ${variable}=1 to make this fatal)`);
  }
  return (name, fn) => describe.skip(name, fn);
}

/** `describe` for suites that open pages in headless Chromium. */
export const browserDescribe = (): SuiteFunction => toolDescribe(chromiumStatus(), "IPTSCOPE_REQUIRE_TOOLS");

/** `describe` for suites that run Graphviz. */
export const graphvizDescribe = (): SuiteFunction => toolDescribe(graphvizStatus(), "IPTSCOPE_REQUIRE_TOOLS");

/** Runs a Graphviz layout program on DOT text; returns its SVG or the error text. */
export function graphviz(program: "dot" | "twopi", dot: string): { ok: true; svg: string } | { ok: false; error: string } {
  const result = spawnSync(program, ["-Tsvg"], { input: dot, encoding: "utf8", timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
  if (result.error) return { ok: false, error: result.error.message };
  if (result.status !== 0) return { ok: false, error: `${program} exited ${result.status ?? result.signal}: ${result.stderr}` };
  return { ok: true, svg: result.stdout };
}

export interface Pixels {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel. */
  data: Uint8Array;
}

/** Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium's screenshots are). */
export function decodePng(png: Buffer): Pixels {
  if (png.readUInt32BE(0) !== 0x89504e47) throw new Error("not a PNG");
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString("latin1", offset + 4, offset + 8);
    const body = png.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [depth, colorType, , , interlace] = [body[8], body[9], body[10], body[11], body[12]];
      if (depth !== 8 || interlace !== 0 || (colorType !== 2 && colorType !== 6)) throw new Error(`unsupported PNG (depth ${depth}, colour type ${colorType}, interlace ${interlace})`);
      channels = colorType === 6 ? 4 : 3;
    } else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") break;
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = new Uint8Array(width * height * 4);
  let previous = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const current = new Uint8Array(stride);
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? current[x - channels]! : 0;
      const up = previous[x]!;
      const upLeft = x >= channels ? previous[x - channels]! : 0;
      let predictor: number;
      switch (filter) {
        case 0: predictor = 0; break;
        case 1: predictor = left; break;
        case 2: predictor = up; break;
        case 3: predictor = (left + up) >> 1; break;
        case 4: {
          const p = left + up - upLeft;
          const pa = Math.abs(p - left);
          const pb = Math.abs(p - up);
          const pc = Math.abs(p - upLeft);
          predictor = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
          break;
        }
        default: throw new Error(`bad PNG filter ${filter}`);
      }
      current[x] = (line[x]! + predictor) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) out[(y * width + x) * 4 + c] = current[x * channels + c]!;
      out[(y * width + x) * 4 + 3] = channels === 4 ? current[x * channels + 3]! : 255;
    }
    previous = current;
  }
  return { width, height, data: out };
}

/** Distinct colours and the share of pixels that differ from the most common one (the background). */
export function pictureStatistics(pixels: Pixels): { colors: number; foregroundShare: number } {
  const counts = new Map<number, number>();
  for (let i = 0; i < pixels.data.length; i += 4) {
    const key = (pixels.data[i]! << 16) | (pixels.data[i + 1]! << 8) | pixels.data[i + 2]!;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const background = Math.max(...counts.values());
  const total = pixels.width * pixels.height;
  return { colors: counts.size, foregroundShare: (total - background) / total };
}
