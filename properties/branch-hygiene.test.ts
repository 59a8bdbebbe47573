// branch-hygiene: holds on upstream over a pinned seed, and kills its mutant with a short counterexample.

import { describeProperty } from "./harness.ts";
import { branchHygiene } from "./branch-hygiene.ts";

describeProperty(branchHygiene);
