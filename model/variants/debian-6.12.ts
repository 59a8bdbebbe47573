// Debian's arm64 6.12 kernel (linux-image-6.12.117+deb13-arm64) as a design: upstream's ftrace core with the
// ftrace_caller and ftrace_stub_direct_tramp that kernel really runs, dumped by the guest agent from /proc/kcore of
// a booted kernel (`npm run kernel` writes reports/kernel/entry-kaslr-off.json; this is that file, committed), and
// struct ftrace_ops / ftrace_regs offsets from its BTF.

import { imageFromDump } from "../binary.ts";
import { binaryDesign } from "./from-binary.ts";
import type { Design } from "../kernel.ts";
import dump from "./debian-6.12.entry.json" with { type: "json" };

export const DEBIAN_612_RELEASE = "6.12.117+deb13-arm64";

export const debian612Image = imageFromDump(dump, "debian-6.12", `a dump of Debian's ${DEBIAN_612_RELEASE} (kernel/agent/kagent.c)`);

export const debian612: Design = binaryDesign(debian612Image);
