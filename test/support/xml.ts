// Well-formedness for the SVG tests: saxes is a strict, namespace-aware XML 1.0 parser that throws on the first
// error. Returns a small element tree so tests can look for elements, attributes and text.

import { SaxesParser } from "saxes";

export interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  /** Character data directly inside this element. */
  text: string;
}

export function parseXml(text: string): XmlElement {
  const parser = new SaxesParser({ xmlns: true });
  const root: XmlElement = { name: "#document", attributes: {}, children: [], text: "" };
  const stack: XmlElement[] = [root];
  parser.on("error", (error) => {
    throw error;
  });
  parser.on("opentag", (tag) => {
    const attributes: Record<string, string> = {};
    for (const [name, attribute] of Object.entries(tag.attributes)) attributes[name] = attribute.value;
    const element: XmlElement = { name: tag.local, attributes, children: [], text: "" };
    stack[stack.length - 1]!.children.push(element);
    stack.push(element);
  });
  parser.on("closetag", () => {
    stack.pop();
  });
  parser.on("text", (data) => {
    stack[stack.length - 1]!.text += data;
  });
  parser.on("cdata", (data) => {
    stack[stack.length - 1]!.text += data;
  });
  parser.write(text).close();
  return root;
}

export function* elements(node: XmlElement): Generator<XmlElement> {
  for (const child of node.children) {
    yield child;
    yield* elements(child);
  }
}

/** All character data under a node, in document order. */
export function allText(node: XmlElement): string {
  return node.text + node.children.map(allText).join("");
}
