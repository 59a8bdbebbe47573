// Colours for terminal output: on when stdout is a terminal (and NO_COLOR is unset), off in logs and files, so
// CI logs and saved output stay plain text.

import { createColors } from "picocolors";

export const pc = createColors(process.stdout.isTTY === true && !("NO_COLOR" in process.env));
