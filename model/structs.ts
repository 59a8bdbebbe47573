// C structure layouts the trampoline code depends on, as offsets rather than TypeScript objects:
// struct ftrace_regs (arch/arm64/include/asm/ftrace.h, __arch_ftrace_regs) and the two members of
// struct ftrace_ops that ftrace_caller loads (asm-offsets FTRACE_OPS_FUNC, FTRACE_OPS_DIRECT_CALL).

export interface FtraceRegsLayout {
  /** Offset of regs[i] for x0..x8. */
  readonly x: ReadonlyArray<number>;
  /** fregs->direct_tramp (arch_ftrace_set_direct_caller writes it), or null when the design has none. */
  readonly direct_tramp: number | null;
  readonly fp: number;
  readonly lr: number;
  readonly sp: number;
  readonly pc: number;
  /** sizeof(struct ftrace_regs), i.e. FREGS_SIZE. */
  readonly size: number;
}

/** The merged design: x0-x8, direct_tramp, fp, lr, sp, pc: 112 bytes. */
export const UPSTREAM_FREGS: FtraceRegsLayout = {
  x: [0, 8, 16, 24, 32, 40, 48, 56, 64],
  direct_tramp: 72,
  fp: 80,
  lr: 88,
  sp: 96,
  pc: 104,
  size: 112,
};

/** Bytes ftrace_caller reserves below the callsite's sp: the ftrace_regs plus two frame records. */
export function ftraceCallerFrame(l: FtraceRegsLayout): number {
  return l.size + 32;
}

/**
 * The two struct ftrace_ops members ftrace_caller loads, as byte offsets (asm-offsets FTRACE_OPS_FUNC and
 * FTRACE_OPS_DIRECT_CALL). The C side of the model stores ops->func and ops->direct_call at these offsets; a design
 * read from a binary takes them from its BTF or from the loads in its ftrace_caller.
 */
export interface OpsLayout {
  readonly func: number;
  readonly direct_call: number;
  /**
   * sizeof(struct ftrace_ops) in the build, when known (BTF): how far apart the kernel may put its static ops
   * (ftrace_nop_ops, ftrace_list_ops). The model itself still gives every ops FTRACE_OPS_SIZE bytes.
   */
  readonly size?: number;
}

/** struct ftrace_ops member offsets (FTRACE_OPS_FUNC, FTRACE_OPS_DIRECT_CALL) as seen in a real arm64 build. */
export const FTRACE_OPS_FUNC = 0;
/** ops->next: ftrace_ops_list is a singly linked list through this field (read by the list walk). */
export const FTRACE_OPS_NEXT = 8;
export const FTRACE_OPS_DIRECT_CALL = 208;
export const UPSTREAM_OPS: OpsLayout = { func: FTRACE_OPS_FUNC, direct_call: FTRACE_OPS_DIRECT_CALL };
/**
 * sizeof(struct ftrace_ops) in the same build (direct_call is its last member): Debian's 6.12 arm64 kernel puts
 * ftrace_nop_ops and ftrace_list_ops 0xd8 apart. The model gives every ops object this many bytes.
 */
export const FTRACE_OPS_SIZE = 0xd8n;
