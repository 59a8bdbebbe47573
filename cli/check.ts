// `dispatch-spec check`: every property on the upstream variant, spread over worker threads (one per core, at
// most two here), with a progress line, a table of verdicts, and each failure's counterexample as a scenario.

import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import cliProgress from "cli-progress";
import type { Outcome } from "../properties/property.ts";
import { batchKey, type Job } from "./check-worker.ts";
import { intFlag } from "./common.ts";
import { InputError } from "./load.ts";
import { loadedDesignFiles } from "./design-file.ts";
import { behaviourKey, registeredImages, variantByName } from "../model/variants/index.ts";

export interface Progress {
  readonly start: (total: number) => void;
  readonly tick: (runs: number) => void;
  readonly stop: () => void;
  /** Print a line while the run goes on (above a terminal's bar); absent: the command prints it as any other. */
  readonly log?: (line: string) => void;
}

export const silentProgress: Progress = { start: () => {}, tick: () => {}, stop: () => {} };

/** On a log (not a terminal): one line at most every 10 s, so a long run shows it is alive without flooding. */
export function lineProgress(write: (s: string) => void, now: () => number = () => Date.now()): Progress {
  let total = 0;
  let done = 0;
  let last = 0;
  return {
    start: (t) => {
      total = t;
      done = 0;
      last = now();
    },
    tick: (runs) => {
      done += runs;
      if (now() - last < 10_000) return;
      last = now();
      write(`progress: ${done}/${total} runs (${Math.floor((100 * done) / Math.max(1, total))}%)\n`);
    },
    stop: () => {},
  };
}

/** A progress bar on stderr when it is a terminal; a periodic line when it is a log. */
export function terminalProgress(): Progress {
  if (process.stderr.isTTY !== true) return lineProgress((s) => process.stderr.write(s));
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: "checking {bar} {value}/{total} runs ({percentage}%) {eta_formatted} left", hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  return {
    start: (total) => bar.start(total, 0),
    tick: (runs) => bar.increment(runs),
    stop: () => bar.stop(),
    // Clear the bar's line, print, and draw the bar again below.
    log: (line) => {
      process.stderr.write("\r\u001b[K");
      process.stdout.write(line);
      bar.render();
    },
  };
}

/**
 * A worker thread running `module`, knowing every design read from a binary (--entry) or loaded from a file
 * (--design) in this run.
 */
export function spawnWorker(module?: string): Worker {
  return new Worker(new URL("./worker-boot.js", import.meta.url), { workerData: { ...(module !== undefined ? { module } : {}), entries: registeredImages(), designFiles: loadedDesignFiles() } });
}

function spawn(): Worker {
  return spawnWorker();
}

/**
 * Hand jobs to a pool of workers in turn, one at a time each, and collect the replies in job order. `reply` reads
 * each message a worker posts: the job's reply, or undefined for a message along the way (e.g. progress).
 */
export async function dispatch<J, M, R>(pool: ReadonlyArray<Worker>, jobs: ReadonlyArray<J>, reply: (m: M, job: number) => R | undefined): Promise<Array<R | undefined>> {
  const replies = new Array<R | undefined>(jobs.length);
  let next = 0;
  await Promise.all(
    pool.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          let current = -1;
          const give = (): void => {
            if (next >= jobs.length) {
              w.off("message", onMessage);
              w.off("error", reject);
              resolve();
              return;
            }
            current = next++;
            w.postMessage(jobs[current]);
          };
          const onMessage = (m: M): void => {
            const r = reply(m, current);
            if (r === undefined) return;
            replies[current] = r;
            give();
          };
          w.on("message", onMessage);
          w.on("error", reject);
          give();
        }),
    ),
  );
  return replies;
}

/**
 * Run the jobs on up to `workers` threads; outcomes come back in job order. Jobs that share a design, seed, run
 * count and kind go to one worker as a batch, whose generated runs are executed once for all of them.
 */
export async function runJobs(allJobs: ReadonlyArray<Job>, workers: number, progress: Progress, onFailure?: (o: Outcome) => void): Promise<Outcome[]> {
  // A cell whose design behaves exactly as another cell's (a bug of the history that is upstream with one of the
  // suite's mutants) with the same property, seed and runs is the same computation: run it once.
  const firstOf = new Map<string, number>();
  const sameAs = allJobs.map((j, i) => {
    const d = variantByName(j.variant);
    const key = `${d === undefined ? `name:${j.variant}` : behaviourKey(d)}\u0000${j.property}\u0000${batchKey({ ...j, variant: "" })}`;
    const first = firstOf.get(key);
    if (first === undefined) firstOf.set(key, i);
    return first ?? i;
  });
  const unique = allJobs.map((_, i) => i).filter((i) => sameAs[i] === i);
  const jobs = unique.map((i) => allJobs[i]!);
  const groups = new Map<string, number[]>();
  jobs.forEach((j, i) => {
    const key = batchKey(j);
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  // The biggest batches first, so the last one to finish is a short one.
  const batches = [...groups.values()].sort((a, b) => b.length * jobs[b[0]!]!.runs - a.length * jobs[a[0]!]!.runs);
  const n = Math.max(1, Math.min(workers, batches.length));
  progress.start(jobs.reduce((s, j) => s + j.runs, 0));
  const pool = Array.from({ length: n }, spawn);
  const ticked: number[] = [];
  let replies: Array<Outcome[] | undefined>;
  try {
    replies = await dispatch(
      pool,
      batches.map((b) => b.map((i) => jobs[i]!)),
      (m: { type: "progress"; runs: number } | { type: "found"; outcome: Outcome } | { type: "done"; outcomes: Outcome[] }, b) => {
        // A failure as soon as a worker has it (shrunk), while the rest of its batch runs on.
        if (m.type === "found") {
          onFailure?.(m.outcome);
          return undefined;
        }
        const planned = batches[b]!.reduce((n, i) => n + jobs[i]!.runs, 0);
        if (m.type === "done") {
          // A cell that fails stops before its planned runs: its batch's remainder counts as done, so the bar ends at 100%.
          progress.tick(Math.max(0, planned - (ticked[b] ?? 0)));
          return m.outcomes;
        }
        // Shrinking runs count too in the worker's ticks; the bar counts planned runs, so a batch never passes its own.
        const n = Math.min(m.runs, planned - (ticked[b] ?? 0));
        if (n > 0) {
          ticked[b] = (ticked[b] ?? 0) + n;
          progress.tick(n);
        }
        return undefined;
      },
    );
  } finally {
    progress.stop();
    await Promise.all(pool.map((w) => w.terminate()));
  }
  const outcomes = new Array<Outcome | undefined>(jobs.length);
  batches.forEach((b, bi) => b.forEach((i, k) => (outcomes[i] = replies[bi]?.[k])));
  // A design's own code that threw is the file's fault, not a verdict: one line, and the command stops (exit 2).
  const fault = outcomes.find((o) => o?.fault !== undefined)?.fault;
  if (fault !== undefined) throw new InputError(fault);
  const byJob = new Map(unique.map((ji, u) => [ji, outcomes[u]] as const));
  return allJobs.map((j, i) => {
    const o = byJob.get(sameAs[i]!);
    if (o === undefined) return { property: j.property, variant: j.variant, runs: 0, ok: false, seed: j.seed, ms: 0, error: "no outcome" };
    return sameAs[i] === i ? o : relabel(o, j.variant);
  });
}

/** Another cell's outcome under this cell's design name (the counterexample file names it too). */
function relabel(o: Outcome, variant: string): Outcome {
  const cx = o.counterexample;
  return {
    ...o,
    variant,
    ms: 0,
    ...(cx === undefined ? {} : { counterexample: { ...cx, variant, ...(cx.counterexample === undefined ? {} : { counterexample: { ...cx.counterexample, variant } }) } }),
  };
}

export function defaultWorkers(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

/** --workers: at least 1, at most the machine's cores (more threads only slow a run down), default defaultWorkers(). */
export function workersFlag(v: string | undefined): number {
  const n = intFlag("workers", v, defaultWorkers(), 1);
  const cores = availableParallelism();
  if (n > cores) throw new InputError(`--workers: at most ${cores} (this machine's cores), got ${n}`);
  return n;
}
