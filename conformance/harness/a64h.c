/*
 * a64h: runs the model's AArch64 words on a real AArch64 implementation (QEMU user mode) and reports what a call
 * does, for conformance/differential.ts to compare with the model's interpreter.
 *
 * The model's memory image is mapped at the model's own addresses (the driver lays scenarios out in user space),
 * code pages with PROT_BTI when the layout has BTI. Every C function of the model (ops callbacks, the list func,
 * call_direct_funcs, function bodies, a trampoline's helper, the caller's return address) becomes a marker word,
 * `BRK #0x7a1` (after a `BTI C` where the model's C function would have one). The SIGTRAP handler plays that C
 * function: it reports the registers, does what the model's C code does (the list walk reads the ops list from
 * memory; call_direct_funcs stores ops->direct_call into fregs), clobbers x0-x17 as the model does, and returns
 * to x30. Entering a call is a BRK too, so every register starts exactly as the driver says. Faults (SIGILL for
 * BTI, SIGSEGV, a BRK that is not a marker) and a timeout end the call.
 *
 * Protocol: one command per line on stdin, numbers in hex without 0x; replies on stdout, one line each.
 *   reset                               unmap everything, forget hosts and ops
 *   map ADDR SIZE PROT                  PROT: w (rw), x (rwx), g (rwx + PROT_BTI)
 *   w ADDR WORD...                      32-bit words from ADDR on
 *   host ADDR KIND ID                   a C function at ADDR; KIND f ops func, l list func, n nop func, d
 *                                       call_direct_funcs, s stub, b body (marker only, no BTI C), r caller return,
 *                                       t trampoline helper; ID is the driver's name for it
 *   ops ADDR STUB IP...                 an ops object and the ips it traces (for the list walk)
 *   opsclear
 *   cfg LISTHEAD LISTEND FUNC NEXT DIRECT FREGS_DT   list head word, list end ops, field offsets, fregs slot
 *                                       for the direct trampoline (ffffffffffffffff: the design has none)
 *   call PC SP X0 ... X30               run; replies with h/c/v lines, then one e line
 * Replies:
 *   ready BTI                           once at start (BTI: 1 if HWCAP2_BTI)
 *   h ID X0..X30 SP [M0 M1]             a C function entered (t: also the two words at sp)
 *   c ID IP PIP OP                      a callback run by the list walk
 *   v WHAT ADDR                         the list walk met something the model would report
 *   e ok X0..X30 SP | e fault SIG CODE PC ADDR X0..X30 SP | e timeout   (ADDR: the fault address)
 *   err MESSAGE                         a bad command (the process goes on)
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <ucontext.h>

#ifndef PROT_BTI
#define PROT_BTI 0x10
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef HWCAP2_BTI
#define HWCAP2_BTI (1UL << 17)
#endif

#define MARKER 0xd420f420u /* BRK #0x7a1 */
#define BTI_C 0xd503245fu
#define MAX_REGIONS 256
#define MAX_HOSTS 4096
#define MAX_OPS 64
#define MAX_IPS 64

struct region { uint64_t lo, hi; };
struct host { uint64_t marker; char kind; uint64_t id; };
struct ops { uint64_t addr; int stub; int nips; uint64_t ips[MAX_IPS]; };

static struct region regions[MAX_REGIONS];
static int nregions;
static struct host hosts[MAX_HOSTS];
static int nhosts;
static struct ops opss[MAX_OPS];
static int nops;
static uint64_t cfg_head, cfg_end, cfg_func, cfg_next, cfg_direct, cfg_fregs_dt = ~0ULL;

static uint64_t call_regs[31], call_sp, call_pc;
static int entering;
static sigjmp_buf call_jmp;
static char altstack[1 << 16];

static void out_regs(const uint64_t *x, uint64_t sp) {
  for (int i = 0; i < 31; i++) printf(" %lx", (unsigned long)x[i]);
  printf(" %lx", (unsigned long)sp);
}

static int mapped(uint64_t a, uint64_t n) {
  for (int i = 0; i < nregions; i++)
    if (a >= regions[i].lo && a + n <= regions[i].hi) return 1;
  return 0;
}

static struct host *host_at(uint64_t marker) {
  for (int i = 0; i < nhosts; i++)
    if (hosts[i].marker == marker) return &hosts[i];
  return NULL;
}

/* The host whose C function starts at addr (its BTI C, or the marker itself for a body). */
static struct host *host_fn(uint64_t addr) {
  struct host *h = host_at(addr + 4);
  if (h != NULL && h->kind != 'b') return h;
  h = host_at(addr);
  return h != NULL && h->kind == 'b' ? h : NULL;
}

static struct ops *ops_at(uint64_t a) {
  for (int i = 0; i < nops; i++)
    if (opss[i].addr == a) return &opss[i];
  return NULL;
}

static int traces(const struct ops *o, uint64_t ip) {
  for (int i = 0; i < o->nips; i++)
    if (o->ips[i] == ip) return 1;
  return 0;
}

static uint64_t load64(uint64_t a, int *ok) {
  if (!mapped(a, 8)) { *ok = 0; return 0; }
  uint64_t v;
  memcpy(&v, (const void *)a, 8);
  return v;
}

/* call_direct_funcs: READ_ONCE(ops->direct_call), then arch_ftrace_set_direct_caller(fregs, addr). */
static void call_direct_funcs(uint64_t op, uint64_t fregs) {
  int ok = 1;
  uint64_t addr = load64(op + cfg_direct, &ok);
  if (!ok) { printf("v badptr %lx\n", (unsigned long)(op + cfg_direct)); return; }
  if (addr != 0 && cfg_fregs_dt != ~0ULL) {
    if (!mapped(fregs + cfg_fregs_dt, 8)) { printf("v badptr %lx\n", (unsigned long)(fregs + cfg_fregs_dt)); return; }
    memcpy((void *)(fregs + cfg_fregs_dt), &addr, 8);
  }
}

/* A callback run from C (the list walk): report it and do what the model's C code does. */
static void c_callback(uint64_t func, uint64_t ip, uint64_t pip, uint64_t op, uint64_t fregs) {
  struct host *h = host_fn(func);
  if (h == NULL) { printf("v nothost %lx\n", (unsigned long)func); return; }
  printf("c %lx %lx %lx %lx\n", (unsigned long)h->id, (unsigned long)ip, (unsigned long)pip, (unsigned long)op);
  if (h->kind == 'd') call_direct_funcs(op, fregs);
}

/* arch_ftrace_ops_list_func: walk the list through op->next, calling each non-stub ops that traces ip. */
static void list_func(uint64_t ip, uint64_t pip, uint64_t fregs) {
  int ok = 1;
  uint64_t a = load64(cfg_head, &ok);
  for (int guard = 0; ok && a != cfg_end && a != 0 && guard < 1000; guard++) {
    struct ops *o = ops_at(a);
    if (o == NULL) { printf("v notops %lx\n", (unsigned long)a); return; }
    if (!o->stub && traces(o, ip)) {
      uint64_t func = load64(a + cfg_func, &ok);
      if (!ok) break;
      if (func == 0) { printf("v nullfunc %lx\n", (unsigned long)a); return; }
      c_callback(func, ip, pip, a, fregs);
    }
    a = load64(a + cfg_next, &ok);
  }
  if (!ok) printf("v badptr list\n");
}

static void stop_timer(void) {
  struct itimerval t = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &t, NULL);
}

static void on_trap(int sig, siginfo_t *si, void *ucv) {
  (void)sig;
  (void)si;
  ucontext_t *uc = ucv;
  mcontext_t *mc = &uc->uc_mcontext;
  uint64_t pc = mc->pc;
  if (entering) {
    entering = 0;
    for (int i = 0; i < 31; i++) mc->regs[i] = call_regs[i];
    mc->sp = call_sp;
    mc->pc = call_pc;
    mc->pstate &= ~(3ULL << 10); /* BTYPE 00: entered as by a BL */
    return;
  }
  struct host *h = mapped(pc, 4) && *(const uint32_t *)pc == MARKER ? host_at(pc) : NULL;
  if (h == NULL) {
    stop_timer();
    printf("e fault %d %d %lx %lx", SIGTRAP, si->si_code, (unsigned long)pc, (unsigned long)pc);
    out_regs((const uint64_t *)mc->regs, mc->sp);
    printf("\n");
    siglongjmp(call_jmp, 1);
  }
  uint64_t *x = (uint64_t *)mc->regs;
  if (h->kind == 'r') {
    stop_timer();
    printf("h %lx", (unsigned long)h->id);
    out_regs(x, mc->sp);
    printf("\ne ok");
    out_regs(x, mc->sp);
    printf("\n");
    siglongjmp(call_jmp, 1);
  }
  printf("h %lx", (unsigned long)h->id);
  out_regs(x, mc->sp);
  if (h->kind == 't') {
    int ok = 1;
    uint64_t m0 = load64(mc->sp, &ok), m1 = load64(mc->sp + 8, &ok);
    printf(" %lx %lx", (unsigned long)m0, (unsigned long)m1);
  }
  printf("\n");
  if (h->kind == 'l') list_func(x[0], x[1], x[3]);
  if (h->kind == 'd') call_direct_funcs(x[2], x[3]);
  /* Return from the C function: caller-saved registers as the model leaves them, then RET to x30. */
  for (int i = 0; i <= 17; i++) x[i] = 0xdead000000000000ULL + (uint64_t)i;
  mc->pc = x[30];
  mc->pstate &= ~(3ULL << 10);
}

static void on_fault(int sig, siginfo_t *si, void *ucv) {
  ucontext_t *uc = ucv;
  mcontext_t *mc = &uc->uc_mcontext;
  stop_timer();
  printf("e fault %d %d %lx %lx", sig, si->si_code, (unsigned long)mc->pc, (unsigned long)si->si_addr);
  out_regs((const uint64_t *)mc->regs, mc->sp);
  printf("\n");
  siglongjmp(call_jmp, 1);
}

static void on_alarm(int sig) {
  (void)sig;
  printf("e timeout\n");
  siglongjmp(call_jmp, 1);
}

static void handlers(void) {
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigfillset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sa.sa_sigaction = on_trap;
  sigaction(SIGTRAP, &sa, NULL);
  sa.sa_sigaction = on_fault;
  sigaction(SIGILL, &sa, NULL);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  sigaction(SIGFPE, &sa, NULL);
  struct sigaction al;
  memset(&al, 0, sizeof al);
  sigfillset(&al.sa_mask);
  al.sa_flags = SA_ONSTACK;
  al.sa_handler = on_alarm;
  sigaction(SIGALRM, &al, NULL);
}

static void reset(void) {
  for (int i = 0; i < nregions; i++) munmap((void *)regions[i].lo, regions[i].hi - regions[i].lo);
  nregions = nhosts = nops = 0;
}

static int do_map(uint64_t addr, uint64_t size, const char *prot) {
  int p = PROT_READ | PROT_WRITE;
  if (prot[0] == 'x' || prot[0] == 'g') p |= PROT_EXEC;
  if (prot[0] == 'g') p |= PROT_BTI;
  if (nregions == MAX_REGIONS) return -1;
  void *m = mmap((void *)addr, size, p, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (m == MAP_FAILED || (uint64_t)m != addr) return -1;
  regions[nregions].lo = addr;
  regions[nregions].hi = addr + size;
  nregions++;
  return 0;
}

static void put32(uint64_t a, uint32_t w) {
  memcpy((void *)a, &w, 4);
  __builtin___clear_cache((char *)a, (char *)a + 4);
}

static void run_call(void) {
  if (sigsetjmp(call_jmp, 1) == 0) {
    struct itimerval t = {{0, 0}, {2, 0}};
    setitimer(ITIMER_REAL, &t, NULL);
    entering = 1;
    __asm__ volatile("brk #0x7a2" ::: "memory");
    /* not reached: the call ends in a signal handler */
  }
  entering = 0;
  fflush(stdout);
}

int main(void) {
  static char line[1 << 16];
  handlers();
  printf("ready %d\n", (getauxval(AT_HWCAP2) & HWCAP2_BTI) ? 1 : 0);
  fflush(stdout);
  while (fgets(line, sizeof line, stdin) != NULL) {
    char *save = NULL;
    char *cmd = strtok_r(line, " \n", &save);
    if (cmd == NULL) continue;
#define NEXT() strtok_r(NULL, " \n", &save)
#define HEX(s) strtoull((s), NULL, 16)
    if (strcmp(cmd, "reset") == 0) {
      reset();
      printf("ok\n");
    } else if (strcmp(cmd, "map") == 0) {
      char *a = NEXT(), *n = NEXT(), *p = NEXT();
      if (a == NULL || n == NULL || p == NULL) printf("err map needs ADDR SIZE PROT\n");
      else if (do_map(HEX(a), HEX(n), p) != 0) printf("err cannot map %s+%s\n", a, n);
      else printf("ok\n");
    } else if (strcmp(cmd, "w") == 0) {
      char *a = NEXT();
      uint64_t at = a == NULL ? 0 : HEX(a);
      int bad = 0;
      for (char *s = NEXT(); s != NULL; s = NEXT(), at += 4) {
        if (!mapped(at, 4)) { bad = 1; break; }
        put32(at, (uint32_t)HEX(s));
      }
      if (bad) printf("err write to unmapped %lx\n", (unsigned long)at);
      else printf("ok\n");
    } else if (strcmp(cmd, "host") == 0) {
      char *a = NEXT(), *k = NEXT(), *id = NEXT();
      if (a == NULL || k == NULL || id == NULL || nhosts == MAX_HOSTS) { printf("err host needs ADDR KIND ID\n"); continue; }
      uint64_t at = HEX(a);
      int body = k[0] == 'b';
      if (!mapped(at, body ? 4 : 8)) { printf("err host at unmapped %lx\n", (unsigned long)at); continue; }
      if (!body) put32(at, BTI_C);
      uint64_t marker = body ? at : at + 4;
      put32(marker, MARKER);
      hosts[nhosts].marker = marker;
      hosts[nhosts].kind = k[0];
      hosts[nhosts].id = HEX(id);
      nhosts++;
      printf("ok\n");
    } else if (strcmp(cmd, "opsclear") == 0) {
      nops = 0;
      printf("ok\n");
    } else if (strcmp(cmd, "ops") == 0) {
      char *a = NEXT(), *st = NEXT();
      if (a == NULL || st == NULL || nops == MAX_OPS) { printf("err ops needs ADDR STUB IP...\n"); continue; }
      struct ops *o = &opss[nops++];
      o->addr = HEX(a);
      o->stub = (int)HEX(st);
      o->nips = 0;
      for (char *s = NEXT(); s != NULL && o->nips < MAX_IPS; s = NEXT()) o->ips[o->nips++] = HEX(s);
      printf("ok\n");
    } else if (strcmp(cmd, "cfg") == 0) {
      char *v[6];
      int i;
      for (i = 0; i < 6 && (v[i] = NEXT()) != NULL; i++) {}
      if (i < 6) { printf("err cfg needs 6 values\n"); continue; }
      cfg_head = HEX(v[0]); cfg_end = HEX(v[1]); cfg_func = HEX(v[2]); cfg_next = HEX(v[3]); cfg_direct = HEX(v[4]); cfg_fregs_dt = HEX(v[5]);
      printf("ok\n");
    } else if (strcmp(cmd, "call") == 0) {
      char *pc = NEXT(), *sp = NEXT();
      int i;
      if (pc == NULL || sp == NULL) { printf("err call needs PC SP X0..X30\n"); continue; }
      for (i = 0; i < 31; i++) {
        char *s = NEXT();
        if (s == NULL) break;
        call_regs[i] = HEX(s);
      }
      if (i < 31) { printf("err call needs 31 registers\n"); continue; }
      call_pc = HEX(pc);
      call_sp = HEX(sp);
      fflush(stdout);
      run_call();
    } else {
      printf("err unknown command %s\n", cmd);
    }
    fflush(stdout);
  }
  return 0;
}
