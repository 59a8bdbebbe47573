// exact-handlers: holds on upstream over a pinned seed, and kills its mutant with a short counterexample.

import { describeProperty } from "./harness.ts";
import { exactHandlers } from "./exact-handlers.ts";

describeProperty(exactHandlers);
