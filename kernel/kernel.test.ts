// The kernel-in-the-loop driver without a kernel: how scenarios become guest actions, and the comparison replayed
// on consoles recorded from real boots of Debian's 6.12 arm64 kernel (kernel/fixtures/, with and without KASLR),
// where the model predicted every site.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadScenario } from "../cli/load.ts";
import { parseScenario } from "../model/scenario.ts";
import { dumpAgainstDebian } from "../cli/kernel.ts";
import type { Design } from "../model/kernel.ts";
import { debian612Image } from "../model/variants/debian-6.12.ts";
import { reachableByBl } from "../model/insn.ts";
import { SZ_128M } from "../model/layout.ts";
import { bootedDesign, bootedImage, compareScenario, modelTrampolines, parseConsole } from "./compare.ts";
import { initScript, KernelScenarioError, KERNEL_FUNCTIONS, MODULE_FUNCTIONS, planScenario } from "./guest.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const DIR = join(HERE, "scenarios");
const plans = readdirSync(DIR)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => planScenario(`kernel/scenarios/${f}`, loadScenario(join(DIR, f))));

const base = { variant: "upstream", functions: [{ name: "f", addr: "0xffff800009000000" }] };

describe("planScenario", () => {
  it("maps function names onto syscall entry points and binfmt_misc's functions", () => {
    const p = plans.find((x) => x.name.includes("k10"))!;
    expect(p.real.get("f")).toBe(KERNEL_FUNCTIONS[0]);
    expect(p.real.get("m")).toBe(MODULE_FUNCTIONS[0]);
  });

  it("gives each function of a direct ops its BPF trampoline's own direct ops, as BPF does", () => {
    const p = plans.find((x) => x.name.includes("k11"))!;
    expect(p.steps[0]!.model.map((s) => ("ops" in s ? s.ops : ""))).toEqual(["bpf.f", "bpf.g"]);
    expect(p.steps[0]!.shell.join("\n")).toMatch(/kagent fentry __arm64_sys_sethostname \/sys\/fs\/bpf\/D_f_0/);
  });

  it("lets a second direct ops join a function's BPF trampoline (rebuilt, not refused), and rebuilds it when one leaves", () => {
    const p = plans.find((x) => x.name.includes("k21"))!;
    const at = (i: number): (typeof p.steps)[number] => p.steps[i - 1]!;
    expect(at(1).model).toEqual([{ do: "register_ftrace_direct", ops: "bpf.f", filter: ["f"], addr: "T.bpf.f.0" }]);
    expect(at(2).model).toEqual([{ do: "modify_ftrace_direct", ops: "bpf.f", addr: "T.bpf.f.1" }]);
    expect(at(3).call!.pins.map((x) => `${x.label}:${x.ops}`)).toEqual(["D.f:bpf.f", "E.f:bpf.f"]);
    // D leaves, E stays: its links detached at once, the trampoline rebuilt (one image left) and the site moved.
    expect(at(4).shell).toEqual(["kagent detach __arm64_sys_sethostname 1 /sys/fs/bpf/D_f_0"]);
    expect(at(4).model).toEqual([{ do: "modify_ftrace_direct", ops: "bpf.f", addr: "T.bpf.f.2" }]);
    expect(at(4).attached).toEqual([{ fn: "f", ops: "bpf.f", n: 2, via: "detach" }]);
    // The last program leaves: no image left, the trampoline's ops unregistered.
    expect(at(11).shell[0]).toBe("kagent detach __arm64_sys_sethostname 0 /sys/fs/bpf/E_f_1");
    expect(at(11).model).toEqual([{ do: "unregister_ftrace_direct", ops: "bpf.f", free_filters: true }]);
    expect(at(11).detached).toEqual(["f"]);
  });

  it("refuses what the guest cannot do, with the step it is about", () => {
    const bad = (steps: unknown[]): (() => unknown) => () => planScenario("x", parseScenario({ ...base, steps }));
    expect(bad([{ do: "register_ftrace_function", ops: "A", filter: [] }])).toThrow(/step 1 .*every function/);
    expect(bad([{ do: "register_ftrace_function", ops: "A", filter: ["f"], flags: ["SAVE_REGS"] }])).toThrow(KernelScenarioError);
    expect(bad([{ do: "register_ftrace_function", ops: "A", filter: ["f"] }, { do: "register_ftrace_function", ops: "A", filter: ["f"] }])).toThrow(/step 2 .*already registered/);
    expect(bad([{ do: "modify_ftrace_direct", ops: "D", addr: "ftrace_stub_direct_tramp" }])).toThrow(/not registered/);
  });

  it("writes one init for all scenarios, reading every site after every step and cleaning up between them", () => {
    const s = initScript(plans);
    expect(s.match(/^kagent at \$L \$A$/gm)?.length).toBe(plans.reduce((n, p) => n + p.steps.length + 1, 0));
    expect(s).toContain(`echo "@@@ scenario ${plans.length - 1} step 0"`);
    expect(s.trim().endsWith("poweroff -f")).toBe(true);
    expect(s).toContain('echo "@@@ entry"\nkagent dump\n');
  });
});

describe("the kernel's log, read after every step", () => {
  it("counts ftrace_bug's reports per step", () => {
    const run = parseConsole(["@@@ scenario 0 step 0", "@@@ ftrace-bugs 0", "@@@ scenario 0 step 1", "### {\"ret\":0}", "@@@ ftrace-bugs 1", "@@@ scenario 0 step 2"].join("\n"));
    expect(run.steps[0]!.map((o) => o.ftraceBugs)).toEqual([0, 1, null]);
    expect(run.steps[0]![1]!.rets).toEqual([0]);
  });

  it("is asked by every step of a scenario, with the patterns of ftrace_bug's messages", () => {
    const s = initScript(plans.slice(0, 1));
    expect(s.match(/^echo "@@@ ftrace-bugs \$\(dmesg \| grep -cE 'ftrace \(failed to modify\|faulted on\)'\)"$/gm)?.length).toBe(plans[0]!.steps.length + 1);
  });
});

describe("comparison on recorded boots of Debian's 6.12 arm64 kernel", () => {
  for (const mode of ["off", "on"] as const) {
    it(`predicts every site with KASLR ${mode}`, () => {
      const run = parseConsole(readFileSync(join(HERE, "fixtures", `debian-6.12-kaslr-${mode}.console`), "utf8"));
      expect(run.ended).toBe(true);
      let rows = 0;
      plans.forEach((p, i) => {
        const c = compareScenario(p, i, run);
        expect(c.problems).toEqual([]);
        expect(c.rows.filter((r) => r.differs)).toEqual([]);
        rows += c.rows.length;
      });
      // Every function after every step (and at boot), plus one row per call and one per return code dsmod read back.
      const rets = (p: (typeof plans)[number]): number => p.steps.filter((st) => st.rets).reduce((n, st) => n + st.model.filter((m) => m.do !== "call").length, 0);
      expect(rows).toBe(plans.reduce((n, p) => n + (p.steps.length + 1) * p.scenario.functions.length + p.steps.filter((st) => st.call !== undefined).length + rets(p), 0));
    });
  }

  it("sees the three seed cases, the module PLT and calls through both kinds of ops across the two boots", () => {
    const all = (["off", "on"] as const).flatMap((mode) => {
      const run = parseConsole(readFileSync(join(HERE, "fixtures", `debian-6.12-kaslr-${mode}.console`), "utf8"));
      return plans.flatMap((p, i) => compareScenario(p, i, run).rows.map((r) => r.kernel));
    });
    expect(all).toContain("bpf.f | mov x9, x30 | bl T.bpf.f.0");
    expect(all).toContain("bpf.f | mov x9, x30 | bl ftrace_caller");
    expect(all).toContain("bpf.f | mov x9, x30 | bl T.bpf.f.1");
    expect(all.some((k) => k.endsWith("bl binfmt_misc.ftrace_plt"))).toBe(true);
    expect(all.some((k) => k.startsWith("ftrace_list_ops"))).toBe(true);
    // Calls: a direct ops' trampoline and an ordinary ops' handler both ran once, as the model said.
    expect(all).toContain("ran: Ax1 D.fx1");
  });

  it("dumps, in each boot, the ftrace_caller the kernel runs: the committed debian-6.12 design's words, wherever KASLR puts them", () => {
    const runs = (["off", "on"] as const).map((mode) => parseConsole(readFileSync(join(HERE, "fixtures", `debian-6.12-kaslr-${mode}.console`), "utf8")));
    for (const run of runs) expect(dumpAgainstDebian(run, false)).toMatchObject({ ok: true, line: expect.stringContaining("word for word the committed debian-6.12 design") as unknown });
    const [off, on] = runs.map((r) => bootedImage(r)!);
    expect(off!.code[0]!.addr).toBe(debian612Image.code[0]!.addr);
    expect(on!.code[0]!.addr).not.toBe(off!.code[0]!.addr);
    // A stale design is a problem of the run, and a kernel of the user's own (--image) is only described.
    const other = { ...runs[0]!, entry: { ...(runs[0]!.entry as object), release: "x", code: [] } };
    expect(dumpAgainstDebian(other, false).ok).toBe(false);
    expect(dumpAgainstDebian({ ...runs[0]!, entry: null }, false)).toEqual({ ok: false, line: "the guest wrote no dump of ftrace_caller" });
  });

  it("reports a site the model gets wrong", () => {
    const text = readFileSync(join(HERE, "fixtures", "debian-6.12-kaslr-off.console"), "utf8");
    // Pretend the kernel left the first scenario's site on the nop ops after A registered.
    const lines = text.split("\n");
    const at = lines.indexOf("@@@ scenario 0 step 1");
    const sites = lines.slice(at + 1).filter((l) => l.startsWith('{"at"'));
    const site = JSON.parse(sites[0]!) as Record<string, string>;
    const nop = JSON.parse(sites[1]!) as Record<string, string>;
    lines[lines.indexOf(sites[0]!, at)] = JSON.stringify({ ...site, lit: nop["lit"], instance: "", w1: "d503201f", bl_addr: "0x0" });
    const c = compareScenario(plans[0]!, 0, parseConsole(lines.join("\n")));
    expect(c.rows.filter((r) => r.differs).map((r) => `${r.step} ${r.fn}`)).toEqual(["1 f (__arm64_sys_sethostname)"]);
  });

  for (const mode of ["off", "on"] as const) {
    it(`shares a function's BPF trampoline between two direct ops, whose images reuse freed addresses, with KASLR ${mode}`, () => {
      const si = plans.findIndex((p) => p.name.includes("k21"));
      const run = parseConsole(readFileSync(join(HERE, "fixtures", `debian-6.12-kaslr-${mode}.console`), "utf8"));
      const reports = run.steps[si]!.flatMap((o) => o?.fentries ?? []);
      const images = reports.flatMap((f) => f.tramps);
      // The boot gave later images freed ones' addresses (what the scenario is for), and kagent reported each image
      // once the one it replaced was gone.
      expect(new Set(images).size).toBeLessThan(images.length);
      expect(reports.every((f) => f.settled === true)).toBe(true);
      const c = compareScenario(plans[si]!, si, run);
      expect(c.problems).toEqual([]);
      expect(c.rows.filter((r) => r.differs)).toEqual([]);
      expect(c.rows.map((r) => r.kernel)).toContain("ran: D.fx1 E.fx1");
    });
  }

  it("names a reused image address by the image the kernel put there last: a site left on a freed image is a difference", () => {
    const si = plans.findIndex((p) => p.name.includes("k21"));
    const text = readFileSync(join(HERE, "fixtures", "debian-6.12-kaslr-off.console"), "utf8");
    const run = parseConsole(text);
    const image = (step: number): string => run.steps[si]![step]!.fentries[0]!.tramps[0]!;
    // In this boot g's first image (step 9) has the address f's second (step 2) had.
    expect(image(9)).toBe(image(2));
    // Pretend f's site still branched there after step 9.
    const lines = text.split("\n");
    const at = lines.indexOf(`@@@ scenario ${si} step 9`);
    const f = run.syms.get("__arm64_sys_sethostname")!;
    const k = lines.findIndex((l, j) => j > at && l.startsWith('{"at"') && BigInt((JSON.parse(l) as { at: string }).at) === f);
    lines[k] = JSON.stringify({ ...(JSON.parse(lines[k]!) as object), bl_addr: image(2) });
    const c = compareScenario(plans[si]!, si, parseConsole(lines.join("\n")));
    const differs = c.rows.filter((r) => r.differs);
    expect(differs.map((r) => `${r.step} ${r.fn}`)).toEqual(["9 f (__arm64_sys_sethostname)"]);
    expect(differs[0]!.kernel).toBe("bpf.f | mov x9, x30 | bl T.bpf.g.0");
    expect(differs[0]!.model).toBe("bpf.f | mov x9, x30 | bl T.bpf.f.2");
  });
});

describe("fgraph subops on two kernels: the merge before and after 0ae6b8ce200d", () => {
  const fgraph = plans.filter((p) => /k1[345]-/.test(p.name));
  const diffs = (console: string, design?: Design): string[] => {
    const run = parseConsole(readFileSync(join(HERE, "fixtures", console), "utf8"));
    return fgraph.flatMap((p, i) => {
      const c = compareScenario(p, i, run, design ?? bootedDesign(run).design);
      expect(c.problems).toEqual([]);
      return c.rows.filter((r) => r.differs).map((r) => `${p.name.replace(/.*\/(k\d+).*/, "$1")} ${r.step} ${r.fn.split(" ")[0]}`);
    });
  };

  it("Debian's 7.3.4 (trixie-backports, recorded with k13 to k19) runs today's merge, and the model predicts it", () => {
    const run = parseConsole(readFileSync(join(HERE, "fixtures", "debian-7.3.4-kaslr-off.console"), "utf8"));
    const d = bootedDesign(run);
    expect(d.problem).toBeNull();
    expect(d.design.subopsHashRule).toBeUndefined();
    // struct ftrace_ops shrank from 216 to 200 bytes between the two releases (BTF says so).
    expect(d.design.ops.size).toBe(200);
    expect(diffs("debian-7.3.4-kaslr-off.console")).toEqual([]);
  });

  it("each kernel refutes the other's merge: 7.3.4 is not the old one, and 6.12.117 is not today's", () => {
    const run73 = parseConsole(readFileSync(join(HERE, "fixtures", "debian-7.3.4-kaslr-off.console"), "utf8"));
    const old = { ...bootedDesign(run73).design, subopsHashRule: "append-intersect" as const };
    expect(diffs("debian-7.3.4-kaslr-off.console", old).length).toBeGreaterThan(0);
    const run612 = parseConsole(readFileSync(join(HERE, "fixtures", "debian-6.12-kaslr-off.console"), "utf8"));
    const today: Design = { ...bootedDesign(run612).design, subopsHashRule: undefined };
    const all = plans.flatMap((p, i) => compareScenario(p, i, run612, today).rows.filter((r) => r.differs).map((r) => `${p.name.replace(/.*\/(k\d+).*/, "$1")} ${r.step}`));
    expect(new Set(all.map((x) => x.split(" ")[0]))).toEqual(new Set(["k13", "k14", "k15"]));
  });
});


describe("dsmod in the plans", () => {
  it("gives RECURSION and RCU ops to dsmod, and refuses what it cannot do, with the step", () => {
    const p = plans.find((x) => x.name.includes("k16"))!;
    expect(p.dsmod).toEqual(["R"]);
    expect(p.steps[0]!.shell.join("\n")).toContain('echo "reg R RECURSION __arm64_sys_sethostname" > /sys/kernel/debug/dispatch_spec/ctl 2>/dev/null; cat /sys/kernel/debug/dispatch_spec/ret');
    // k16 asks for R's recursion probe (guest.probe); without it the probe stays off.
    expect(p.steps[0]!.shell.join("\n")).toContain('echo "recurse R 8"');
    expect(p.steps[3]!.call?.dsmod).toEqual(["R"]);
    const bad = (steps: unknown[]) => () => planScenario("x", parseScenario({ ...base, steps }));
    expect(bad([{ do: "register_ftrace_function", ops: "R", filter: ["f"], flags: ["RECURSION", "SAVE_REGS"] }])).toThrow(/step 1 .*RECURSION, RCU and IPMODIFY make a dsmod ops/);
    expect(bad([{ do: "register_ftrace_function", ops: "R", filter: ["f"], flags: ["RECURSION"] }, { do: "unregister_ftrace_function", ops: "R" }, { do: "register_ftrace_function", ops: "R", filter: ["f"] }])).toThrow(
      /step 3 .*R was a dsmod ops and cannot become a tracer instance/,
    );
    expect(bad([{ do: "ftrace_set_filter", ops: "A", filter: ["f"] }])).toThrow(/step 1 .*A is no tracer instance yet/);
    expect(bad([{ do: "unregister_ftrace_function", ops: "A" }])).toThrow(/step 1 .*A is not registered/);
    expect(() => planScenario("x", parseScenario({ ...base, guest: { probe: ["Q"] }, steps: [] }))).toThrow(/guest.probe names Q/);
  });

  it("keeps the recursion probe off unless the scenario asks, and gives a dsmod ops its notrace and live filters", () => {
    const p = planScenario("x", parseScenario({ ...base, functions: [...base.functions, { name: "g", addr: "0xffff800009001000" }], steps: [
      { do: "register_ftrace_function", ops: "R", filter: ["f", "g"], notrace: ["g"], flags: ["RCU"] },
      { do: "ftrace_set_filter", ops: "R", filter: ["g"] },
      { do: "ftrace_set_notrace", ops: "R", notrace: [] },
    ] }));
    const sh = p.steps.map((st) => st.shell.join("\n"));
    expect(sh[0]).toContain('echo "reg R RCU __arm64_sys_sethostname __arm64_sys_setdomainname -- __arm64_sys_setdomainname"');
    expect(sh[0]).not.toContain("recurse");
    expect(sh[1]).toContain('echo "filter R __arm64_sys_setdomainname"');
    expect(sh[2]).toContain('echo "notrace R"');
    expect(p.steps.every((st) => st.rets)).toBe(true);
  });

  it("loads the module only when a scenario needs it", () => {
    expect(initScript(plans.filter((p) => p.dsmod.length === 0))).not.toContain("kagent load");
    expect(initScript(plans)).toContain("kagent load /dsmod.ko");
  });
});

describe("the CALL_OPS survivor on the recorded boots of Debian's 6.12.117", () => {
  for (const mode of ["off", "on"] as const) {
    it(`shows R in f's literal and its callback called from ftrace_caller, recursing to the bound, with KASLR ${mode}`, () => {
      const run = parseConsole(readFileSync(join(HERE, "fixtures", `debian-6.12-kaslr-${mode}.console`), "utf8"));
      expect(run.dsmodLoad).toBe("ok");
      const at = (name: string): ReturnType<typeof compareScenario> => compareScenario(plans.find((p) => p.name.includes(name))!, plans.findIndex((p) => p.name.includes(name)), run);
      for (const k of ["k16", "k18"]) {
        const c = at(k);
        expect(c.rows.find((r) => r.step === 3 && r.fn.startsWith("f "))?.kernel).toBe("R | mov x9, x30 | bl ftrace_caller");
        expect(c.rows.find((r) => r.fn.startsWith("call f"))?.kernel).toBe("ran: Px0 Rx1@caller");
        expect(c.notes.join("\n")).toMatch(/again 8 time\(s\), 8 level\(s\) deep/);
      }
      for (const k of ["k17", "k19"]) {
        const c = at(k);
        expect(c.rows.find((r) => r.step === 2 && r.fn.startsWith("call f"))?.kernel).toBe("ran: Rx1@list");
        expect(c.notes.join("\n")).toMatch(/again 1 time\(s\), 2 level\(s\) deep/);
      }
    });
  }
});

describe("the CALL_OPS survivor on Debian's 7.3.4 (the newest checked)", () => {
  it("is still there: R in f's literal, called from ftrace_caller, recursing to the bound; 0 differences", () => {
    const run = parseConsole(readFileSync(join(HERE, "fixtures", "debian-7.3.4-kaslr-off.console"), "utf8"));
    expect(run.dsmodLoad).toBe("ok");
    const recorded = plans.filter((p) => /k1[3-9]-/.test(p.name));
    const cs = recorded.map((p, i) => compareScenario(p, i, run));
    for (const c of cs) expect(c.rows.filter((r) => r.differs)).toEqual([]);
    const k16 = cs[recorded.findIndex((p) => p.name.includes("k16"))]!;
    expect(k16.rows.find((r) => r.fn.startsWith("call f"))?.kernel).toBe("ran: Px0 Rx1@caller");
    expect(k16.notes.join("\n")).toMatch(/8 level\(s\) deep/);
  });
});

describe("modelTrampolines", () => {
  it("keeps the kernel's addresses, and gives an image at a reused address a stand-in with the same BL reach, clear of the rest", () => {
    const f = 0xffff800080010000n;
    const near = f + SZ_128M - 0x2000n; // in range of f, two pages short of the edge
    const tramps = new Map([["T.bpf.f.0", near], ["T.bpf.f.1", near + 0xc0n], ["T.bpf.g.0", near]]);
    const out = modelTrampolines(tramps, { functions: [f], avoid: [] });
    expect(out.slice(0, 2)).toEqual([["T.bpf.f.0", near], ["T.bpf.f.1", near + 0xc0n]]);
    const [name, stand] = out[2]!;
    expect(name).toBe("T.bpf.g.0");
    expect(stand).not.toBe(near);
    expect(reachableByBl(f + 4n, stand)).toBe(true);
    for (const [, other] of out.slice(0, 2)) expect(stand > other ? stand - other : other - stand).toBeGreaterThanOrEqual(0x100n);
    // Where every nearby page changes the reach, there is no stand-in, and it says so.
    const edge = f + 4n + SZ_128M - 4n;
    expect(() => modelTrampolines(new Map([["a", edge], ["b", edge]]), { functions: [f, f + 4n + 0x1000n * 300n], avoid: [] })).toThrow(/no stand-in address/);
  });
});
