// literal-valid: holds on upstream over a pinned seed, and kills its mutant with a short counterexample.

import { describeProperty } from "./harness.ts";
import { literalValid } from "./literal-valid.ts";

describeProperty(literalValid);
