// The views and output formats of the pictures; kept apart from the views and writers so the CLI can list them
// without loading any of them.

export const VIEW_NAMES = ["flow", "chains", "services"] as const;
export type ViewName = (typeof VIEW_NAMES)[number];

export const GRAPH_FORMATS = ["svg", "dot", "html", "json"] as const;
export type GraphFormat = (typeof GRAPH_FORMATS)[number];

const EXTENSIONS: Record<string, GraphFormat> = { svg: "svg", dot: "dot", gv: "dot", html: "html", htm: "html", json: "json" };

/** The format a file name asks for by its extension, if it names one. */
export function formatFromFileName(name: string): GraphFormat | undefined {
  const dot = name.lastIndexOf(".");
  return dot < 0 ? undefined : EXTENSIONS[name.slice(dot + 1).toLowerCase()];
}
