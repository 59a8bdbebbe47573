// `dispatch-spec kernel build [--patch FILE]...`: an arm64 kernel built from Debian's own source, with a kernel
// engineer's patches applied, so that the patched kernel (not our transcription of it) is the design under test.
//
// The source is Debian's `linux-source-6.12` at the version of the prebuilt kernel that `npm run kernel` boots
// (apt-get download, dpkg-deb -x, never installed), unpacked once into kernel/cache/linux-source/<version>/ and
// never written again. One work tree (kernel/cache/kbuild-work/: `src`, hard links to the pristine files, and `out`,
// kbuild's O= directory) is switched from one patch set to the next: the files the previous set touched are put back
// from the pristine tree, the new set is applied with GNU patch (which writes a new file, so a hard link to the
// pristine tree is never written through), and make rebuilds only what changed, because the paths kbuild recorded
// stay the same. The config is `make allnoconfig` with kernel/build/dispatch-spec.config, each of whose lines must
// then hold in the .config. What a build leaves (Image, vmlinux, System.map, the modules the guest loads) is copied to
// kernel/cache/kernels/<key>/, key = the source version, the config and the patches' contents, and renamed into
// place only when complete: a failed or interrupted build leaves no entry that looks good.

import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CACHE, KERNEL_VERSION } from "./fetch.ts";
import { buildModuleInTree, ModuleError, moduleFresh } from "./module.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
/** The committed config fragment. */
export const CONFIG_FRAGMENT = join(HERE, "build", "dispatch-spec.config");
/** The source package, at the prebuilt kernel's version (6.12.117-1: the same code Debian's Image was built from). */
export const SOURCE_VERSION = KERNEL_VERSION;
const SOURCE_PACKAGE = `linux-source-6.12=${SOURCE_VERSION}`;
const CROSS = "aarch64-linux-gnu-";
/** Host tools a build needs beyond kernel/fetch.ts's (the kernel's own host programs need flex, bison, bc, libelf, openssl). */
export const BUILD_TOOLS = ["aarch64-linux-gnu-gcc", "make", "gcc", "flex", "bison", "bc", "patch", "xz", "dpkg-deb", "apt-get", "perl"] as const;
export const BUILD_APT_LINE = "apt-get install -y --no-install-recommends gcc-aarch64-linux-gnu make gcc libc6-dev flex bison bc libssl-dev libelf-dev patch xz-utils perl";

/** Modules a built kernel must have for the guest (paths under kbuild's output directory). */
export const BUILT_MODULES = ["fs/binfmt_misc.ko", "samples/ftrace/ftrace-direct.ko", "samples/ftrace/ftrace-direct-multi.ko"] as const;

export class BuildError extends Error {}

/** A kernel built and cached: everything the guest and the gate need from it. */
export interface BuiltKernel {
  readonly key: string;
  readonly dir: string;
  readonly image: string;
  readonly vmlinux: string;
  readonly systemMap: string;
  /** `make kernelrelease`: what dsmod's vermagic must say. */
  readonly release: string;
  /** kbuild's output directory (for building dsmod against this kernel); it holds the last build, which may be another key's. */
  readonly tree: string;
  /** The patch files applied, in order, by file name. */
  readonly patches: ReadonlyArray<string>;
  /** Module name (binfmt_misc, ftrace-direct, ...) -> its .ko in the cache entry. */
  readonly modules: ReadonlyMap<string, string>;
  /** dispatch-spec's test module, built against this kernel's tree. */
  readonly dsmod: string;
  /** Whether it came from the cache. */
  readonly cached: boolean;
}

/** A patch as given on the command line: its name and its text. */
export interface PatchFile {
  readonly path: string;
  readonly text: string;
}

/** The cache key: the source version, the config fragment and every patch (order matters), hashed. */
export function buildKey(version: string, config: string, patches: ReadonlyArray<string>): string {
  const h = createHash("sha256");
  h.update(`source ${version}\n`);
  h.update(`config ${config.length}\n${config}`);
  for (const p of patches) h.update(`patch ${p.length}\n${p}`);
  return h.digest("hex").slice(0, 16);
}

/** The option lines of a config fragment: CONFIG_X=value, with `=n` standing for "is not set". */
export function fragmentOptions(fragment: string): ReadonlyArray<{ readonly name: string; readonly value: string }> {
  const out: Array<{ name: string; value: string }> = [];
  for (const raw of fragment.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (m === null) throw new BuildError(`${basename(CONFIG_FRAGMENT)}: not an option line: ${line}`);
    out.push({ name: m[1]!, value: m[2]! });
  }
  return out;
}

/** The options of the fragment that the resulting .config does not have as asked, each as "NAME=asked (got ...)". */
export function configShortfalls(fragment: string, dotConfig: string): string[] {
  const got = new Map<string, string>();
  for (const line of dotConfig.split("\n")) {
    const set = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (set !== null) got.set(set[1]!, set[2]!);
    const unset = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/.exec(line);
    if (unset !== null) got.set(unset[1]!, "n");
  }
  return fragmentOptions(fragment).flatMap(({ name, value }) => {
    const have = got.get(name) ?? "n";
    return have === value ? [] : [`${name}=${value} (got ${have === "n" && !got.has(name) ? "no such option in this tree, or its dependencies are off" : have})`];
  });
}

/** The files a patch touches, from GNU patch's dry run ("checking file X"). */
export function touchedFiles(dryRunOutput: string): string[] {
  const out: string[] = [];
  for (const line of dryRunOutput.split("\n")) {
    const m = /^checking file (.+)$/.exec(line.trim());
    if (m !== null && !out.includes(m[1]!)) out.push(m[1]!);
  }
  return out;
}

/** Why GNU patch refused a patch, in one line: the file and the hunk, or what it said. */
export function patchFailureLine(output: string): string {
  let file = "";
  for (const raw of output.split("\n")) {
    const line = raw.trim();
    const f = /^checking file (.+)$/.exec(line);
    if (f !== null) file = f[1]!;
    if (/^Hunk #\d+ FAILED/.test(line)) return `${file}: ${line.replace(/\.$/, "")}`;
    if (/Reversed \(or previously applied\) patch detected/.test(line)) return `${file}: already applied (a reversed patch)`;
    if (/can't find file to patch|No file to patch/.test(line)) return "a file it patches is not in this tree";
    if (/Only garbage was found|malformed patch/.test(line)) return line.replace(/^patch: \*\*\*\* /, "");
  }
  return "GNU patch refused it";
}

/** The first line of a failed build that says what went wrong (a compiler error, else make's own). */
export function buildFailureLine(log: string): string {
  const lines = log.split("\n").map((l) => l.trimEnd());
  const err = lines.find((l) => /: (fatal )?error: /.test(l)) ?? lines.find((l) => /^make(\[\d+\])?: \*\*\* /.test(l)) ?? lines.filter((l) => l !== "").slice(-1)[0];
  return err ?? "no output";
}

/** What the work tree holds now: which source, which patches, which files they touched, and whether make finished. */
interface WorkState {
  readonly version: string;
  readonly key: string | null;
  readonly touched: ReadonlyArray<string>;
  readonly built: boolean;
  /** How many kbuild lines the last complete build printed (the progress's total next time). */
  readonly steps?: number;
}

const SOURCE_ROOT = join(CACHE, "linux-source");
const WORK = join(CACHE, "kbuild-work");
export const KERNELS = join(CACHE, "kernels");
/** kbuild lines of a clean build of this config (measured; the progress line's total until a build has been seen). */
const FIRST_BUILD_STEPS = 1500;

function run(what: string, cmd: string, args: ReadonlyArray<string>, cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.error !== undefined) throw new BuildError(`${what}: ${r.error.message}`);
  if (r.status !== 0) throw new BuildError(`${what} failed: ${((r.stderr || r.stdout).trim().split("\n").slice(-1)[0] ?? "").trim()}`);
  return r.stdout;
}

/** The pristine source tree of a version, downloaded and unpacked once. */
function pristineSource(say: (s: string) => void): string {
  const dir = join(SOURCE_ROOT, SOURCE_VERSION);
  const tree = join(dir, "linux-source-6.12");
  if (existsSync(join(dir, ".complete"))) return tree;
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, "deb"), { recursive: true });
  try {
    say(`fetching ${SOURCE_PACKAGE} (about 150 MB) into ${dir}, unpacked, not installed`);
    run("apt-get download", "apt-get", ["download", "-q", SOURCE_PACKAGE], join(tmp, "deb"));
    const deb = readdirSync(join(tmp, "deb")).find((f) => f.endsWith(".deb"));
    if (deb === undefined) throw new BuildError(`apt-get download ${SOURCE_PACKAGE} gave no .deb`);
    run(`dpkg-deb -x ${deb}`, "dpkg-deb", ["-x", join(tmp, "deb", deb), join(tmp, "pkg")]);
    say("unpacking the source (about 1.5 GB)");
    run("tar", "tar", ["-xJf", join(tmp, "pkg", "usr", "src", "linux-source-6.12.tar.xz"), "-C", tmp]);
    rmSync(join(tmp, "deb"), { recursive: true, force: true });
    rmSync(join(tmp, "pkg"), { recursive: true, force: true });
    if (!existsSync(join(tmp, "linux-source-6.12", "Makefile"))) throw new BuildError("the source package has no linux-source-6.12/Makefile");
    writeFileSync(join(tmp, ".complete"), `${SOURCE_PACKAGE}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return tree;
}

function readStateAt(work: string): WorkState | null {
  try {
    return JSON.parse(readFileSync(join(work, "state.json"), "utf8")) as WorkState;
  } catch {
    return null;
  }
}

function writeStateAt(work: string, s: WorkState): void {
  writeFileSync(join(work, "state.json.tmp"), JSON.stringify(s, null, 1) + "\n");
  renameSync(join(work, "state.json.tmp"), join(work, "state.json"));
}


/** Put back the pristine version of every file a patch set touched (a file the set created is removed). */
function restoreTouched(pristine: string, src: string, touched: ReadonlyArray<string>): void {
  for (const f of touched) {
    const to = join(src, f);
    if (existsSync(to)) unlinkSync(to);
    const from = join(pristine, f);
    if (existsSync(from)) {
      mkdirSync(dirname(to), { recursive: true });
      // A copy, not a link: the file gets a new mtime, so make rebuilds what the patch had changed.
      copyFileSync(from, to);
    }
  }
}

/** The work tree on the pristine source with the patches applied; one line naming the patch that does not apply. */
export function prepareTree(pristine: string, work: string, key: string, patches: ReadonlyArray<PatchFile>, say: (s: string) => void): { src: string; out: string } {
  const readState = (): WorkState | null => readStateAt(work);
  const writeState = (s: WorkState): void => writeStateAt(work, s);
  const src = join(work, "src");
  const out = join(work, "out");
  let state = readState();
  if (state === null || state.version !== SOURCE_VERSION || !existsSync(src)) {
    say(`laying out the work tree ${work} (hard links to the pristine source)`);
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    run("cp -al", "cp", ["-al", pristine, src]);
    state = { version: SOURCE_VERSION, key: null, touched: [], built: false };
    writeState(state);
  }
  mkdirSync(out, { recursive: true });
  if (state.key === key) return { src, out };
  restoreTouched(pristine, src, state.touched);
  writeState({ version: SOURCE_VERSION, key: null, touched: [], built: false });
  const touched: string[] = [];
  for (const p of patches) {
    const args = ["-p1", "--batch", "--forward", "--no-backup-if-mismatch", "-r", "-", "-d", src];
    const dry = spawnSync("patch", [...args, "--dry-run", "--verbose"], { input: p.text, encoding: "utf8" });
    if (dry.error !== undefined) throw new BuildError(`patch: ${dry.error.message}`);
    if (dry.status !== 0) {
      restoreTouched(pristine, src, touched);
      throw new BuildError(`${p.path} does not apply to linux-source ${SOURCE_VERSION}${touched.length > 0 ? " (after the patches before it)" : ""}: ${patchFailureLine(dry.stdout + dry.stderr)}`);
    }
    const files = touchedFiles(dry.stdout);
    if (files.length === 0) throw new BuildError(`${p.path}: not a patch (no file in it for GNU patch)`);
    touched.push(...files.filter((f) => !touched.includes(f)));
    // Recorded before the files change, so an interrupted run still knows what to put back.
    writeState({ version: SOURCE_VERSION, key: null, touched, built: false });
    const real = spawnSync("patch", args, { input: p.text, encoding: "utf8" });
    if (real.status !== 0) {
      restoreTouched(pristine, src, touched);
      writeState({ version: SOURCE_VERSION, key: null, touched: [], built: false });
      throw new BuildError(`${p.path}: patch failed after its dry run passed: ${(real.stdout + real.stderr).trim().split("\n").slice(-1)[0] ?? ""}`);
    }
    say(`applied ${p.path} (${files.length} file${files.length === 1 ? "" : "s"}: ${files.join(", ")})`);
  }
  writeState({ version: SOURCE_VERSION, key, touched, built: false });
  return { src, out };
}

/** make's arguments for this tree: the cross compiler, the output directory. */
function makeArgs(src: string, out: string): string[] {
  return ["-C", src, `O=${out}`, "ARCH=arm64", `CROSS_COMPILE=${CROSS}`];
}

/** The config: allnoconfig with our fragment, every line of which must then hold. */
function configure(src: string, out: string): void {
  const fragment = readFileSync(CONFIG_FRAGMENT, "utf8");
  run("make allnoconfig", "make", ["-s", ...makeArgs(src, out), `KCONFIG_ALLCONFIG=${CONFIG_FRAGMENT}`, "allnoconfig"]);
  const missing = configShortfalls(fragment, readFileSync(join(out, ".config"), "utf8"));
  if (missing.length > 0) throw new BuildError(`the config does not give what ${basename(CONFIG_FRAGMENT)} asks: ${missing.join("; ")}`);
}

/** Run make for Image and modules, with a progress line; resolves with the number of kbuild lines printed. */
function make(src: string, out: string, expected: number, progress: (done: number, total: number, what: string) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const jobs = Math.max(1, cpus().length);
    const child = spawn("make", [...makeArgs(src, out), `-j${jobs}`, "Image", "modules"], { stdio: ["ignore", "pipe", "pipe"] });
    let steps = 0;
    let tail = "";
    const log: string[] = [];
    const keep = (s: string): void => {
      log.push(s);
      if (log.length > 4000) log.splice(0, log.length - 2000);
    };
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      const lines = (tail + d).split("\n");
      tail = lines.pop() ?? "";
      for (const l of lines) {
        keep(l);
        const m = /^\s+([A-Z][A-Z0-9_]*)\s+(\S+)/.exec(l);
        if (m === null) continue;
        steps++;
        progress(steps, Math.max(expected, steps), m[2]!);
      }
    });
    child.stderr.on("data", (d: string) => {
      for (const l of d.split("\n")) keep(l);
    });
    child.on("error", (e) => reject(new BuildError(`make: ${e.message}`)));
    child.on("close", (code) => {
      if (code === 0) resolve(steps);
      else reject(new BuildError(`the kernel build failed: ${buildFailureLine(log.join("\n"))}`));
    });
  });
}

/** The cached kernel of a key, if its entry is complete. */
export function cachedKernel(key: string, root: string = KERNELS): BuiltKernel | null {
  const dir = join(root, key);
  const meta = join(dir, "build.json");
  if (!existsSync(meta)) return null;
  const m = JSON.parse(readFileSync(meta, "utf8")) as { release: string; patches: string[]; modules: string[] };
  return {
    key,
    dir,
    image: join(dir, "Image"),
    vmlinux: join(dir, "vmlinux"),
    systemMap: join(dir, "System.map"),
    release: m.release,
    tree: join(WORK, "out"),
    patches: m.patches,
    modules: new Map(m.modules.map((f) => [basename(f, ".ko"), join(dir, basename(f))])),
    dsmod: join(dir, "dsmod.ko"),
    cached: true,
  };
}

/** The cached kernel whose Image this is (a path into kernel/cache/kernels/<key>/), or null for any other image. */
export function builtKernelAt(image: string): BuiltKernel | null {
  const dir = dirname(image);
  if (basename(image) !== "Image" || !existsSync(join(dir, "build.json"))) return null;
  return cachedKernel(basename(dir), dirname(dir));
}

/** Copy a finished build's artefacts into its cache entry, all or nothing. */
function saveEntry(key: string, out: string, patches: ReadonlyArray<PatchFile>, release: string): void {
  const dir = join(KERNELS, key);
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, "patches"), { recursive: true });
  try {
    copyFileSync(join(out, "arch", "arm64", "boot", "Image"), join(tmp, "Image"));
    copyFileSync(join(out, "vmlinux"), join(tmp, "vmlinux"));
    copyFileSync(join(out, "System.map"), join(tmp, "System.map"));
    copyFileSync(join(out, ".config"), join(tmp, "config"));
    for (const m of BUILT_MODULES) {
      if (!existsSync(join(out, m))) throw new BuildError(`the build finished without ${m} (is it =m in ${basename(CONFIG_FRAGMENT)}?)`);
      copyFileSync(join(out, m), join(tmp, basename(m)));
    }
    patches.forEach((p, i) => writeFileSync(join(tmp, "patches", `${String(i + 1).padStart(2, "0")}-${basename(p.path)}`), p.text));
    writeFileSync(join(tmp, "build.json"), JSON.stringify({ key, source: SOURCE_PACKAGE, release, patches: patches.map((p) => basename(p.path)), modules: [...BUILT_MODULES] }, null, 1) + "\n");
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** What a build reports along the way. */
export interface BuildProgress {
  readonly say: (s: string) => void;
  readonly step: (done: number, total: number, what: string) => void;
}

/** The kernel for these patches: from the cache, or built now (reusing the work tree's objects). */
export async function buildKernel(patches: ReadonlyArray<PatchFile>, p: BuildProgress): Promise<BuiltKernel> {
  const config = readFileSync(CONFIG_FRAGMENT, "utf8");
  fragmentOptions(config);
  const key = buildKey(SOURCE_VERSION, config, patches.map((x) => x.text));
  const hit = cachedKernel(key);
  const what = patches.length === 0 ? "unpatched" : patches.map((x) => basename(x.path)).join(", ");
  if (hit !== null && moduleFresh(hit.dsmod)) {
    p.say(`kernel ${key} (${what}) from the cache: ${hit.dir}`);
    return hit;
  }
  // Built before but dsmod.c changed since: the tree is brought back to this key (make then has little to do).
  const pristine = pristineSource(p.say);
  const { src, out } = prepareTree(pristine, WORK, key, patches, p.say);
  p.say(`configuring (allnoconfig + ${basename(CONFIG_FRAGMENT)})`);
  configure(src, out);
  const before = readStateAt(WORK);
  p.say(`building Image and modules in ${out} (${what})`);
  const steps = await make(src, out, before?.steps ?? FIRST_BUILD_STEPS, p.step);
  const release = run("make kernelrelease", "make", ["-s", ...makeArgs(src, out), "kernelrelease"]).trim();
  if (hit === null) saveEntry(key, out, patches, release);
  // A rebuild prints far fewer lines than a clean build: keep the largest seen as the total.
  writeStateAt(WORK, { version: SOURCE_VERSION, key, touched: readStateAt(WORK)?.touched ?? [], built: true, steps: Math.max(steps, before?.steps ?? 0) });
  const built = cachedKernel(key);
  if (built === null) throw new BuildError(`the cache entry ${key} was not written`);
  try {
    buildModuleInTree(p.say, out, release, built.dsmod);
  } catch (e) {
    if (e instanceof ModuleError) throw new BuildError(e.message);
    throw e;
  }
  return { ...built, cached: hit !== null };
}

/** A patch file as given: read, with one line if it cannot be. */
export function readPatch(path: string): PatchFile {
  if (!existsSync(path)) throw new BuildError(`--patch: no such file: ${path}`);
  if (!statSync(path).isFile()) throw new BuildError(`--patch: not a regular file: ${path}`);
  if (statSync(path).size > 16 << 20) throw new BuildError(`--patch: ${path} is larger than 16 MiB`);
  return { path, text: readFileSync(path, "utf8") };
}
