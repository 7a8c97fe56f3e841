// The grammar keeps the outcome of each line shape and replays it on later lines of that
// shape. Replayed lines must come out exactly as if Chevrotain had parsed them.

import { describe, expect, it } from "vitest";
import { parseLine, type ExtensionCatalog, type LineSyntax } from "../grammar/index.js";
import { extensionCatalog } from "../src/model/extensions.js";
import { restoreFixtures, sampleFiles } from "./support/files.js";
import { generateKubeProxyDump, mulberry32 } from "./support/kubegen.js";
import { generateRestoreInput } from "./support/rulegen.js";

/** A catalog of its own has a shape cache of its own. */
const freshCatalog = (): ExtensionCatalog => ({
  matchOptions: (module) => extensionCatalog.matchOptions(module),
  targetOptions: (target) => extensionCatalog.targetOptions(target),
  implicitMatch: (protocol) => extensionCatalog.implicitMatch(protocol),
});

/** A line's syntax as plain data, taken at once (the words are refilled by the next parseLine call). */
function plain(syntax: LineSyntax): unknown {
  if (syntax.kind !== "command") return JSON.parse(JSON.stringify(syntax, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value)));
  const { words, counters, command } = syntax;
  const count = words.count;
  return {
    counters: counters && { ...counters, packets: counters.packets.toString(), bytes: counters.bytes.toString() },
    command,
    words: [words.values.slice(0, count), words.starts.slice(0, count), words.ends.slice(0, count), words.quoted.slice(0, count)],
  };
}

function commandLines(texts: readonly string[]): string[] {
  return texts.flatMap((text) => text.split("\n")).filter((line) => /^(\[\S*\] )?-/.test(line));
}

/** Lines of real shapes with words dropped, repeated, negated, quoted or replaced: every kind of error. */
function mutants(lines: readonly string[], count: number, seed: number): string[] {
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const words = ["!", "-m", "-j", "-g", "-p", "-s", "-i", "-f", "-c", "-4", "-6", "-I", "-D", "-X", "-F", "-P", "-E", "--dport", "--dp",
    "--comment", "--to", "--set", "--mark", "--ctstate", "--mode", "tcp", "comment", "DNAT", "MY", "1", "\"a b\"", "\"-m\"", "'q'", "\"open"];
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const tokens = pick(lines).split(" ");
    for (let edits = 1 + Math.floor(random() * 3); edits > 0; edits--) {
      const at = Math.floor(random() * (tokens.length + 1));
      const roll = random();
      if (roll < 0.3) tokens.splice(at, 1);
      else if (roll < 0.7) tokens.splice(at, 0, pick(words));
      else if (roll < 0.85) tokens.splice(at, 1, `"${tokens[at] ?? ""}"`);
      else tokens.splice(at, 0, tokens[Math.floor(random() * tokens.length)]!);
    }
    out.push(tokens.join(" "));
  }
  return out;
}

describe("replayed line shapes", () => {
  const corpus = commandLines([
    ...sampleFiles().map((s) => s.text),
    ...restoreFixtures().map((f) => f.text),
    ...[1, 2, 3, 4, 5, 6].flatMap((seed) => [generateRestoreInput(seed, 4, 60), generateRestoreInput(seed, 6, 60)]),
    ...(["old", "new"] as const).flatMap((generation) =>
      (["ipv4", "ipv6"] as const).map((family) =>
        generateKubeProxyDump({ services: 40, endpointsPerService: [0, 4], seed: 11, generation, order: "restore", family }),
      ),
    ),
  ]);

  it("come out as the parser makes them, for accepted and refused lines alike", () => {
    const lines = [...corpus, ...mutants(corpus, 4000, 17)];
    const shared = freshCatalog();
    let replayed = 0;
    let refused = 0;
    for (const line of lines) {
      const direct = parseLine(line, freshCatalog());
      const first = parseLine(line, shared);
      const again = parseLine(line, shared);
      if (direct.kind === "error") refused++;
      else if (direct.kind === "command") replayed++;
      expect(plain(first), line).toEqual(plain(direct));
      expect(plain(again), line).toEqual(plain(direct));
    }
    expect(replayed).toBeGreaterThan(2000);
    expect(refused).toBeGreaterThan(500);
  });

  it("read a quoted option as getopt does, as the option", () => {
    const shared = freshCatalog();
    const option = plain(parseLine("-A INPUT -p tcp --dport 80", shared)) as { command: { items: { kind: string }[] } };
    const quoted = plain(parseLine('-A INPUT -p tcp "--dport" 80', shared)) as typeof option;
    expect(quoted).toEqual(plain(parseLine('-A INPUT -p tcp "--dport" 80', freshCatalog())));
    expect(quoted.command).toEqual(option.command);
    expect(quoted.command.items.map((item) => item.kind)).toEqual(["core", "option"]);
  });

  it("split a value written in an option's word, and keep no shape for such a line", () => {
    const shared = freshCatalog();
    const split = plain(parseLine("-A INPUT -p tcp --dport=80 -j ACCEPT", shared)) as { words: string[][] };
    expect(split.words[0]).toEqual(["-A", "INPUT", "-p", "tcp", "--dport=80", "80", "-j", "ACCEPT"]);
    expect(split.words[1]).toEqual([0, 3, 9, 12, 16, 24, 27, 30]);
    const next = plain(parseLine("-A INPUT -p tcp --dport=81 -j ACCEPT", shared)) as typeof split;
    expect(next.words[0]![5]).toBe("81");
  });
});
