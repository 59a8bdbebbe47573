// A guest that stays up: qemu-system-aarch64 booted once with kernel/guest.ts's sessionInit, then fed one shell line
// at a time over its serial console, each answered by "@@@ ack N" once it has run. Scenarios (and generated runs)
// are sent one step at a time, so the host shows progress as the guest works and can decide what to run next from
// what it has seen (shrinking a failing run in the same guest). Everything the guest printed is kept as one console
// text, in the format kernel/compare.ts's parseConsole reads.
//
// DISPATCH_SPEC_GUEST_LOGLEVEL=N adds loglevel=N to the guest's command line (to see its WARNs while debugging a
// run; the answers do not depend on it).
// Limits: a line must fit the console's canonical line (at most 4 000 bytes here); every wait has a wall-clock guard
// against a hung guest, and a guard that fires fails the session (SessionError), it never changes an answer.

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KernelFiles } from "./fetch.ts";
import { FTRACE_BUG_LOG, initramfs, scenarioUnits, sessionInit, type GuestScenario, type GuestSetup } from "./guest.ts";

export class SessionError extends Error {}

/** What the kernel logs when ftrace_bug kills ftrace, or when the kernel oopses (a BRK at a patch-site, say). */
export const KERNEL_BROKEN = new RegExp(`${FTRACE_BUG_LOG.source}|Internal error: |Kernel panic`);

/** The longest command line the guest's console takes in one read (N_TTY's canonical buffer is 4 095 bytes). */
export const MAX_LINE = 4000;
/** Guards against a hung guest (wall clock): the boot and set-up, and one command line. */
const BOOT_GUARD_MS = 10 * 60 * 1000;
const LINE_GUARD_MS = 5 * 60 * 1000;

export interface SessionOptions {
  readonly kaslr: boolean;
  readonly image?: string;
  /** A file the console is written to as it arrives (so a hung guest can be looked at while it hangs). */
  readonly log?: string;
  /** Add to the log instead of starting it afresh (a guest booted in place of one a run broke). */
  readonly appendLog?: boolean;
}

export class GuestSession {
  private text = "";
  private acks = 0;
  private sent = 0;
  private exited: string | null = null;
  private waiter: (() => void) | null = null;
  private readonly started = performance.now();

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly dir: string,
    private readonly log: string | undefined,
    appendLog: boolean,
  ) {
    if (log !== undefined && !appendLog) writeFileSync(log, "");
    if (log !== undefined && appendLog) appendFileSync(log, "\n--- dispatch-spec: a new guest, booted in place of one a run broke ---\n");
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      const before = this.text.length;
      const clean = d.replace(/\r/g, "");
      this.text += clean;
      if (this.log !== undefined) appendFileSync(this.log, clean);
      // Count the acks in what just arrived (a line may be split across chunks: look back one line).
      const from = this.text.lastIndexOf("\n", Math.max(0, before - 1));
      const fresh = this.text.slice(from + 1);
      for (const m of fresh.matchAll(/^@@@ ack (\d+)$/gm)) this.acks = Math.max(this.acks, Number(m[1]));
      this.waiter?.();
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => {
      this.text += d.replace(/\r/g, "");
    });
    child.on("exit", (code, signal) => {
      this.exited = `qemu-system-aarch64 exited (${signal ?? `code ${code ?? "?"}`})`;
      this.waiter?.();
    });
    child.on("error", (e) => {
      this.exited = `qemu-system-aarch64: ${e.message}`;
      this.waiter?.();
    });
  }

  /** Boot the guest and wait until its set-up is done ("@@@ ready"). */
  static async start(files: KernelFiles, setup: GuestSetup, opts: SessionOptions): Promise<GuestSession> {
    const dir = mkdtempSync(join(tmpdir(), "dispatch-spec-session-"));
    const initrd = initramfs(files, sessionInit(setup), dir);
    // panic=-1: a panicking guest reboots at once, which -no-reboot turns into QEMU's exit (not a 5-minute guard).
    const append = `console=ttyAMA0 rdinit=/init quiet panic=-1 ${process.env["DISPATCH_SPEC_GUEST_LOGLEVEL"] !== undefined ? `loglevel=${process.env["DISPATCH_SPEC_GUEST_LOGLEVEL"]} ` : ""}${opts.kaslr ? "" : "nokaslr"}`.trim();
    const child = spawn(
      "qemu-system-aarch64",
      ["-M", "virt", "-cpu", "max", "-m", "1024", "-smp", "2", "-nographic", "-nic", "none", "-no-reboot", "-kernel", opts.image ?? files.image, "-initrd", initrd, "-append", append],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    const s = new GuestSession(child, dir, opts.log, opts.appendLog === true);
    try {
      await s.until(() => /^@@@ ready$/m.test(s.text), BOOT_GUARD_MS, "the guest's set-up");
    } catch (e) {
      s.kill();
      throw e;
    }
    return s;
  }

  /** Everything the guest printed so far. */
  get console(): string {
    return this.text;
  }

  /** Seconds since the boot began. */
  get seconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  private until(done: () => boolean, guardMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new SessionError(`${what}: no answer from the guest in ${guardMs / 1000} s (a wall-clock guard against a hang); last console lines: ${this.tail(3)}`));
      }, guardMs);
      const check = (): void => {
        if (done()) {
          clearTimeout(timer);
          this.waiter = null;
          resolve();
        } else if (this.exited !== null) {
          clearTimeout(timer);
          this.waiter = null;
          reject(new SessionError(`${what}: ${this.exited}; last console lines: ${this.tail(3)}`));
        }
      };
      this.waiter = check;
      check();
    });
  }

  private tail(n: number): string {
    return this.text.trimEnd().split("\n").slice(-n).join(" | ");
  }

  /** Run one command line in the guest's shell; resolves with what it printed. */
  async run(line: string): Promise<string> {
    if (line.includes("\n")) throw new SessionError("a guest command is one line");
    if (Buffer.byteLength(line) > MAX_LINE) throw new SessionError(`a guest command of ${Buffer.byteLength(line)} bytes is over the console's ${MAX_LINE}`);
    const from = this.text.length;
    const n = ++this.sent;
    this.child.stdin.write(`${line}\n`);
    await this.until(() => this.acks >= n, LINE_GUARD_MS, `guest command ${n}`);
    const out = this.text.slice(from);
    return out.slice(0, out.lastIndexOf(`@@@ ack ${n}`));
  }

  /**
   * The first line of the kernel's log saying ftrace or the kernel itself broke (ftrace_bug's report, an oops), or
   * null. Read from the log buffer, not the console, which the quiet boot keeps to errors.
   */
  async kernelBroken(): Promise<string | null> {
    const out = await this.run(`dmesg | grep -m1 -E '${KERNEL_BROKEN.source}' | while read -r l; do echo "@@@ broken $l"; done`);
    const m = /^@@@ broken (.*)$/m.exec(out);
    return m === null ? null : m[1]!.trim();
  }

  /** Run a scenario planned for the guest (as scenario number si of the console), a step at a time, then clean up. */
  async runScenario(p: GuestScenario, si: number, onStep: (step: number, of: number) => void = () => {}): Promise<void> {
    const u = scenarioUnits(p, si);
    for (const [i, unit] of u.steps.entries()) {
      await this.run(unit.join("; "));
      onStep(i, u.steps.length - 1);
    }
    await this.run(u.cleanup.join("; "));
  }

  /** Power the guest off and wait for QEMU to exit; the console is complete then. */
  async stop(): Promise<void> {
    if (this.exited === null) {
      this.child.stdin.write('echo "@@@ end"; poweroff -f\n');
      this.child.stdin.end();
      await this.until(() => this.exited !== null, 60_000, "powering off").catch(() => this.kill());
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** End QEMU now (a failed session). */
  kill(): void {
    if (this.exited === null) this.child.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}
