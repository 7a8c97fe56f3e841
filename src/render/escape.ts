// The one escaping module: every string that reaches SVG, HTML, DOT or an inline <script> goes through the
// function for its context. Dump strings (comments, chain names, interface names, log prefixes, rule text) are
// arbitrary bytes up to a quote, so each function must keep its output well-formed and inert for any input.

// XML 1.0 forbids these even as character references; bidi overrides are made visible so a comment cannot
// reorder the text around it on screen.
const UNREPRESENTABLE =
  /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function visibleCodePoint(character: string): string {
  const code = character.charCodeAt(0);
  if (code >= 0xd800 && code <= 0xdfff) return "\ufffd";
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** The string with characters no XML document may hold replaced by a visible `\xNN` / `\uNNNN` spelling. */
export function representable(value: string): string {
  return value.replace(UNREPRESENTABLE, visibleCodePoint);
}

const XML_TEXT: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };
const XML_ATTRIBUTE: Record<string, string> = {
  ...XML_TEXT,
  '"': "&quot;",
  "'": "&#39;",
  // Attribute-value normalisation would turn raw line breaks and tabs into spaces.
  "\n": "&#10;",
  "\r": "&#13;",
  "\t": "&#9;",
};

/** Character data in SVG/HTML/XML (element content, `<title>`). `>` is escaped too, for `]]>`. */
export function xmlText(value: string): string {
  return representable(value).replace(/[&<>]/g, (c) => XML_TEXT[c]!);
}

/** A quoted attribute value in SVG/HTML/XML (either quote style). */
export function xmlAttribute(value: string): string {
  return representable(value).replace(/[&<>"'\n\r\t]/g, (c) => XML_ATTRIBUTE[c]!);
}

/**
 * A DOT double-quoted string, quotes included, for escString attributes (label, tooltip, xlabel): `"` and `\`
 * are escaped (Graphviz would read `\N`, `\G`, `\l` … as escapes) and line breaks become `\n`.
 */
export function dotString(value: string): string {
  const body = representable(value)
    .replace(/\r\n?/g, "\n")
    .replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
  return `"${body}"`;
}

/**
 * A DOT tooltip (tooltip, labeltooltip): Graphviz expands escapes in it twice, once reading the escString and
 * once writing the SVG, so a backslash needs two levels (`\N` would otherwise become the node's name).
 */
export function dotTooltip(value: string): string {
  return dotString(representable(value).replace(/\\/g, "\\\\"));
}

/**
 * Text inside a Graphviz HTML-like label (`label=<…>`): XML-escaped (Graphviz reads it with an XML parser),
 * and backslashes doubled because Graphviz still expands `\N`, `\G` … in it.
 */
export function dotHtmlText(value: string): string {
  return xmlAttribute(value).replace(/\\/g, "\\\\");
}

const SCRIPT_JSON: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

/**
 * JSON to embed in an HTML `<script>` element: `</script>`, `<!--` and `]]>` cannot appear, and U+2028/U+2029
 * (line terminators in older JavaScript) are escaped, so the text is safe both as JSON and as a JS literal.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => SCRIPT_JSON[c]!);
}

/**
 * Trusted JavaScript (our own client code, the d3 bundles) to inline in `<script>`. Anything that would end the
 * element or open an HTML comment is a broken invariant, not something to repair.
 */
export function scriptSource(source: string): string {
  if (/<\/script|<!--/i.test(source)) throw new Error("inline script contains </script or <!--");
  return source;
}

/** Colours reach `fill=`/`stroke=` attributes; only the spellings the renderers produce are let through. */
export function cssColor(value: string): string {
  if (/^#[0-9a-fA-F]{3,8}$/.test(value) || /^[a-z]{3,20}$/.test(value)) return value;
  throw new Error(`not a colour: ${JSON.stringify(value)}`);
}

/** At most `max` characters (code points, never half a surrogate pair), with an ellipsis when cut. */
export function truncate(value: string, max: number): string {
  if (value.length <= max) return value;
  const characters = Array.from(value);
  return characters.length <= max ? value : `${characters.slice(0, Math.max(1, max - 1)).join("")}…`;
}
