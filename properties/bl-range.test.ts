// bl-range: holds on upstream over a pinned seed, and kills its mutant with a short counterexample.

import { describeProperty } from "./harness.ts";
import { blRange } from "./bl-range.ts";

describeProperty(blRange);
