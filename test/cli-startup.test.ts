// What the CLI loads to start: each command only the modules its work needs (no renderer for `parse`, no
// parser for `--help`, no service map for the chains view), and the help it prints stays complete.

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot, samplesDir } from "./support/files.js";

const bin = join(repoRoot, "bin", "iptscope.js");
const sample = join(samplesDir, "kubeadm-flannel.txt");
const work = mkdtempSync(join(tmpdir(), "iptscope-cli-startup-"));
const MARK = "iptscope-module-loaded ";

// A module hook that names every file module the process loads, on standard error.
writeFileSync(
  join(work, "hooks.mjs"),
  `export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (resolved.url.startsWith("file:")) process.stderr.write(${JSON.stringify(MARK)} + resolved.url + "\\n");
  return resolved;
}
`,
);
writeFileSync(join(work, "register.mjs"), `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(join(work, "hooks.mjs")).href)});\n`);

function cli(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 60_000 });
}

/** The modules a run of the CLI loads, as paths from the repository root; and how it ended. */
function loads(args: string[]): { modules: Set<string>; status: number | null } {
  const result = spawnSync(process.execPath, ["--import", pathToFileURL(join(work, "register.mjs")).href, bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 60_000,
  });
  const root = pathToFileURL(repoRoot).href + "/";
  const modules = new Set(
    result.stderr
      .split("\n")
      .filter((line) => line.startsWith(MARK))
      .map((line) => line.slice(MARK.length).replace(root, "")),
  );
  return { modules, status: result.status };
}

const has = (modules: Set<string>, part: string) => [...modules].some((m) => m.includes(part));

const TRACED = ["--trace", "--src", "10.244.1.5", "--dst", "10.96.0.10", "--proto", "udp", "--dport", "53"];

describe("CLI start-up", () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("the hook sees the modules (else the checks below would pass for nothing)", () => {
    const { modules, status } = loads(["parse", sample]);
    expect(status).toBe(0);
    for (const part of ["dist/src/cli/main.js", "dist/src/model/build.js", "dist/src/cli/commands/parse.js", "node_modules/yargs/"]) expect(has(modules, part), part).toBe(true);
  });

  it("parse loads no renderer, layout, tracer, service map or graph library", () => {
    const { modules } = loads(["parse", sample]);
    // render/formats.js only names the views and formats, for graph's options.
    for (const part of ["dist/src/render/views/", "dist/src/render/layout/", "dist/src/render/write/", "dist/src/render/scene.js", "dist/src/analysis/trace/walk.js", "dist/src/analysis/kube/", "node_modules/d3-", "node_modules/graphology/"]) {
      expect(has(modules, part), part).toBe(false);
    }
  });

  it("--help and graph --help load no parser", () => {
    for (const args of [["--help"], ["graph", "--help"]]) {
      const { modules, status } = loads(args);
      expect(status).toBe(0);
      for (const part of ["dist/src/model/build.js", "dist/grammar/", "node_modules/chevrotain/", "dist/src/render/views/"]) expect(has(modules, `${part}`), `${args.join(" ")}: ${part}`).toBe(false);
    }
  });

  it("graph loads the asked view and format only", () => {
    const chains = loads(["graph", sample, "--view", "chains", "--format", "svg"]).modules;
    expect(has(chains, "dist/src/render/views/chains.js")).toBe(true);
    for (const part of ["views/flow.js", "views/services.js", "dist/src/analysis/kube/", "dist/src/analysis/trace/walk.js", "write/html.js", "write/dot.js", "node_modules/d3-zoom/"]) {
      expect(has(chains, part), part).toBe(false);
    }
    const traced = loads(["graph", sample, "--view", "chains", ...TRACED]).modules;
    expect(has(traced, "dist/src/analysis/trace/walk.js")).toBe(true);
    for (const part of ["views/services.js", "dist/src/analysis/kube/index.js", "dist/src/analysis/kube/structure.js"]) expect(has(traced, part), part).toBe(false);
    const dot = loads(["graph", sample, "--view", "services", "--format", "dot"]).modules;
    expect(has(dot, "views/services.js")).toBe(true);
    for (const part of ["dist/src/render/layout/frame.js", "dist/src/render/layout/radial.js", "node_modules/d3-hierarchy/"]) expect(has(dot, part), part).toBe(false);
  });

  it("--help lists every command, and each command's help its options", () => {
    const top = cli(["--help"]);
    expect(top.status).toBe(0);
    for (const command of ["parse [file]", "fmt [file]", "trace [file]", "services [file]", "where <target> [file]", "diff <old> <new>", "graph [file]", "--version"]) {
      expect(top.stdout).toContain(command);
    }
    const options: Record<string, string[]> = {
      parse: ["--json", "--lenient", "--ipv6"],
      fmt: ["--canonical", "--backend"],
      trace: ["--dst", "--src", "--from", "--node-ip", "--ipset-file", "--json"],
      services: ["--namespace", "--node-ip", "--json"],
      where: ["--src", "--verbose", "--json"],
      diff: ["--level", "--node-ip", "--json"],
      graph: ["--view", "--format", "--trace", "--dport", "Trace overlay", "Examples:"],
    };
    for (const [command, flags] of Object.entries(options)) {
      const help = cli([command, "--help"]);
      expect(help.status, command).toBe(0);
      for (const flag of flags) expect(help.stdout, `${command}: ${flag}`).toContain(flag);
    }
  });

  it("usage errors still print their message and no help, with status 64", () => {
    const result = cli(["graph", sample, "--view", "bogus"]);
    expect(result.status).toBe(64);
    expect(result.stderr).toMatch(/^iptscope: Invalid values:/);
    expect(result.stderr).toContain("(see iptscope --help)");
    expect(result.stdout).toBe("");
  });
});
