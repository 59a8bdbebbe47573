// Folding repeated violations: a call that trips the same check at many consecutive instructions (an SP alignment
// fault at every store of a 120-byte frame) reports it once per run of repeats, with where it started and ended and
// how often, so a trace stays readable in the terminal and in every report.

/** A message split at its last " at ": what was violated, and where. */
function splitAt(message: string): { readonly what: string; readonly where: string } | null {
  const i = message.lastIndexOf(" at ");
  return i <= 0 ? null : { what: message.slice(0, i), where: message.slice(i + 4) };
}

/**
 * Consecutive messages that differ only in the place after their last " at " become one line: "WHAT at FIRST …
 * LAST (N times)". Other messages are kept as they are, in order.
 */
export function foldViolations(messages: ReadonlyArray<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < messages.length; ) {
    const head = splitAt(messages[i]!);
    let j = i + 1;
    if (head !== null) while (j < messages.length && splitAt(messages[j]!)?.what === head.what) j++;
    if (head === null || j - i === 1) out.push(messages[i]!);
    else out.push(`${head.what} at ${head.where} … ${splitAt(messages[j - 1]!)!.where} (${j - i} times)`);
    i = j;
  }
  return out;
}
