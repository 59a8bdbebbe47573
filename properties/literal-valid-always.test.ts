// literal-valid-always: holds on upstream over a pinned seed, and kills its mutants with a short, replayable schedule.

import { describeConcurrentProperty } from "./harness.ts";
import { literalValidAlways } from "./literal-valid-always.ts";

describeConcurrentProperty(literalValidAlways);
