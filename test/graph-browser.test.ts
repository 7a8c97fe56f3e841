// The HTML pictures as a person sees them: opened from a file in headless Chromium with every network request
// refused, then searched, clicked, zoomed and photographed.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { defaultContext, inferNodeAddresses } from "../src/analysis/trace/context.js";
import { createTracer } from "../src/analysis/trace/walk.js";
import { buildScene, buildTracedScene, writeScene, type Scene, type ViewName } from "../src/render/index.js";
import { browserDescribe, CHROMIUM, decodePng, pictureStatistics } from "./support/browser.js";
import { repoRoot, sampleFiles } from "./support/files.js";

const work = mkdtempSync(join(tmpdir(), "iptscope-graph-html-"));
const kubeadm = parseRuleset(sampleFiles().find((s) => s.name === "kubeadm-flannel")!.text).ruleset;
const hostile = parseRuleset(readFileSync(join(repoRoot, "test", "fixtures", "graph", "hostile.txt"), "utf8")).ruleset;
const hostileKube = parseRuleset(readFileSync(join(repoRoot, "test", "fixtures", "graph", "hostile-kube.txt"), "utf8")).ruleset;

interface Opened {
  page: Page;
  problems: string[];
  requests: string[];
  dialogs: string[];
}

browserDescribe()("HTML in headless Chromium", () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(work, { recursive: true, force: true });
  });

  async function open(name: string, ruleset: typeof kubeadm, view: ViewName, scene?: Scene): Promise<Opened> {
    const file = join(work, `${name}-${view}.html`);
    writeFileSync(file, writeScene(scene ?? buildScene(ruleset, { view, sourceName: name }), "html"));
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const opened: Opened = { page, problems: [], requests: [], dialogs: [] };
    page.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warning") opened.problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on("pageerror", (error) => opened.problems.push(`page error: ${error.message}`));
    page.on("dialog", async (dialog) => {
      opened.dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    await context.route("**/*", async (route) => {
      const url = route.request().url();
      if (url === `file://${file}`) return route.continue();
      opened.requests.push(url);
      return route.abort();
    });
    await page.goto(`file://${file}`);
    await page.waitForFunction(() => document.querySelector("#canvas svg") !== null);
    return opened;
  }

  const nodeCalled = (page: Page, label: string) => page.locator("g.node", { has: page.locator(`text:text-is(${JSON.stringify(label)})`) });

  it("chains view: loads clean and offline, search highlights chains and a service, clicking a chain lists its rules", async () => {
    const { page, problems, requests } = await open("kubeadm-flannel", kubeadm, "chains");
    await page.fill("#search", "KUBE-SERVICES");
    const hits = await page.locator("g.node.hit").evaluateAll((nodes) => nodes.map((n) => n.querySelector("text")?.textContent));
    expect(hits).toEqual(["KUBE-SERVICES", "KUBE-SERVICES"]);
    expect(await page.textContent("#count")).toMatch(/^2 node\(s\)/);

    await page.fill("#search", "kube-system/kube-dns:dns-tcp");
    const service = await page.locator("g.node.hit").evaluateAll((nodes) => nodes.map((n) => n.querySelector("text")?.textContent));
    expect(service).toEqual(expect.arrayContaining(["KUBE-SERVICES", "KUBE-SVC-ERIFXISQEP7F7OF4", "KUBE-SEP-S7MPVVC7MGYVFSF3", "KUBE-SEP-XRFUWCXKVCLGWYQC"]));
    await page.fill("#search", "");
    expect(await page.locator("g.node.hit").count()).toBe(0);

    const nat = kubeadm.tables.find((t) => t.name === "nat")!.chains.find((c) => c.name === "KUBE-SVC-TCOU7JCQXEZGVUNU")!;
    await nodeCalled(page, "KUBE-SVC-TCOU7JCQXEZGVUNU").click();
    await expect.poll(() => page.isVisible("#panel")).toBe(true);
    expect(await page.textContent("#panel-title")).toBe("KUBE-SVC-TCOU7JCQXEZGVUNU");
    expect(await page.locator("#panel-rules .rule").allTextContents()).toEqual(nat.rules.map((r) => r.text));
    expect(await page.locator("#panel-rules .where").first().textContent()).toBe(`nat KUBE-SVC-TCOU7JCQXEZGVUNU #1 · line ${nat.rules[0]!.line} · ${nat.rules[0]!.counters!.packets} pkts, ${nat.rules[0]!.counters!.bytes} bytes`);
    await page.keyboard.press("Escape");
    expect(await page.isVisible("#panel")).toBe(false);

    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
  });

  it("zooms on the wheel and the screenshot is a picture, not a blank page", async () => {
    const { page, problems } = await open("kubeadm-flannel", kubeadm, "chains");
    const before = await page.getAttribute("g.viewport", "transform");
    await page.mouse.move(600, 500);
    await page.mouse.wheel(0, -400);
    await expect.poll(() => page.getAttribute("g.viewport", "transform")).not.toBe(before);
    expect(await page.getAttribute("g.viewport", "transform")).toMatch(/scale\((?!1\))/);
    await page.click("#fit");
    const statistics = pictureStatistics(decodePng(await page.screenshot()));
    expect(statistics.colors).toBeGreaterThan(50);
    expect(statistics.foregroundShare).toBeGreaterThan(0.1);
    expect(problems).toEqual([]);
  });

  it("flow view: search by address highlights it, clicking an edge lists the rule", async () => {
    const { page, problems, requests } = await open("kubeadm-flannel", kubeadm, "flow");
    await page.fill("#search", "10.244.0.0/16");
    const hits = await page.locator("g.node.hit").evaluateAll((nodes) => nodes.map((n) => n.querySelector("text")?.textContent));
    expect(hits).toContain("10.244.0.0/16");
    const statistics = pictureStatistics(decodePng(await page.screenshot()));
    expect(statistics.colors).toBeGreaterThan(50);
    await page.fill("#search", "");
    await page.locator("g.node", { has: page.locator('text:text-is("10.244.0.0/16")') }).click();
    const rules = await page.locator("#panel-rules .rule").allTextContents();
    expect(rules.length).toBeGreaterThan(0);
    for (const rule of rules) expect(rule).toContain("10.244.0.0/16");
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
  });

  it("services view: search highlights a service's frontend and endpoints, clicking a frontend lists its rules", async () => {
    const { page, problems, requests } = await open("kubeadm-flannel", kubeadm, "services");
    await page.fill("#search", "kube-system/kube-dns:dns-tcp");
    const hits = await page.locator("g.node.hit").evaluateAll((nodes) => nodes.map((n) => n.querySelector("text")?.textContent));
    expect(hits.sort()).toEqual(["10.244.0.8:53 · 50%", "10.244.0.9:53 · 50%", "kube-dns:dns-tcp"]);
    expect(await page.textContent("#count")).toMatch(/^3 node\(s\)/);
    await page.fill("#search", "");

    const nat = kubeadm.tables.find((t) => t.name === "nat")!;
    const defining = nat.chains.find((c) => c.name === "KUBE-SERVICES")!.rules.find((r) => r.target?.name === "KUBE-SVC-TCOU7JCQXEZGVUNU")!;
    const svc = nat.chains.find((c) => c.name === "KUBE-SVC-TCOU7JCQXEZGVUNU")!;
    await nodeCalled(page, "kube-dns:dns").click();
    await expect.poll(() => page.isVisible("#panel")).toBe(true);
    expect(await page.textContent("#panel-title")).toBe("kube-dns:dns");
    expect(await page.locator("#panel-rules .rule").allTextContents()).toEqual([defining.text, ...svc.rules.map((r) => r.text)]);

    const statistics = pictureStatistics(decodePng(await page.screenshot()));
    expect(statistics.colors).toBeGreaterThan(50);
    expect(statistics.foregroundShare).toBeGreaterThan(0.1);
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
  });

  it("traced chains view: loads clean, the outcomes in the legend, the path lit and the rest dimmed", async () => {
    const tracer = createTracer(kubeadm);
    const trace = tracer.trace({ src: "10.244.1.5", dst: "10.96.0.10", protocol: 17, sport: 40000, dport: 53 }, defaultContext({ nodeAddresses: inferNodeAddresses(kubeadm) }));
    const { page, problems, requests } = await open("kubeadm-traced", kubeadm, "chains", buildTracedScene(kubeadm, { view: "chains" }, trace));
    const legend = await page.locator("g.legend-item text").allTextContents();
    expect(legend.slice(0, 2)).toEqual(trace.outcomes.map((o, i) => `#${i + 1} DNAT → ${o.dnat!.to} · ACCEPT (forwarded) (50%)`));
    const opacity = (label: string) => nodeCalled(page, label).evaluate((g) => getComputedStyle(g).opacity);
    expect(await opacity("KUBE-SVC-TCOU7JCQXEZGVUNU")).toBe("1");
    expect(Number(await opacity("KUBE-SVC-ERIFXISQEP7F7OF4"))).toBeLessThan(0.5);
    await nodeCalled(page, "KUBE-SVC-TCOU7JCQXEZGVUNU").click();
    expect(await page.textContent("#panel-title")).toBe("KUBE-SVC-TCOU7JCQXEZGVUNU");
    const statistics = pictureStatistics(decodePng(await page.screenshot()));
    expect(statistics.colors).toBeGreaterThan(50);
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
  });

  it("services view of hostile strings: inert, and shown verbatim", async () => {
    const { page, problems, dialogs, requests } = await open("hostile-kube", hostileKube, "services");
    expect(await page.evaluate(() => document.querySelectorAll("script").length)).toBe(3);
    expect(await page.evaluate(() => document.querySelectorAll("svg script, svg foreignObject, [onload], [onclick], [onerror]").length)).toBe(0);
    await page.fill("#search", "</text><script>");
    expect(await page.locator("g.node.hit").count()).toBeGreaterThan(0);
    await page.fill("#search", "");
    const nat = hostileKube.tables.find((t) => t.name === "nat")!;
    const defining = nat.chains.find((c) => c.name === "KUBE-SERVICES")!.rules.find((r) => r.target?.name === "KUBE-SVC-HOSTILEAAAAAAAAA")!;
    await nodeCalled(page, "KUBE-SVC-HOSTILEAAAAAAAAA").click();
    expect(await page.locator("#panel-rules .rule").allTextContents()).toEqual([defining.text, ...nat.chains.find((c) => c.name === "KUBE-SVC-HOSTILEAAAAAAAAA")!.rules.map((r) => r.text)]);
    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
    expect(requests).toEqual([]);
  });

  for (const view of ["flow", "chains"] as const) {
    it(`${view} view of hostile strings: inert, and shown verbatim`, async () => {
      const { page, problems, dialogs, requests } = await open("hostile", hostile, view);
      expect(await page.evaluate(() => document.querySelectorAll("script").length)).toBe(3);
      expect(await page.evaluate(() => document.querySelectorAll("svg script, svg foreignObject, [onload], [onclick], [onerror]").length)).toBe(0);
      await page.fill("#search", "</text><script>");
      expect(await page.locator(".hit").count()).toBeGreaterThan(0);
      await page.fill("#search", "");
      const chain = hostile.tables[0]!.chains.find((c) => c.name === "A<&>'x")!;
      if (view === "chains") {
        await nodeCalled(page, "A<&>'x").click();
        expect(await page.textContent("#panel-title")).toBe("A<&>'x");
        expect(await page.locator("#panel-rules .rule").allTextContents()).toEqual(chain.rules.map((r) => r.text));
      } else {
        await page.locator("g.node", { has: page.locator('text:text-is("e<t>h")') }).click();
        expect(await page.locator("#panel-rules .rule").allTextContents()).toEqual([hostile.tables[0]!.chains[0]!.rules[0]!.text]);
      }
      expect(dialogs).toEqual([]);
      expect(problems).toEqual([]);
      expect(requests).toEqual([]);
    });
  }
});
