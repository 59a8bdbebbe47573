// quiescent-exact: holds on upstream over a pinned seed, and kills its mutants with a short, replayable schedule.

import { describeConcurrentProperty } from "./harness.ts";
import { quiescentExact } from "./quiescent-exact.ts";

describeConcurrentProperty(quiescentExact);
