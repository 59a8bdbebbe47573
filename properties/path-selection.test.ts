// path-selection: holds on upstream over a pinned seed, and kills its mutant with a short counterexample.

import { describeProperty } from "./harness.ts";
import { pathSelection } from "./path-selection.ts";

describeProperty(pathSelection);
