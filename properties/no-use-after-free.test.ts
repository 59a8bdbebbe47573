// no-use-after-free: holds on upstream over a pinned seed, and kills its mutants with a short, replayable schedule.

import { describeConcurrentProperty } from "./harness.ts";
import { noUseAfterFree } from "./no-use-after-free.ts";

describeConcurrentProperty(noUseAfterFree);
