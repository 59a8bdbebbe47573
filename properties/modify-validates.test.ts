// modify-validates: holds on upstream over a pinned seed, and kills its mutant with a short counterexample.

import { describeProperty } from "./harness.ts";
import { modifyValidates } from "./modify-validates.ts";

describeProperty(modifyValidates);
