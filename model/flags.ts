// Flag bits of struct ftrace_ops (FTRACE_OPS_FL_*) and of struct dyn_ftrace (FTRACE_FL_*, with the reference
// count in the low bits), as in include/linux/ftrace.h.

export const FTRACE_OPS_FL = {
  ENABLED: 1 << 0,
  DYNAMIC: 1 << 1,
  SAVE_REGS: 1 << 2,
  SAVE_REGS_IF_SUPPORTED: 1 << 3,
  RECURSION: 1 << 4,
  STUB: 1 << 5,
  INITIALIZED: 1 << 6,
  DELETED: 1 << 7,
  ADDING: 1 << 8,
  REMOVING: 1 << 9,
  MODIFYING: 1 << 10,
  ALLOC_TRAMP: 1 << 11,
  IPMODIFY: 1 << 12,
  PID: 1 << 13,
  RCU: 1 << 14,
  TRACE_ARRAY: 1 << 15,
  PERMANENT: 1 << 16,
  DIRECT: 1 << 17,
  SUBOP: 1 << 18,
  GRAPH: 1 << 19,
} as const;
export type OpsFlagName = keyof typeof FTRACE_OPS_FL;

/** Ops flags a scenario may set on an ops it registers; the rest are the core's own bookkeeping. */
export const USER_OPS_FLAGS = ["SAVE_REGS", "SAVE_REGS_IF_SUPPORTED", "RECURSION", "RCU", "IPMODIFY", "PERMANENT", "PID", "TRACE_ARRAY"] as const;
export type UserOpsFlag = (typeof USER_OPS_FLAGS)[number];

/**
 * What a register step may say: the ops' own flags, or SUBOP alone, which registers the ops as a subops of fgraph's
 * manager ops (register_ftrace_graph -> ftrace_startup_subops) instead of on its own. The core sets the
 * FTRACE_OPS_FL_SUBOP bit itself when it takes the subops.
 */
export const STEP_FLAGS = [...USER_OPS_FLAGS, "SUBOP"] as const;
export type StepFlag = (typeof STEP_FLAGS)[number];

export const FTRACE_REF_MAX_SHIFT = 19;
export const FTRACE_REF_MAX = (1 << FTRACE_REF_MAX_SHIFT) - 1;

export const FTRACE_FL = {
  ENABLED: (1 << 31) >>> 0,
  REGS: 1 << 30,
  REGS_EN: 1 << 29,
  TRAMP: 1 << 28,
  TRAMP_EN: 1 << 27,
  IPMODIFY: 1 << 26,
  DISABLED: 1 << 25,
  DIRECT: 1 << 24,
  DIRECT_EN: 1 << 23,
  CALL_OPS: 1 << 22,
  CALL_OPS_EN: 1 << 21,
  TOUCHED: 1 << 20,
  MODIFIED: 1 << 19,
} as const;
export type RecFlagName = keyof typeof FTRACE_FL;

export const FTRACE_NOCLEAR_FLAGS = (FTRACE_FL.DISABLED | FTRACE_FL.TOUCHED | FTRACE_FL.MODIFIED) >>> 0;

export function hasFlag(flags: number, bit: number): boolean {
  return (flags & bit) !== 0;
}

export function setFlag(flags: number, bit: number, on: boolean): number {
  return (on ? flags | bit : flags & ~bit) >>> 0;
}

/** ftrace_rec_count */
export function recCount(flags: number): number {
  return flags & FTRACE_REF_MAX;
}

/** Readable rec->flags, e.g. "ENABLED|CALL_OPS|CALL_OPS_EN count=1". */
export function formatRecFlags(flags: number): string {
  const names = (Object.keys(FTRACE_FL) as RecFlagName[]).filter((n) => hasFlag(flags, FTRACE_FL[n]));
  return `${names.join("|") || "-"} count=${recCount(flags)}`;
}

export function formatOpsFlags(flags: number): string {
  return (Object.keys(FTRACE_OPS_FL) as OpsFlagName[]).filter((n) => hasFlag(flags, FTRACE_OPS_FL[n])).join("|") || "-";
}
