// trampoline-contract: holds on upstream over a pinned seed, and kills its mutant with a short counterexample.

import { describeProperty } from "./harness.ts";
import { trampolineContract } from "./trampoline-contract.ts";

describeProperty(trampolineContract);
