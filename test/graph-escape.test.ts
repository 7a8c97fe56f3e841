// The escaping module and the pictures of a dump full of hostile strings: every output stays well-formed
// (XML parser, Graphviz, JSON.parse) and inert (no script, handler or link appears; the strings come back as
// text, unchanged).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseRuleset } from "../src/index.js";
import { cssColor, dotHtmlText, dotString, dotTooltip, representable, scriptJson, scriptSource, truncate, xmlAttribute, xmlText } from "../src/render/escape.js";
import { buildScene, GRAPH_FORMATS, VIEW_NAMES, writeScene } from "../src/render/index.js";
import { graphviz, graphvizDescribe } from "./support/browser.js";
import { repoRoot } from "./support/files.js";
import { kernelDescribe, kernelRoundTrip, stripSaveComments } from "./support/kernel.js";
import { allText, elements, parseXml } from "./support/xml.js";

const HOSTILE = [
  '"', "<", ">", "&", "'", "\\", "</text><script>alert(1)</script>", "]]>", '\\" URL=\\"javascript:alert(1)\\"', '" URL="javascript:alert(1)"',
  "line1\\nline2", "line1\nline2", "ünïcødé 中文 🔥", "</script><!--", "<![CDATA[x]]>", "a\u2028b\u2029c", "\x1b[31mred", "\\N\\G\\l\\E",
  "tab\there", "\u202eevil",
];

const fixturePath = join(repoRoot, "test", "fixtures", "graph", "hostile.txt");
const fixture = readFileSync(fixturePath, "utf8");

describe("escape: one function per context", () => {
  it.each(HOSTILE)("xmlText keeps %j as character data", (value) => {
    const document = parseXml(`<t>${xmlText(value)}</t>`);
    expect(document.children[0]!.text).toBe(representable(value));
    expect(document.children[0]!.children).toEqual([]);
  });

  it.each(HOSTILE)("xmlAttribute keeps %j inside either quote style", (value) => {
    const element = parseXml(`<t a="${xmlAttribute(value)}" b='${xmlAttribute(value)}'/>`).children[0]!;
    expect(element.attributes).toEqual({ a: representable(value), b: representable(value) });
  });

  it("representable makes control characters, bidi overrides and lone surrogates visible", () => {
    expect(representable("a\x00b\x1bc\x7f")).toBe("a\\x00b\\x1bc\\x7f");
    expect(representable("\u202e")).toBe("\\u202e");
    expect(representable("x\ud800y")).toBe("x\ufffdy");
    expect(representable("ok \n\t 🔥")).toBe("ok \n\t 🔥");
  });

  it("xmlText and xmlAttribute round-trip any string through a strict XML parser", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (value) => {
        const element = parseXml(`<t a="${xmlAttribute(value)}">${xmlText(value)}</t>`).children[0]!;
        return element.text.replace(/\r\n?/g, "\n") === representable(value).replace(/\r\n?/g, "\n") && element.attributes.a === representable(value);
      }),
      { numRuns: 400 },
    );
  });

  it.each(HOSTILE)("scriptJson of %j parses back and holds no <, >, & or line separators", (value) => {
    const embedded = scriptJson({ value, list: [value] });
    expect(embedded).not.toMatch(/[<>&\u2028\u2029]/);
    expect(JSON.parse(embedded)).toEqual({ value, list: [value] });
  });

  it("scriptJson round-trips arbitrary JSON values", () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => JSON.stringify(JSON.parse(scriptJson(value))) === JSON.stringify(value) && !/[<>&\u2028\u2029]/.test(scriptJson(value))));
  });

  it("scriptSource refuses code that would end the element or open an HTML comment", () => {
    expect(() => scriptSource("var a = '</script>';")).toThrow();
    expect(() => scriptSource("x <!-- y")).toThrow();
    expect(() => scriptSource("var a = '</SCRIPT >';")).toThrow();
    expect(scriptSource("if (a < b) c();")).toBe("if (a < b) c();");
  });

  it("dotString escapes quotes and backslashes and turns line breaks into \\n", () => {
    expect(dotString('a"b\\c\nd\r\ne')).toBe('"a\\"b\\\\c\\nd\\ne"');
    expect(dotString('\\" URL=\\"javascript:')).toBe('"\\\\\\" URL=\\\\\\"javascript:"');
  });

  it("cssColor lets only colour spellings through", () => {
    expect(cssColor("#9E0142")).toBe("#9E0142");
    expect(cssColor("none")).toBe("none");
    expect(() => cssColor('red" onload="x')).toThrow();
    expect(() => cssColor("url(javascript:x)")).toThrow();
  });

  it("truncate never splits a surrogate pair", () => {
    expect(truncate("🔥🔥🔥🔥", 3)).toBe("🔥🔥…");
    expect(truncate("short", 10)).toBe("short");
  });
});

const gvDescribe = graphvizDescribe();

gvDescribe("escape: Graphviz reads every DOT context back as the original text", () => {
  it("labels, tooltips and HTML-like labels", () => {
    const lines = ["digraph t {"];
    HOSTILE.forEach((value, i) => {
      lines.push(`  a${i} [label=${dotString(value)}, tooltip=${dotTooltip(value)}];`);
      lines.push(`  h${i} [label=<${dotHtmlText(value)}>];`);
    });
    lines.push("}");
    const result = graphviz("dot", lines.join("\n"));
    if (!result.ok) throw new Error(result.error);
    const svg = parseXml(result.svg);
    const titles = [...elements(svg)].filter((e) => e.name === "a").map((e) => e.attributes["xlink:title"] ?? e.attributes.title);
    const texts = [...elements(svg)].filter((e) => e.name === "text").map((e) => e.text);
    HOSTILE.forEach((value) => {
      // Graphviz writes a tab raw into xlink:title, which XML attribute normalisation reads as a space.
      const visible = representable(value).replace(/\r\n?/g, "\n");
      expect(titles).toContain(visible.replace(/\t/g, " "));
      // Labels are split into one <text> per line.
      for (const line of visible.split("\n")) expect(texts.some((t) => t.includes(line.trim()))).toBe(true);
    });
    expect([...elements(svg)].filter((e) => e.name === "script")).toEqual([]);
    expect([...elements(svg)].filter((e) => "xlink:href" in e.attributes || "href" in e.attributes)).toEqual([]);
  });
});

const hostile = parseRuleset(fixture);
const kubeFixture = readFileSync(join(repoRoot, "test", "fixtures", "graph", "hostile-kube.txt"), "utf8");
const hostileKube = parseRuleset(kubeFixture);

describe("the hostile fixture", () => {
  it("parses cleanly", () => {
    expect(hostile.diagnostics).toEqual([]);
    expect(hostileKube.diagnostics).toEqual([]);
    expect(hostile.ruleset.tables[0]!.chains.map((c) => c.name)).toEqual(["INPUT", "FORWARD", "OUTPUT", "A<&>'x", "Z\\N\\G\\l", "]]>"]);
  });

  const rules = hostile.ruleset.tables.flatMap((t) => t.chains.flatMap((c) => c.rules));
  const chainNames = hostile.ruleset.tables[0]!.chains.map((c) => c.name);
  // Flow also shows interface names and the comments themselves (unquoted, unescaped).
  const flowStrings = ["e<t>h", "eth'1", "</text><script>alert(1)</script>", '" URL="javascript:alert(1)"', "quote \" lt < gt > amp & apos ' backslash \\ line1\\nline2 ünïcødé 中文 ]]>"];
  // The services view shows the rules of the service and endpoint chains and the rules that define frontends.
  const kubeRules = hostileKube.ruleset.tables.flatMap((t) => t.chains.flatMap((c) => c.rules));
  const serviceRules = kubeRules.filter((r) => /^KUBE-(SVC|SEP|EXT)-/.test(r.chain) || /^KUBE-(SVC|EXT)-/.test(r.target?.name ?? ""));
  const expected = (view: string) =>
    view === "services"
      ? serviceRules.map((r) => representable(r.text))
      : [
          ...rules.map((r) => representable(r.text)),
          ...(view === "chains" ? chainNames : chainNames.filter((c) => c !== "FORWARD" && c !== "OUTPUT")),
          ...(view === "flow" ? flowStrings : []),
        ];

  it("services: services named from hostile comments are drawn, by their chain where no comment names them", () => {
    const scene = buildScene(hostileKube.ruleset, { view: "services" });
    const frontends = scene.nodes.filter((n) => n.kind === "frontend").map((n) => n.label);
    expect(frontends.sort()).toEqual(["KUBE-SVC-HOSTILEAAAAAAAAA", "pending:http", "web:http", "web:http"]);
    expect(serviceRules.some((r) => r.text.includes("</text><script>alert(1)</script> cluster IP"))).toBe(true);
  });

  for (const view of VIEW_NAMES) {
    const source = view === "services" ? hostileKube : hostile;
    const scene = buildScene(source.ruleset, { view });

    it(`${view} svg: well-formed, no script, handler or link, every hostile string back as text`, () => {
      const svg = writeScene(scene, "svg");
      const document = parseXml(svg);
      const all = [...elements(document)];
      expect(all.filter((e) => e.name === "script" || e.name === "foreignObject")).toEqual([]);
      expect(all.flatMap((e) => Object.keys(e.attributes)).filter((name) => /^on|href$/i.test(name))).toEqual([]);
      const text = allText(document);
      for (const value of expected(view)) expect(text).toContain(value);
      if (view !== "services") expect(text).toContain("\\x1b[31m red");
    });

    it(`${view} json: parses, strings unchanged`, () => {
      const json = writeScene(scene, "json");
      const document = JSON.parse(json) as { schemaVersion: number; kind: string };
      expect(document.schemaVersion).toBe(1);
      expect(document.kind).toBe("iptscope.graph");
      for (const rule of view === "services" ? serviceRules : rules) expect(json).toContain(JSON.stringify(rule.text).slice(1, -1));
    });

    it(`${view} html: exactly our three scripts, data inert`, () => {
      const html = writeScene(scene, "html");
      expect(html.match(/<script\b/gi)).toHaveLength(3);
      expect(html.match(/<\/script/gi)).toHaveLength(3);
      expect(html).not.toContain("<script>alert");
      expect(html).toContain("Content-Security-Policy");
      const data = /<script type="application\/json" id="iptscope-data">([^<]*)<\/script>/.exec(html);
      expect(data).not.toBeNull();
      expect(JSON.stringify(JSON.parse(data![1]!))).toContain(JSON.stringify("</text><script>alert(1)</script>").slice(1, -1));
    });

    gvDescribe(`${view} dot`, () => {
      it("Graphviz lays it out; its SVG is well-formed, link-free, and shows the strings", () => {
        const result = graphviz(scene.layout === "radial" ? "twopi" : "dot", writeScene(scene, "dot"));
        if (!result.ok) throw new Error(result.error);
        const document = parseXml(result.svg);
        const all = [...elements(document)];
        expect(all.filter((e) => e.name === "script")).toEqual([]);
        expect(all.filter((e) => "xlink:href" in e.attributes || "href" in e.attributes)).toEqual([]);
        const shown = allText(document) + all.map((e) => e.attributes["xlink:title"] ?? "").join("\n");
        for (const value of view === "services" ? ["KUBE-SVC-HOSTILEAAAAAAAAA", "]]> <![CDATA[ x", "Z\\\\N\\\\G\\\\l"] : ["A<&>'x", "]]>", "Z\\N\\G\\l"]) expect(shown).toContain(value);
        expect(shown).toContain("</text><script>alert(1)</script>");
      });
    });
  }

  it("every format is produced for every view", () => {
    for (const view of VIEW_NAMES) for (const format of GRAPH_FORMATS) expect(writeScene(buildScene(hostile.ruleset, { view }), format).length).toBeGreaterThan(100);
  });
});

kernelDescribe()("the hostile fixtures are what the kernel prints", () => {
  it.each([["hostile.txt", fixture], ["hostile-kube.txt", kubeFixture]])("iptables-nft-restore then -save gives %s back", (_name, text) => {
    const body = text.split("\n").filter((line) => !line.startsWith("#")).join("\n");
    const result = kernelRoundTrip(body);
    if (!result.ok) throw new Error(result.stderr);
    expect(stripSaveComments(result.saved).trim()).toBe(body.trim());
  });
});
