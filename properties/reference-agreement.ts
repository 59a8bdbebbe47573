// reference-agreement: the model's view of each function equals an independent reference's.

import { ftrace_ops_test } from "../model/core.ts";
import type { Property } from "./property.ts";
import { permitted, tracers } from "./reference.ts";

export const referenceAgreement: Property = {
  name: "reference-agreement",
  judges: "agreement",
  kills: [
    { mutant: "direct-addr-despite-count", maxSteps: 3 },
    { mutant: "subops-rebuild-every-function", maxSteps: 3 },
  ],
  says: "After every step, which ops trace each function (in ftrace_ops_list order) and which path a call of it takes equal what a small reference computes from the registered ops alone.",
  guards: "the whole update pipeline: __ftrace_hash_rec_update, ftrace_check_record, __ftrace_replace_code and the arch hooks",
  needsCalls: true,
  check: ({ k, ref, calls }) => {
    for (const { fn, obs } of calls) {
      const rec = k.recs.find((r) => r.fn === fn);
      if (rec === undefined) continue;
      const model = k.opsList.filter((o) => o.kind !== "stub" && ftrace_ops_test(o, rec.ip)).map((o) => o.name);
      const want = tracers(ref, fn).map((o) => o.name);
      if (model.join(",") !== want.join(",")) return `${fn}: traced by [${model.join(", ")}] in the model, [${want.join(", ")}] in the reference`;
      const paths = [...new Set(permitted(ref, fn).map((e) => e.path))];
      if (!paths.includes(obs.path)) return `call ${fn}: path ${obs.path}, the reference says ${paths.join(" or ")}`;
    }
    return null;
  },
};
