// stack-aligned: holds on upstream over a pinned seed, and kills its mutant with a short counterexample.

import { describeProperty } from "./harness.ts";
import { stackAligned } from "./stack-aligned.ts";

describeProperty(stackAligned);
