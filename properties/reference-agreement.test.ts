// reference-agreement: holds on upstream over a pinned seed, and kills its mutant with a short counterexample.

import { describeProperty } from "./harness.ts";
import { referenceAgreement } from "./reference-agreement.ts";

describeProperty(referenceAgreement);
