// The generated-run runner without a kernel: a guest stand-in whose kernel "breaks" in a chosen run shows that the
// run says so and that the next run gets a new guest, never the broken one.

import { describe, expect, it } from "vitest";
import { parseScenario } from "../model/scenario.ts";
import { GuestRunner, type Guest } from "./generated.ts";
import { SessionError } from "./session.ts";

/** A guest that answers nothing, whose kernel log says ftrace broke once `breakAt` runs have been made. */
function standIn(name: string, breakAt: number | null, log: string[]): Guest {
  let runs = 0;
  return {
    console: "",
    runScenario: async () => {
      runs++;
      log.push(`${name} run ${runs}`);
    },
    kernelBroken: async () => (breakAt !== null && runs >= breakAt ? "ftrace failed to modify [<ffff800080001000>] bm_status_write" : null),
    stop: async () => void log.push(`${name} stopped`),
    kill: () => void log.push(`${name} killed`),
  };
}

const run = parseScenario({ variant: "upstream", functions: [{ name: "f", addr: "0xffff800009000000" }], steps: [{ do: "call", fn: "f" }] });

describe("GuestRunner", () => {
  it("says when a run broke the kernel, and runs the next in a new guest", async () => {
    const log: string[] = [];
    let boots = 0;
    const r = new GuestRunner(standIn("first", 2, log), { direct: "dsmod", ordinary: "dsmod" }, async () => standIn(`guest ${++boots}`, null, log));
    const a = await r.run(run, "a");
    const b = await r.run(run, "b");
    const c = await r.run(run, "c");
    expect(a.kernelBroke).toBeNull();
    expect(b.kernelBroke).toMatch(/ftrace failed to modify/);
    expect(b.problems.some((p) => p.startsWith("the kernel broke during the run: ftrace failed"))).toBe(true);
    expect(c.kernelBroke).toBeNull();
    expect(log).toEqual(["first run 1", "first run 2", "first stopped", "guest 1 run 1"]);
    expect(r.reboots).toBe(1);
  });

  it("judges a run whose guest died (a panic) on what it showed, and boots another; without a way to, it gives up", async () => {
    const log: string[] = [];
    const dying: Guest = { ...standIn("dying", null, log), runScenario: async () => Promise.reject(new SessionError("qemu-system-aarch64 exited (code 0)")) };
    const r = new GuestRunner(dying, { direct: "dsmod", ordinary: "dsmod" }, async () => standIn("next", null, log));
    expect((await r.run(run, "a")).kernelBroke).toBe("the guest stopped: qemu-system-aarch64 exited (code 0)");
    expect((await r.run(run, "b")).kernelBroke).toBeNull();
    expect(log).toEqual(["dying stopped", "next run 1"]);
    await expect(new GuestRunner(dying).run(run, "c")).rejects.toThrow(SessionError);
  });

  it("without a way to boot another guest, keeps the broken one and says so for every later run", async () => {
    const log: string[] = [];
    const r = new GuestRunner(standIn("only", 1, log));
    expect((await r.run(run, "a")).kernelBroke).not.toBeNull();
    expect((await r.run(run, "b")).kernelBroke).not.toBeNull();
    expect(log).toEqual(["only run 1", "only run 2"]);
  });
});
