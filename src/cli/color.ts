// Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org).

export interface Palette {
  red(text: string): string;
  yellow(text: string): string;
  green(text: string): string;
  cyan(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const wrap = (open: number, close: number) => (text: string) => `\x1b[${open}m${text}\x1b[${close}m`;

const ansi: Palette = {
  red: wrap(31, 39), yellow: wrap(33, 39), green: wrap(32, 39), cyan: wrap(36, 39), dim: wrap(2, 22), bold: wrap(1, 22),
};

const plain: Palette = {
  red: (t) => t, yellow: (t) => t, green: (t) => t, cyan: (t) => t, dim: (t) => t, bold: (t) => t,
};

export function paletteFor(stream: NodeJS.WriteStream): Palette {
  const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "";
  return stream.isTTY && !noColor ? ansi : plain;
}
