// Chevrotain, loaded from the single-file build that the package ships next to its entry
// point: the modular build imports some 600 lodash-es modules, which was most of the CLI's
// cold start. Same package, same version, same code. The package's exports map does not
// name that file, so it is found from the entry point; if it is ever missing, the entry
// point is used.

import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type * as Chevrotain from "chevrotain";

async function load(): Promise<typeof Chevrotain> {
  try {
    const entry = createRequire(import.meta.url).resolve("chevrotain");
    const bundle = path.join(path.dirname(entry), "..", "chevrotain.min.mjs");
    return (await import(pathToFileURL(bundle).href)) as typeof Chevrotain;
  } catch {
    return await import("chevrotain");
  }
}

export const { createToken, EmbeddedActionsParser, Lexer } = await load();
