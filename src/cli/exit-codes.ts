/** Exit statuses, documented in the README; scripts rely on them. */
export const ExitCode = {
  ok: 0,
  /** A negative answer: `where` found nothing serving the target; `diff` found differences. */
  negative: 1,
  malformedInput: 2,
  emptyInput: 3,
  unreadableInput: 4,
  usage: 64,
  internal: 70,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
