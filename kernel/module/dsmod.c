// SPDX-License-Identifier: GPL-2.0
/*
 * dsmod: dispatch-spec's test module. It registers ftrace_ops with the flags and filters the guest asks for, and
 * records, for every callback, how the callback was reached, so that a kernel scenario can compare each call with
 * the model's prediction.
 *
 * Control: write one command per write(2) to /sys/kernel/debug/dispatch_spec/ctl
 *   reg NAME FLAGS SYM...   register an ops on the named functions; FLAGS is "-" or a comma list of RECURSION, RCU,
 *                           IPMODIFY
 *   unreg NAME              unregister it (its counters stay)
 *   recurse NAME DEPTH      from now on NAME's callback calls the traced function again, at most DEPTH levels deep
 *   reset                   zero every counter
 *   refused TRIES           the experiment of reports/findings/failed-registration-visible.md: with an IPMODIFY ops
 *                           of ours on the recursion target (which a live ops of ours must have been called for, so
 *                           that its address is known) and a kernel thread on the other CPU calling the target in a
 *                           loop, register a second IPMODIFY ops on it TRIES times; each is refused with -EBUSY,
 *                           after ftrace_startup has linked it. The report's "refused" line says how often a refused
 *                           ops' callback ran all the same. Every refused ops (and its filter) is left allocated:
 *                           nothing waits after the rollback, so freeing it could hand a CPU freed memory.
 *   patch                   play a livepatch on sethostname: an IPMODIFY ops whose callback points the saved pc
 *                           at dsmod_sethostname_new, as klp_ftrace_handler points it at a klp_func's new_func
 *   unpatch                 unregister it
 *   direct                  register a direct ops of ours on sethostname (trampoline A, which does nothing but
 *                           return into the function it was given in x30), with an ops_func that counts what the
 *                           core asks it and agrees to share with the IPMODIFY ops
 *   direct-modify           modify_ftrace_direct to trampoline B (the same code at another address); the counts
 *                           say whether this kernel asks ops_func again here (3e9a18e1c3e9 made it do so)
 *   direct-off              unregister_ftrace_direct
 *   notrace NAME SYM...     ftrace_set_notrace on NAME (live or not; no SYM: clear it)
 *   filter NAME SYM...      ftrace_set_filter on NAME (live or not; no SYM: clear it, which traces every function)
 *   dreg NAME SLOT SYM...   register_ftrace_direct: a direct ops NAME on SYM..., calling trampoline SLOT of our pool
 *   dmod NAME SLOT          modify_ftrace_direct to trampoline SLOT
 *   dunreg NAME             unregister_ftrace_direct (its filter freed)
 *   clear                   unregister every ops of ours that is live, then forget them all (a guest that stays up
 *                           reuses the names)
 * (`reg` takes notrace too: reg NAME FLAGS SYM... [-- NOTRACE...]; without it, a notrace list our commands left is
 * cleared by ftrace_set_notrace before registering, as a caller reusing its ops would). Every command's return code is kept and read
 * back from /sys/kernel/debug/dispatch_spec/ret; the pool's trampolines (DSMOD_TRAMPS, each counting its entries, then
 * doing what ftrace_stub_direct_tramp does) and the struct offsets the guest agent needs when the kernel has no BTF
 * are in /sys/kernel/debug/dispatch_spec/layout.
 * And read /sys/kernel/debug/dispatch_spec/report: one JSON object per ops ever registered (its address, whether it
 * is live, the last return code, the calls from outside the callback with the functions they returned into, and
 * the nested calls and depth the recursion probe reached), and one line for each experiment that ran.
 *
 * The observable: the callback takes its own return address (__builtin_return_address(0), from which the arm64
 * headers strip the pointer-authentication code), and the report names the function it lies in with
 * sprint_symbol_no_offset() (when it is read, so the callback does no symbol lookups).
 * A callback that ftrace_caller calls straight from a patch-site's literal returns into ftrace_caller; one reached
 * through the list function or ftrace_ops_assist_func returns into that C function. The name comes from the
 * kernel's own symbol table at the moment of the call, so neither this module nor the host guesses addresses.
 *
 * The recursion probe: when asked, the callback calls the function it was called for again (found from the ip
 * ftrace passes, the symbol's start from sprint_symbol(), once), with an empty pt_regs; only __arm64_sys_sethostname is
 * accepted (with a NULL name and length 0 it sets an empty host name and nothing else). Reached through the list
 * function or the assist function, the nested call is refused by ftrace's recursion lock and the depth stays 1;
 * called straight from the literal, nothing refuses it, and the depth grows to the bound.
 */

#include <linux/atomic.h>
#include <linux/cpumask.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/ftrace.h>
#include <linux/kallsyms.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/ptrace.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define DSMOD_MAX_OPS 8
#define DSMOD_NAME_LEN 16
#define DSMOD_CALLERS 4
#define DSMOD_RECURSE_TARGET "__arm64_sys_sethostname"

/* A return address the callback saw, and how often; named only when the report is read (no lookups in ftrace). */
struct dsmod_caller {
	unsigned long ra;
	unsigned long n;
};

struct dsmod_ops {
	struct ftrace_ops ops;
	char name[DSMOD_NAME_LEN];
	bool used;
	bool live;
	/* Calls that entered the callback from outside it, and those the recursion probe caused. */
	unsigned long calls;
	unsigned long nested;
	struct dsmod_caller callers[DSMOD_CALLERS];
	unsigned long other_callers;
	int recurse;
	/* The traced function to call again, resolved once from the ip ftrace passes (0: not the target). */
	unsigned long target_ip;
	unsigned long target_fn;
	int depth;
	int max_depth;
	int last_ret;
	/*
	 * Whether our own commands left it a notrace list (kept over unregistering, as a caller's ops keeps its hashes):
	 * a registration that names no exclusions then clears them first, as the model's caller does.
	 */
	bool excludes;
};

static struct dsmod_ops dsmod_slots[DSMOD_MAX_OPS];
static DEFINE_MUTEX(dsmod_lock);
static struct dentry *dsmod_dir;

/* The last ip a callback of ours was called for (how the refused experiment finds the target's address). */
static unsigned long dsmod_last_ip;

/* The refused experiment: what it did, for the report. */
static atomic_long_t dsmod_refused_hits;
static atomic_long_t dsmod_refused_calls;
static struct {
	bool ran;
	int tries;
	int busy;
	int other;
	int first_other;
	long hits;
	long calls;
} dsmod_refused;

static void dsmod_note_caller(struct dsmod_ops *d, unsigned long ra)
{
	int i;

	for (i = 0; i < DSMOD_CALLERS; i++) {
		if (d->callers[i].n > 0 && d->callers[i].ra == ra) {
			d->callers[i].n++;
			return;
		}
		if (d->callers[i].n == 0) {
			d->callers[i].ra = ra;
			d->callers[i].n = 1;
			return;
		}
	}
	d->other_callers++;
}

/* The start of the function ip lies in, if it is the one target this module may call, else 0. */
static noinline unsigned long dsmod_target_of(unsigned long ip)
{
	char sym[KSYM_SYMBOL_LEN];
	unsigned long offset;
	char *plus, *slash;

	sprint_symbol(sym, ip);
	plus = strchr(sym, '+');
	if (!plus)
		return 0;
	*plus = '\0';
	if (strcmp(sym, DSMOD_RECURSE_TARGET) != 0)
		return 0;
	slash = strchr(plus + 1, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	if (kstrtoul(plus + 1, 0, &offset) != 0)
		return 0;
	return ip - offset;
}

/* Call the traced function again with an empty pt_regs (sethostname(NULL, 0)). */
static void dsmod_call_again(unsigned long fn_addr)
{
	struct pt_regs regs;
	long (*fn)(const struct pt_regs *regs) = (void *)fn_addr;

	memset(&regs, 0, sizeof(regs));
	fn(&regs);
}

static void notrace dsmod_callback(unsigned long ip, unsigned long parent_ip, struct ftrace_ops *op,
				   struct ftrace_regs *fregs)
{
	struct dsmod_ops *d = container_of(op, struct dsmod_ops, ops);
	unsigned long ra = (unsigned long)__builtin_return_address(0);

	WRITE_ONCE(dsmod_last_ip, ip);
	if (d->depth > 0) {
		d->nested++;
	} else {
		d->calls++;
		dsmod_note_caller(d, ra);
	}
	if (d->recurse > 0 && d->depth < d->recurse) {
		if (d->target_ip != ip) {
			d->target_fn = dsmod_target_of(ip);
			d->target_ip = ip;
		}
		if (!d->target_fn)
			return;
		d->depth++;
		if (d->depth > d->max_depth)
			d->max_depth = d->depth;
		dsmod_call_again(d->target_fn);
		d->depth--;
	}
}

static struct dsmod_ops *dsmod_find(const char *name, bool create)
{
	int i;

	for (i = 0; i < DSMOD_MAX_OPS; i++)
		if (dsmod_slots[i].used && strcmp(dsmod_slots[i].name, name) == 0)
			return &dsmod_slots[i];
	if (!create)
		return NULL;
	for (i = 0; i < DSMOD_MAX_OPS; i++) {
		if (!dsmod_slots[i].used) {
			memset(&dsmod_slots[i], 0, sizeof(dsmod_slots[i]));
			dsmod_slots[i].used = true;
			strscpy(dsmod_slots[i].name, name, sizeof(dsmod_slots[i].name));
			return &dsmod_slots[i];
		}
	}
	return NULL;
}

static int dsmod_flags(const char *s, unsigned long *flags)
{
	char buf[64];
	char *p = buf, *tok;

	*flags = 0;
	if (strcmp(s, "-") == 0)
		return 0;
	strscpy(buf, s, sizeof(buf));
	while ((tok = strsep(&p, ",")) != NULL) {
		if (strcmp(tok, "RECURSION") == 0)
			*flags |= FTRACE_OPS_FL_RECURSION;
		else if (strcmp(tok, "RCU") == 0)
			*flags |= FTRACE_OPS_FL_RCU;
		else if (strcmp(tok, "IPMODIFY") == 0)
			/* Claims the right to change the ip (as livepatch does); the callback never uses it. */
			*flags |= FTRACE_OPS_FL_IPMODIFY;
		else
			return -EINVAL;
	}
	return 0;
}

/*
 * Free an unregistered ops' hashes and zero it, ready for reuse. ftrace_free_filter frees the hashes but (in 6.12)
 * leaves the pointers to them, so calling it twice frees twice; zeroing makes this safe to repeat.
 */
static void dsmod_forget_ops(struct ftrace_ops *ops)
{
	ftrace_free_filter(ops);
	memset(ops, 0, sizeof(*ops));
}

/* Whether a space-separated list names any symbol. */
static bool dsmod_any_sym(const char *list)
{
	return list && strspn(list, " ") < strlen(list);
}

/* Set an ops' filter (or notrace) hash to exactly the symbols in the space-separated list, as one caller would. */
static int dsmod_set_hash(struct ftrace_ops *ops, char *list, bool exclude)
{
	int (*set)(struct ftrace_ops *, unsigned char *, int, int) = exclude ? ftrace_set_notrace : ftrace_set_filter;
	char *sym;
	int reset = 1;
	int ret;

	while (list && (sym = strsep(&list, " ")) != NULL) {
		if (!*sym)
			continue;
		ret = set(ops, sym, strlen(sym), reset);
		if (ret)
			return ret;
		reset = 0;
	}
	/* No symbol: the hash emptied (for a filter: every function). */
	return reset ? set(ops, NULL, 0, 1) : 0;
}

static int dsmod_reg(char *args)
{
	char *name = strsep(&args, " ");
	char *flagstr = strsep(&args, " ");
	struct dsmod_ops *d;
	unsigned long flags;
	bool excluded;
	char *sym;
	int reset = 1;
	int ret;

	if (!name || !flagstr || !args || !*args)
		return -EINVAL;
	if (dsmod_flags(flagstr, &flags) != 0)
		return -EINVAL;
	d = dsmod_find(name, true);
	if (!d)
		return -ENOSPC;
	if (d->live)
		return -EBUSY;
	excluded = d->excludes;
	/* A fresh ops each time (ftrace keeps state in an ops it has seen: hashes, flags it set), and fresh counters. */
	dsmod_forget_ops(&d->ops);
	d->calls = 0;
	d->nested = 0;
	d->other_callers = 0;
	d->max_depth = 0;
	memset(d->callers, 0, sizeof(d->callers));
	d->ops.func = dsmod_callback;
	d->ops.flags = flags;
	while ((sym = strsep(&args, " ")) != NULL) {
		if (!*sym)
			continue;
		if (strcmp(sym, "--") == 0) {
			bool any = dsmod_any_sym(args);

			ret = dsmod_set_hash(&d->ops, args, true);
			if (ret)
				goto out;
			d->excludes = any;
			excluded = false;
			break;
		}
		ret = ftrace_set_filter(&d->ops, sym, strlen(sym), reset);
		if (ret)
			goto out;
		reset = 0;
	}
	/*
	 * Earlier exclusions are cleared by a call, not by forgetting them: the fresh ops gets the same answer the kernel
	 * gives the caller's own (ftrace_hash_move refuses any notrace change to an IPMODIFY ops).
	 */
	if (excluded) {
		ret = ftrace_set_notrace(&d->ops, NULL, 0, 1);
		if (ret)
			goto out;
		d->excludes = false;
	}
	ret = register_ftrace_function(&d->ops);
	if (ret == 0)
		d->live = true;
out:
	d->last_ret = ret;
	return ret;
}

/* The first IPMODIFY ops (registered once per experiment) and the refused ones' callback: count, nothing else. */
static void notrace dsmod_ipm_first(unsigned long ip, unsigned long parent_ip, struct ftrace_ops *op, struct ftrace_regs *fregs)
{
}

static void notrace dsmod_ipm_refused(unsigned long ip, unsigned long parent_ip, struct ftrace_ops *op, struct ftrace_regs *fregs)
{
	atomic_long_inc(&dsmod_refused_hits);
}

static int dsmod_caller_thread(void *fn)
{
	while (!kthread_should_stop()) {
		dsmod_call_again((unsigned long)fn);
		atomic_long_inc(&dsmod_refused_calls);
		cond_resched();
	}
	return 0;
}

static int dsmod_refused_run(char *args)
{
	static struct ftrace_ops first;
	struct task_struct *caller;
	unsigned long fn = dsmod_target_of(READ_ONCE(dsmod_last_ip));
	int tries, i, ret, cpu, other;

	if (kstrtoint(strim(args), 10, &tries) != 0 || tries < 1 || tries > 1000000)
		return -EINVAL;
	if (!fn || num_online_cpus() < 2)
		return -ENOENT;
	memset(&dsmod_refused, 0, sizeof(dsmod_refused));
	atomic_long_set(&dsmod_refused_hits, 0);
	atomic_long_set(&dsmod_refused_calls, 0);
	memset(&first, 0, sizeof(first));
	first.func = dsmod_ipm_first;
	first.flags = FTRACE_OPS_FL_IPMODIFY;
	ret = ftrace_set_filter(&first, DSMOD_RECURSE_TARGET, strlen(DSMOD_RECURSE_TARGET), 1);
	if (ret)
		return ret;
	ret = register_ftrace_function(&first);
	if (ret)
		return ret;
	cpu = get_cpu();
	other = cpumask_any_but(cpu_online_mask, cpu);
	put_cpu();
	caller = kthread_create(dsmod_caller_thread, (void *)fn, "dsmod-caller");
	if (IS_ERR(caller)) {
		unregister_ftrace_function(&first);
		return PTR_ERR(caller);
	}
	kthread_bind(caller, other);
	wake_up_process(caller);
	while (atomic_long_read(&dsmod_refused_calls) == 0)
		msleep(1);
	for (i = 0; i < tries; i++) {
		struct ftrace_ops *second = kzalloc(sizeof(*second), GFP_KERNEL);

		if (!second)
			break;
		second->func = dsmod_ipm_refused;
		second->flags = FTRACE_OPS_FL_IPMODIFY;
		ret = ftrace_set_filter(second, DSMOD_RECURSE_TARGET, strlen(DSMOD_RECURSE_TARGET), 1);
		if (ret == 0)
			ret = register_ftrace_function(second);
		if (ret == -EBUSY) {
			dsmod_refused.busy++;
		} else {
			if (!dsmod_refused.other)
				dsmod_refused.first_other = ret;
			dsmod_refused.other++;
			/* A registration that took: leave it as it is, and stop. */
			if (ret == 0)
				break;
		}
		cond_resched();
	}
	kthread_stop(caller);
	unregister_ftrace_function(&first);
	dsmod_refused.ran = true;
	dsmod_refused.tries = i;
	dsmod_refused.hits = atomic_long_read(&dsmod_refused_hits);
	dsmod_refused.calls = atomic_long_read(&dsmod_refused_calls);
	return 0;
}

/*
 * The livepatch experiment (reports/history/record.md, 3e9a18e1c3e9): an IPMODIFY ops that redirects sethostname
 * to a function of ours, a direct ops of ours with an ops_func, and what each of them saw.
 */
#define DSMOD_PATCHED_ERRNO EADV

static atomic_long_t dsmod_new_calls;
static struct ftrace_ops dsmod_klp_ops;
static struct ftrace_ops dsmod_direct_ops;
static struct {
	bool patched;
	bool direct;
	int patch_ret;
	int direct_ret;
	int modify_ret;
	int off_ret;
	/* ops_func's commands: ENABLE_SHARE_IPMODIFY_SELF, _PEER, DISABLE_SHARE_IPMODIFY_PEER. */
	int self;
	int peer;
	int disable;
	/* How many SELF requests had come when register_ftrace_direct and modify_ftrace_direct returned. */
	int self_at_register;
	int self_at_modify;
} dsmod_lp;

/* The replacement the "livepatch" runs instead of __arm64_sys_sethostname: counts, and returns an errno the real
 * system call never returns, so user space can tell which body ran. */
static noinline notrace long dsmod_sethostname_new(const struct pt_regs *regs)
{
	atomic_long_inc(&dsmod_new_calls);
	return -DSMOD_PATCHED_ERRNO;
}

static void notrace dsmod_klp_handler(unsigned long ip, unsigned long parent_ip, struct ftrace_ops *op,
				      struct ftrace_regs *fregs)
{
	ftrace_regs_set_instruction_pointer(fregs, (unsigned long)dsmod_sethostname_new);
}

/* The ops_func a BPF trampoline's ops has (bpf_tramp_ftrace_ops_func), reduced to counting and agreeing. */
static int dsmod_direct_ops_func(struct ftrace_ops *op, enum ftrace_ops_cmd cmd)
{
	switch (cmd) {
	case FTRACE_OPS_CMD_ENABLE_SHARE_IPMODIFY_SELF:
		dsmod_lp.self++;
		break;
	case FTRACE_OPS_CMD_ENABLE_SHARE_IPMODIFY_PEER:
		dsmod_lp.peer++;
		break;
	default:
		dsmod_lp.disable++;
		break;
	}
	return 0;
}

/*
 * Two direct trampolines with the code of ftrace_stub_direct_tramp: entered with x9 = the traced function's caller
 * and x30 = where to go on in the function (after ftrace_caller, the saved pc), they go there with x30 = x9.
 */
asm(
"	.pushsection .text, \"ax\", @progbits\n"
"	.balign 8\n"
"	.type dsmod_tramp_a, %function\n"
"dsmod_tramp_a:\n"
"	mov	x10, x30\n"
"	mov	x30, x9\n"
"	ret	x10\n"
"	.size dsmod_tramp_a, .-dsmod_tramp_a\n"
"	.balign 8\n"
"	.type dsmod_tramp_b, %function\n"
"dsmod_tramp_b:\n"
"	mov	x10, x30\n"
"	mov	x30, x9\n"
"	ret	x10\n"
"	.size dsmod_tramp_b, .-dsmod_tramp_b\n"
"	.popsection\n"
);
extern void dsmod_tramp_a(void);
extern void dsmod_tramp_b(void);

static int dsmod_patch(void)
{
	int ret;

	if (dsmod_lp.patched)
		return -EBUSY;
	memset(&dsmod_klp_ops, 0, sizeof(dsmod_klp_ops));
	dsmod_klp_ops.func = dsmod_klp_handler;
	dsmod_klp_ops.flags = FTRACE_OPS_FL_IPMODIFY;
	ret = ftrace_set_filter(&dsmod_klp_ops, DSMOD_RECURSE_TARGET, strlen(DSMOD_RECURSE_TARGET), 1);
	if (ret == 0)
		ret = register_ftrace_function(&dsmod_klp_ops);
	dsmod_lp.patch_ret = ret;
	if (ret == 0)
		dsmod_lp.patched = true;
	return ret;
}

static int dsmod_unpatch(void)
{
	int ret;

	if (!dsmod_lp.patched)
		return -ENOENT;
	ret = unregister_ftrace_function(&dsmod_klp_ops);
	ftrace_free_filter(&dsmod_klp_ops);
	dsmod_lp.patched = false;
	return ret;
}

static int dsmod_direct(void)
{
	int ret;

	if (dsmod_lp.direct)
		return -EBUSY;
	memset(&dsmod_direct_ops, 0, sizeof(dsmod_direct_ops));
	dsmod_direct_ops.ops_func = dsmod_direct_ops_func;
	ret = ftrace_set_filter(&dsmod_direct_ops, DSMOD_RECURSE_TARGET, strlen(DSMOD_RECURSE_TARGET), 1);
	if (ret == 0)
		ret = register_ftrace_direct(&dsmod_direct_ops, (unsigned long)dsmod_tramp_a);
	dsmod_lp.direct_ret = ret;
	dsmod_lp.self_at_register = dsmod_lp.self;
	if (ret == 0)
		dsmod_lp.direct = true;
	else
		ftrace_free_filter(&dsmod_direct_ops);
	return ret;
}

static int dsmod_direct_modify(void)
{
	int ret;

	if (!dsmod_lp.direct)
		return -ENOENT;
	ret = modify_ftrace_direct(&dsmod_direct_ops, (unsigned long)dsmod_tramp_b);
	dsmod_lp.modify_ret = ret;
	dsmod_lp.self_at_modify = dsmod_lp.self;
	return ret;
}

static int dsmod_direct_off(void)
{
	int ret;

	if (!dsmod_lp.direct)
		return -ENOENT;
	ret = unregister_ftrace_direct(&dsmod_direct_ops, dsmod_direct_ops.direct_call, true);
	dsmod_lp.off_ret = ret;
	dsmod_lp.direct = false;
	return ret;
}

static int dsmod_unreg(char *args)
{
	struct dsmod_ops *d = dsmod_find(strim(args), false);
	int ret;

	if (!d)
		return -ENOENT;
	/*
	 * Asked even when our registration was refused: the caller gets the kernel's answer (-EBUSY, with a WARN, for an
	 * ops that is not enabled), as a kernel user unregistering it would.
	 */
	ret = unregister_ftrace_function(&d->ops);
	/*
	 * The ops is kept as ftrace left it (its flags and hashes), as a caller's would be: a later filter or notrace
	 * change meets the same checks (an IPMODIFY ops may not change its notrace hash); reg starts a fresh one.
	 */
	if (ret == 0)
		d->live = false;
	d->last_ret = ret;
	return ret;
}

static int dsmod_recurse(char *args)
{
	char *name = strsep(&args, " ");
	struct dsmod_ops *d;
	int depth;

	if (!name || !args || kstrtoint(strim(args), 10, &depth) != 0 || depth < 0 || depth > 16)
		return -EINVAL;
	d = dsmod_find(name, false);
	if (!d)
		return -ENOENT;
	d->recurse = depth;
	d->max_depth = 0;
	return 0;
}

/* ftrace_set_filter or ftrace_set_notrace on an ops of ours, registered or not (a new one is made unregistered). */
static int dsmod_hash(char *args, bool exclude)
{
	char *name = strsep(&args, " ");
	struct dsmod_ops *d;
	bool any = dsmod_any_sym(args);
	int ret;

	if (!name || !*name)
		return -EINVAL;
	d = dsmod_find(name, true);
	if (!d)
		return -ENOSPC;
	if (!d->live && !d->ops.func) {
		d->ops.func = dsmod_callback;
	}
	ret = dsmod_set_hash(&d->ops, args, exclude);
	if (ret == 0 && exclude)
		d->excludes = any;
	return ret;
}

/*
 * The trampoline pool for direct ops of ours: DSMOD_TRAMPS copies of ftrace_stub_direct_tramp's code (entered with x9
 * = the traced function's caller and x30 = its body: return into the body with x30 = the caller), each counting its
 * entries first in dsmod_tramp_hits[i] with x15-x17, which hold nothing at a function's entry. 128 bytes apart.
 */
#define DSMOD_TRAMPS 16
unsigned long dsmod_tramp_hits[DSMOD_TRAMPS];
asm(
"	.pushsection .text, \"ax\"\n"
"	.balign 128\n"
"	.globl dsmod_tramp_pool\n"
"dsmod_tramp_pool:\n"
"	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
"	.balign 128\n"
"	hint 34\n"
"	adrp x16, dsmod_tramp_hits + 8 * \\n\n"
"	add x16, x16, :lo12:dsmod_tramp_hits + 8 * \\n\n"
"1:	ldxr x17, [x16]\n"
"	add x17, x17, #1\n"
"	stxr w15, x17, [x16]\n"
"	cbnz w15, 1b\n"
"	mov x10, x30\n"
"	mov x30, x9\n"
"	ret x10\n"
"	.endr\n"
"	.popsection\n"
);
extern char dsmod_tramp_pool[];

static unsigned long dsmod_tramp(int slot)
{
	return (unsigned long)dsmod_tramp_pool + 128 * slot;
}

#define DSMOD_MAX_DIRECT 8
struct dsmod_direct {
	struct ftrace_ops ops;
	char name[DSMOD_NAME_LEN];
	bool used;
	bool live;
	/*
	 * An unregistration that failed after its checks (-ENODEV: ftrace is dead) still freed the ops' filter, and the
	 * ops stays enabled with pointers to freed hashes: asking again would read them, so it is never asked again.
	 */
	bool stranded;
	int slot;
};
static struct dsmod_direct dsmod_directs[DSMOD_MAX_DIRECT];

static struct dsmod_direct *dsmod_find_direct(const char *name, bool create)
{
	int i;

	for (i = 0; i < DSMOD_MAX_DIRECT; i++)
		if (dsmod_directs[i].used && strcmp(dsmod_directs[i].name, name) == 0)
			return &dsmod_directs[i];
	if (!create)
		return NULL;
	for (i = 0; i < DSMOD_MAX_DIRECT; i++) {
		if (!dsmod_directs[i].used) {
			memset(&dsmod_directs[i], 0, sizeof(dsmod_directs[i]));
			dsmod_directs[i].used = true;
			dsmod_directs[i].slot = -1;
			strscpy(dsmod_directs[i].name, name, sizeof(dsmod_directs[i].name));
			return &dsmod_directs[i];
		}
	}
	return NULL;
}

static int dsmod_slot_of(char **args)
{
	char *s = strsep(args, " ");
	int slot;

	if (!s || kstrtoint(s, 10, &slot) != 0 || slot < 0 || slot >= DSMOD_TRAMPS)
		return -1;
	return slot;
}

/* register_ftrace_direct on the symbols, after ftrace_set_filter for them, as the samples do. */
static int dsmod_dreg(char *args)
{
	char *name = strsep(&args, " ");
	int slot = dsmod_slot_of(&args);
	struct dsmod_direct *d;
	int ret;

	if (!name || slot < 0 || !args || !*args)
		return -EINVAL;
	d = dsmod_find_direct(name, true);
	if (!d)
		return -ENOSPC;
	if (d->live)
		return -EBUSY;
	dsmod_forget_ops(&d->ops);
	ret = dsmod_set_hash(&d->ops, args, false);
	if (ret == 0)
		ret = register_ftrace_direct(&d->ops, dsmod_tramp(slot));
	if (ret == 0) {
		d->live = true;
		d->slot = slot;
	} else {
		dsmod_forget_ops(&d->ops);
	}
	return ret;
}

static int dsmod_dmod(char *args)
{
	char *name = strsep(&args, " ");
	int slot = dsmod_slot_of(&args);
	struct dsmod_direct *d = name ? dsmod_find_direct(name, false) : NULL;
	int ret;

	if (slot < 0)
		return -EINVAL;
	if (!d)
		return -ENOENT;
	ret = modify_ftrace_direct(&d->ops, dsmod_tramp(slot));
	if (ret == 0)
		d->slot = slot;
	return ret;
}

static int dsmod_dunreg(char *args)
{
	struct dsmod_direct *d = dsmod_find_direct(strim(args), false);
	int ret;

	if (!d)
		return -ENOENT;
	if (d->stranded)
		return -ENODEV;
	ret = unregister_ftrace_direct(&d->ops, d->ops.direct_call, true);
	if (ret == 0) {
		/* The kernel freed its hashes (free_filters): only the pointers are left to clear. */
		d->live = false;
		memset(&d->ops, 0, sizeof(d->ops));
	} else if (ret != -EINVAL) {
		d->stranded = true;
	}
	return ret;
}

/* What the last command returned (0 or -errno), read back through the ret file. */
static int dsmod_last_ret_all;

static ssize_t dsmod_ctl_write(struct file *file, const char __user *ubuf, size_t len, loff_t *ppos)
{
	char buf[512];
	char *cmd, *args;
	int ret;
	int i;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	args = strim(buf);
	cmd = strsep(&args, " ");
	mutex_lock(&dsmod_lock);
	if (strcmp(cmd, "reg") == 0 && args) {
		ret = dsmod_reg(args);
	} else if (strcmp(cmd, "unreg") == 0 && args) {
		ret = dsmod_unreg(args);
	} else if (strcmp(cmd, "recurse") == 0 && args) {
		ret = dsmod_recurse(args);
	} else if (strcmp(cmd, "refused") == 0 && args) {
		ret = dsmod_refused_run(args);
	} else if (strcmp(cmd, "patch") == 0 && !args) {
		ret = dsmod_patch();
	} else if (strcmp(cmd, "unpatch") == 0 && !args) {
		ret = dsmod_unpatch();
	} else if (strcmp(cmd, "direct") == 0 && !args) {
		ret = dsmod_direct();
	} else if (strcmp(cmd, "direct-modify") == 0 && !args) {
		ret = dsmod_direct_modify();
	} else if (strcmp(cmd, "direct-off") == 0 && !args) {
		ret = dsmod_direct_off();
	} else if (strcmp(cmd, "notrace") == 0 && args) {
		ret = dsmod_hash(args, true);
	} else if (strcmp(cmd, "filter") == 0 && args) {
		ret = dsmod_hash(args, false);
	} else if (strcmp(cmd, "dreg") == 0 && args) {
		ret = dsmod_dreg(args);
	} else if (strcmp(cmd, "dmod") == 0 && args) {
		ret = dsmod_dmod(args);
	} else if (strcmp(cmd, "dunreg") == 0 && args) {
		ret = dsmod_dunreg(args);
	} else if (strcmp(cmd, "clear") == 0 && !args) {
		/* Between runs of a guest that stays up: unregister what is live, forget every ops, so names can be reused. */
		ret = 0;
		for (i = 0; i < DSMOD_MAX_DIRECT; i++) {
			struct dsmod_direct *d = &dsmod_directs[i];

			if (d->used && d->live && !d->stranded) {
				int err = unregister_ftrace_direct(&d->ops, d->ops.direct_call, true);

				if (err == 0) {
					d->live = false;
					memset(&d->ops, 0, sizeof(d->ops));
				} else if (err != -EINVAL) {
					d->stranded = true;
				}
			}
			if (d->used && !d->live)
				d->used = false;
			else if (d->used)
				ret = -EBUSY;
		}
		for (i = 0; i < DSMOD_MAX_OPS; i++) {
			struct dsmod_ops *d = &dsmod_slots[i];

			if (d->used && d->live && unregister_ftrace_function(&d->ops) == 0)
				d->live = false;
			if (d->used && !d->live) {
				dsmod_forget_ops(&d->ops);
				d->used = false;
			} else if (d->used) {
				ret = -EBUSY;
			}
		}
	} else if (strcmp(cmd, "reset") == 0) {
		for (i = 0; i < DSMOD_TRAMPS; i++)
			WRITE_ONCE(dsmod_tramp_hits[i], 0);
		for (i = 0; i < DSMOD_MAX_OPS; i++) {
			dsmod_slots[i].calls = 0;
			dsmod_slots[i].nested = 0;
			dsmod_slots[i].other_callers = 0;
			dsmod_slots[i].max_depth = 0;
			memset(dsmod_slots[i].callers, 0, sizeof(dsmod_slots[i].callers));
		}
		ret = 0;
	} else {
		ret = -EINVAL;
	}
	dsmod_last_ret_all = ret;
	mutex_unlock(&dsmod_lock);
	return ret < 0 ? ret : len;
}

static ssize_t dsmod_ret_read(struct file *file, char __user *ubuf, size_t len, loff_t *ppos)
{
	char buf[32];
	int n = scnprintf(buf, sizeof(buf), "{\"ret\":%d}\n", READ_ONCE(dsmod_last_ret_all));

	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

/* The trace_array layout is the tracer's private business: known only when built against a full source tree. */
#ifdef DSMOD_TRACE_H
#include "trace.h"
#define DSMOD_TR_NAME ((long)offsetof(struct trace_array, name))
#else
#define DSMOD_TR_NAME -1L
#endif

static ssize_t dsmod_layout_read(struct file *file, char __user *ubuf, size_t len, loff_t *ppos)
{
	char buf[128 + DSMOD_TRAMPS * 24];
	int n, i;

	n = scnprintf(buf, sizeof(buf), "{\"layout\":\"%ld,%ld,%ld,%ld,%ld\",\"ops_size\":%zu,\"tramps\":[",
		      (long)offsetof(struct ftrace_ops, func), (long)offsetof(struct ftrace_ops, flags),
		      (long)offsetof(struct ftrace_ops, private), (long)offsetof(struct ftrace_ops, direct_call),
		      DSMOD_TR_NAME, sizeof(struct ftrace_ops));
	for (i = 0; i < DSMOD_TRAMPS; i++)
		n += scnprintf(buf + n, sizeof(buf) - n, "%s\"0x%lx\"", i ? "," : "", dsmod_tramp(i));
	n += scnprintf(buf + n, sizeof(buf) - n, "]}\n");
	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

static ssize_t dsmod_report_read(struct file *file, char __user *ubuf, size_t len, loff_t *ppos)
{
	size_t size = DSMOD_MAX_OPS * (160 + DSMOD_CALLERS * (KSYM_SYMBOL_LEN + 24)) + DSMOD_MAX_DIRECT * 96 + DSMOD_TRAMPS * 24 + 520;
	char *buf = kzalloc(size, GFP_KERNEL);
	char sym[KSYM_SYMBOL_LEN];
	size_t n = 0;
	ssize_t ret;
	int i, j;

	if (!buf)
		return -ENOMEM;
	mutex_lock(&dsmod_lock);
	for (i = 0; i < DSMOD_MAX_OPS; i++) {
		struct dsmod_ops *d = &dsmod_slots[i];

		if (!d->used)
			continue;
		n += scnprintf(buf + n, size - n,
			       "{\"dsmod\":\"%s\",\"ops\":\"0x%lx\",\"live\":%d,\"ret\":%d,\"calls\":%lu,\"nested\":%lu,\"max_depth\":%d,\"callers\":{",
			       d->name, (unsigned long)&d->ops, d->live, d->last_ret, d->calls, d->nested, d->max_depth);
		for (j = 0; j < DSMOD_CALLERS && d->callers[j].n > 0; j++)
		{
			sprint_symbol_no_offset(sym, d->callers[j].ra);
			n += scnprintf(buf + n, size - n, "%s\"%s\":%lu", j ? "," : "", sym, d->callers[j].n);
		}
		n += scnprintf(buf + n, size - n, "},\"other\":%lu}\n", d->other_callers);
	}
	for (i = 0; i < DSMOD_MAX_DIRECT; i++) {
		struct dsmod_direct *d = &dsmod_directs[i];

		if (d->used)
			n += scnprintf(buf + n, size - n, "{\"dsmod_direct\":\"%s\",\"ops\":\"0x%lx\",\"live\":%d,\"slot\":%d}\n",
				       d->name, (unsigned long)&d->ops, d->live, d->slot);
	}
	n += scnprintf(buf + n, size - n, "{\"tramp_hits\":[");
	for (i = 0; i < DSMOD_TRAMPS; i++)
		n += scnprintf(buf + n, size - n, "%s%lu", i ? "," : "", READ_ONCE(dsmod_tramp_hits[i]));
	n += scnprintf(buf + n, size - n, "]}\n");
	if (dsmod_refused.ran)
		n += scnprintf(buf + n, size - n,
			       "{\"refused\":%d,\"busy\":%d,\"other\":%d,\"first_other\":%d,\"hits\":%ld,\"calls\":%ld}\n",
			       dsmod_refused.tries, dsmod_refused.busy, dsmod_refused.other, dsmod_refused.first_other,
			       dsmod_refused.hits, dsmod_refused.calls);
	if (dsmod_lp.patch_ret || dsmod_lp.patched || dsmod_lp.self || dsmod_lp.direct_ret || dsmod_lp.direct)
		n += scnprintf(buf + n, size - n,
			       "{\"livepatch\":%d,\"patch_ret\":%d,\"new_calls\":%ld,\"direct_ret\":%d,\"modify_ret\":%d,\"off_ret\":%d,\"self\":%d,\"peer\":%d,\"disable\":%d,\"self_at_register\":%d,\"self_at_modify\":%d}\n",
			       dsmod_lp.patched, dsmod_lp.patch_ret, atomic_long_read(&dsmod_new_calls), dsmod_lp.direct_ret,
			       dsmod_lp.modify_ret, dsmod_lp.off_ret, dsmod_lp.self, dsmod_lp.peer, dsmod_lp.disable,
			       dsmod_lp.self_at_register, dsmod_lp.self_at_modify);
	mutex_unlock(&dsmod_lock);
	ret = simple_read_from_buffer(ubuf, len, ppos, buf, n);
	kfree(buf);
	return ret;
}

static const struct file_operations dsmod_ctl_fops = {
	.owner = THIS_MODULE,
	.write = dsmod_ctl_write,
};

static const struct file_operations dsmod_report_fops = {
	.owner = THIS_MODULE,
	.read = dsmod_report_read,
};

static const struct file_operations dsmod_ret_fops = {
	.owner = THIS_MODULE,
	.read = dsmod_ret_read,
};

static const struct file_operations dsmod_layout_fops = {
	.owner = THIS_MODULE,
	.read = dsmod_layout_read,
};

static int __init dsmod_init(void)
{
	dsmod_dir = debugfs_create_dir("dispatch_spec", NULL);
	if (IS_ERR(dsmod_dir))
		return PTR_ERR(dsmod_dir);
	debugfs_create_file("ctl", 0200, dsmod_dir, NULL, &dsmod_ctl_fops);
	debugfs_create_file("report", 0400, dsmod_dir, NULL, &dsmod_report_fops);
	debugfs_create_file("ret", 0400, dsmod_dir, NULL, &dsmod_ret_fops);
	debugfs_create_file("layout", 0400, dsmod_dir, NULL, &dsmod_layout_fops);
	return 0;
}

static void __exit dsmod_exit(void)
{
	int i;

	debugfs_remove_recursive(dsmod_dir);
	for (i = 0; i < DSMOD_MAX_OPS; i++)
		if (dsmod_slots[i].live)
			unregister_ftrace_function(&dsmod_slots[i].ops);
	for (i = 0; i < DSMOD_MAX_DIRECT; i++)
		if (dsmod_directs[i].live)
			unregister_ftrace_direct(&dsmod_directs[i].ops, dsmod_directs[i].ops.direct_call, true);
	if (dsmod_lp.direct)
		dsmod_direct_off();
	if (dsmod_lp.patched)
		dsmod_unpatch();
}

module_init(dsmod_init);
module_exit(dsmod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("dispatch-spec: ftrace_ops with chosen flags, and how each callback was reached");
