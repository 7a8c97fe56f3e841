// The HTML pictures as a person sees them: opened from a file in headless Chromium with every network request
// refused, then searched, clicked, zoomed and photographed.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { buildScene, writeScene, type ViewName } from "../src/render/index.js";
import { browserDescribe, CHROMIUM, decodePng, pictureStatistics } from "./support/browser.js";
import { repoRoot, sampleFiles } from "./support/files.js";

const work = mkdtempSync(join(tmpdir(), "iptscope-graph-html-"));
const kubeadm = parseRuleset(sampleFiles().find((s) => s.name === "kubeadm-flannel")!.text).ruleset;
const hostile = parseRuleset(readFileSync(join(repoRoot, "test", "fixtures", "graph", "hostile.txt"), "utf8")).ruleset;

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

  async function open(name: string, ruleset: typeof kubeadm, view: ViewName): Promise<Opened> {
    const file = join(work, `${name}-${view}.html`);
    writeFileSync(file, writeScene(buildScene(ruleset, { view, sourceName: name }), "html"));
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
