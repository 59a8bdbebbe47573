// Helpers for the properties' tests.

/** A slow-down hook: each call spins for `ms` milliseconds, as a loaded or slow machine would run the same work. */
export function busyWait(ms: number): () => void {
  return () => {
    const until = performance.now() + ms;
    while (performance.now() < until) {
      // spin
    }
  };
}
