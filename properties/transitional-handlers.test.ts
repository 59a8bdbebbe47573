// transitional-handlers: holds on upstream over a pinned seed, and kills its mutants with a short, replayable schedule.

import { describeConcurrentProperty } from "./harness.ts";
import { transitionalHandlers } from "./transitional-handlers.ts";

describeConcurrentProperty(transitionalHandlers);
