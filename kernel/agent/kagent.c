/*
 * kagent: the guest side of `dispatch-spec kernel`. A small static arm64 program run by the guest's init script
 * on a real Linux kernel. It reads ftrace patch-sites from /proc/kcore (addresses from /proc/kallsyms, struct
 * layouts from /sys/kernel/btf/vmlinux), and attaches and detaches BPF fentry programs through the raw bpf(2)
 * syscall, so that a scenario's direct ops become real direct calls (BPF trampolines). One JSON line per
 * observation on stdout; errors as {"error": ...}.
 *
 *   kagent site NAME...        per function: the literal at NAME-8, the words at NAME and NAME+4, the BL target,
 *                              and the ops the literal points at (func, flags, direct_call, and for a tracer
 *                              instance's ops the instance name through ops->private)
 *   kagent at FUNC,FLAGS,PRIVATE,DIRECT,TRNAME,TRACECALL ADDR...
 *                              the same for functions given by address, with the struct offsets and the address
 *                              of function_trace_call given (from `kagent layout`): no kallsyms or BTF to parse,
 *                              so a read costs next to nothing under emulation
 *   kagent layout              those six numbers, as the argument `at` takes
 *   kagent sym NAME...         addresses of symbols
 *   kagent call NAME           make the kernel run NAME once, through the system call (or file write) it serves
 *   kagent runs PIN...         how many times the program behind each pinned fentry link has run (bpf_stats)
 *   kagent fentry NAME PIN     load `r0 = 0; exit` as an fentry program on NAME, link it, pin the link at PIN, and
 *                              print where the function's BPF trampoline image now is (once the one it replaced
 *                              is freed)
 *   kagent detach NAME 0|1 PIN...
 *                              detach those links from NAME now (not from a workqueue), wait until NAME has that
 *                              many images, and print them
 *   kagent fexit NAME PIN      the same as an fexit program (its trampoline calls the function's body itself)
 *   kagent images NAME         the words of every BPF trampoline image kallsyms names for NAME
 *   kagent load PATH           load a kernel module with finit_module(2) (dispatch-spec's own dsmod.ko)
 *   kagent dump                the words of ftrace_caller and ftrace_stub_direct_tramp (each up to the next global
 *                              text symbol), every symbol inside them with its kallsyms type, where each branch
 *                              out of them lands, the addresses of the ftrace objects the model binds by name, and
 *                              the struct ftrace_ops / ftrace_regs offsets from BTF: what `--entry` reads
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <elf.h>

static void fail(const char *what, const char *detail) {
  printf("{\"error\":\"%s: %s\"}\n", what, detail);
  exit(1);
}

/* ---- /proc/kallsyms ---------------------------------------------------------------------------------------- */

struct ksym { uint64_t addr; char *name; char type; };
static struct ksym *ksyms;
static size_t nksyms;

static int by_addr(const void *a, const void *b) {
  const struct ksym *x = a, *y = b;
  return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void load_kallsyms(void) {
  FILE *f = fopen("/proc/kallsyms", "r");
  if (f == NULL) fail("kallsyms", strerror(errno));
  size_t cap = 1 << 18;
  ksyms = malloc(cap * sizeof *ksyms);
  char line[512];
  while (fgets(line, sizeof line, f) != NULL) {
    char type, name[256];
    unsigned long long addr;
    if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3) continue;
    if (name[0] == '$') continue; /* ELF mapping symbols in modules */
    if (nksyms == cap) ksyms = realloc(ksyms, (cap *= 2) * sizeof *ksyms);
    ksyms[nksyms].addr = addr;
    ksyms[nksyms].name = strdup(name);
    ksyms[nksyms].type = type;
    nksyms++;
  }
  fclose(f);
  qsort(ksyms, nksyms, sizeof *ksyms, by_addr);
}

static uint64_t sym_addr(const char *name) {
  for (size_t i = 0; i < nksyms; i++)
    if (strcmp(ksyms[i].name, name) == 0) return ksyms[i].addr;
  return 0;
}

/* The symbol at or below addr, as name+0xoff (exact: name). */
static void sym_name(uint64_t addr, char *out, size_t n) {
  size_t lo = 0, hi = nksyms;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (ksyms[mid].addr <= addr) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0 || addr - ksyms[lo - 1].addr > 0x100000) { snprintf(out, n, "0x%llx", (unsigned long long)addr); return; }
  const struct ksym *s = &ksyms[lo - 1];
  if (s->addr == addr) snprintf(out, n, "%s", s->name);
  else snprintf(out, n, "%s+0x%llx", s->name, (unsigned long long)(addr - s->addr));
}

/* ---- /proc/kcore --------------------------------------------------------------------------------------------- */

static int kcore = -1;
static Elf64_Phdr *phdrs;
static int nphdrs;

static void open_kcore(void) {
  kcore = open("/proc/kcore", O_RDONLY);
  if (kcore < 0) fail("kcore", strerror(errno));
  Elf64_Ehdr eh;
  if (pread(kcore, &eh, sizeof eh, 0) != (ssize_t)sizeof eh) fail("kcore", "short ELF header");
  nphdrs = eh.e_phnum;
  phdrs = calloc((size_t)nphdrs, sizeof *phdrs);
  if (pread(kcore, phdrs, sizeof *phdrs * (size_t)nphdrs, (off_t)eh.e_phoff) != (ssize_t)(sizeof *phdrs * (size_t)nphdrs)) fail("kcore", "short program headers");
}

static int kread(uint64_t addr, void *buf, size_t n) {
  for (int i = 0; i < nphdrs; i++) {
    const Elf64_Phdr *p = &phdrs[i];
    if (p->p_type != PT_LOAD || addr < p->p_vaddr || addr + n > p->p_vaddr + p->p_memsz) continue;
    return pread(kcore, buf, n, (off_t)(p->p_offset + (addr - p->p_vaddr))) == (ssize_t)n ? 0 : -1;
  }
  return -1;
}

static uint64_t kread64(uint64_t addr, int *ok) {
  uint64_t v = 0;
  if (kread(addr, &v, 8) != 0) *ok = 0;
  return v;
}

/* ---- BTF ----------------------------------------------------------------------------------------------------- */

static uint8_t *btf;
static const struct btf_hdr_s { uint16_t magic; uint8_t version, flags; uint32_t hdr_len, type_off, type_len, str_off, str_len; } *bh;
static uint32_t **btf_types;
static uint32_t nbtf;

static uint8_t *slurp(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return NULL;
  size_t cap = 1 << 20, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (n == cap) buf = realloc(buf, cap *= 2);
    ssize_t r = read(fd, buf + n, cap - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  *len = n;
  return buf;
}

static const char *btf_str(uint32_t off) { return (const char *)btf + bh->hdr_len + bh->str_off + off; }

static void load_btf(void) {
  size_t len;
  btf = slurp("/sys/kernel/btf/vmlinux", &len);
  if (btf == NULL) fail("btf", strerror(errno));
  bh = (const void *)btf;
  if (bh->magic != 0xeB9F) fail("btf", "bad magic");
  uint8_t *p = btf + bh->hdr_len + bh->type_off, *end = p + bh->type_len;
  size_t cap = 1 << 16;
  btf_types = malloc(cap * sizeof *btf_types);
  btf_types[0] = NULL;
  nbtf = 1;
  while (p < end) {
    uint32_t *t = (uint32_t *)p;
    uint32_t info = t[1], kind = (info >> 24) & 0x1f, vlen = info & 0xffff;
    size_t extra = 0;
    switch (kind) {
      case 1: extra = 4; break;                 /* INT */
      case 3: extra = 12; break;                /* ARRAY */
      case 4: case 5: extra = 12 * vlen; break; /* STRUCT, UNION */
      case 6: extra = 8 * vlen; break;          /* ENUM */
      case 13: extra = 8 * vlen; break;         /* FUNC_PROTO */
      case 14: extra = 4; break;                /* VAR */
      case 15: extra = 12 * vlen; break;        /* DATASEC */
      case 17: extra = 4; break;                /* DECL_TAG */
      case 19: extra = 12 * vlen; break;        /* ENUM64 */
      default: extra = 0;
    }
    if (nbtf == cap) btf_types = realloc(btf_types, (cap *= 2) * sizeof *btf_types);
    btf_types[nbtf++] = t;
    p += 12 + extra;
  }
}

static uint32_t btf_find(const char *name, uint32_t kind) {
  for (uint32_t id = 1; id < nbtf; id++) {
    uint32_t *t = btf_types[id];
    if (((t[1] >> 24) & 0x1f) == kind && strcmp(btf_str(t[0]), name) == 0) return id;
  }
  return 0;
}

/* Byte offset of a member of a struct, or -1. */
static long btf_member(const char *sname, const char *member) {
  uint32_t id = btf_find(sname, 4);
  if (id == 0) return -1;
  uint32_t *t = btf_types[id];
  uint32_t vlen = t[1] & 0xffff, kflag = t[1] >> 31;
  uint32_t *m = t + 3;
  for (uint32_t i = 0; i < vlen; i++, m += 3)
    if (strcmp(btf_str(m[0]), member) == 0) return (long)((kflag ? (m[2] & 0xffffff) : m[2]) / 8);
  return -1;
}

/* sizeof(struct sname), or -1. */
static long btf_size(const char *sname) {
  uint32_t id = btf_find(sname, 4);
  return id == 0 ? -1 : (long)btf_types[id][2];
}

/* ---- commands ------------------------------------------------------------------------------------------------ */

static uint64_t bl_target(uint64_t pc, uint32_t w) {
  if ((w & 0xfc000000u) != 0x94000000u) return 0;
  int64_t imm = (int64_t)(w & 0x03ffffffu);
  if (imm & 0x02000000) imm -= 0x04000000;
  return pc + (uint64_t)(imm * 4);
}

static void cmd_site(int argc, char **argv) {
  load_kallsyms();
  open_kcore();
  load_btf();
  long o_func = btf_member("ftrace_ops", "func"), o_flags = btf_member("ftrace_ops", "flags"), o_private = btf_member("ftrace_ops", "private"),
       o_direct = btf_member("ftrace_ops", "direct_call"), o_trname = btf_member("trace_array", "name");
  uint64_t trace_call = sym_addr("function_trace_call");
  for (int i = 0; i < argc; i++) {
    uint64_t f = sym_addr(argv[i]);
    if (f == 0) { printf("{\"fn\":\"%s\",\"error\":\"no such symbol\"}\n", argv[i]); continue; }
    uint8_t b[16];
    if (kread(f - 8, b, 16) != 0) { printf("{\"fn\":\"%s\",\"error\":\"kcore read failed\"}\n", argv[i]); continue; }
    uint64_t lit;
    uint32_t w0, w1;
    memcpy(&lit, b, 8);
    memcpy(&w0, b + 8, 4);
    memcpy(&w1, b + 12, 4);
    uint64_t target = bl_target(f + 4, w1);
    int ok = 1;
    uint64_t func = kread64(lit + (uint64_t)o_func, &ok), flags = kread64(lit + (uint64_t)o_flags, &ok), priv = kread64(lit + (uint64_t)o_private, &ok);
    uint64_t direct = o_direct >= 0 ? kread64(lit + (uint64_t)o_direct, &ok) : 0;
    char lits[160], tgt[160], funcs[160], directs[160], trname[64] = "";
    sym_name(lit, lits, sizeof lits);
    sym_name(target, tgt, sizeof tgt);
    sym_name(func, funcs, sizeof funcs);
    sym_name(direct, directs, sizeof directs);
    if (ok && func == trace_call && priv != 0 && o_trname >= 0) {
      int ok2 = 1;
      uint64_t np = kread64(priv + (uint64_t)o_trname, &ok2);
      if (ok2 && np != 0 && kread(np, trname, sizeof trname - 1) == 0) trname[sizeof trname - 1] = 0;
      for (char *c = trname; *c; c++) if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = '?';
    }
    printf("{\"fn\":\"%s\",\"addr\":\"0x%llx\",\"lit\":\"0x%llx\",\"lit_sym\":\"%s\",\"w0\":\"%08x\",\"w1\":\"%08x\",\"bl\":\"%s\",\"bl_addr\":\"0x%llx\","
           "\"ops_ok\":%d,\"ops_func\":\"%s\",\"ops_flags\":\"0x%llx\",\"ops_direct\":\"%s\",\"ops_direct_addr\":\"0x%llx\",\"instance\":\"%s\"}\n",
           argv[i], (unsigned long long)f, (unsigned long long)lit, lits, w0, w1, target != 0 ? tgt : "", (unsigned long long)target, ok, funcs,
           (unsigned long long)flags, directs, (unsigned long long)direct, trname);
  }
}

static void cmd_layout(void) {
  load_kallsyms();
  /* A kernel built without BTF (dispatch-spec's own, kernel/build.ts): dsmod, built against its tree, knows the offsets. */
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    size_t len;
    char *l = (char *)slurp("/sys/kernel/debug/dispatch_spec/layout", &len);
    if (l != NULL) l[len < (1 << 20) ? len : (1 << 20) - 1] = 0;
    char *at = l == NULL ? NULL : strstr(l, "\"layout\":\"");
    char *end = at == NULL ? NULL : strchr(at + 10, '"');
    if (end == NULL) fail("layout", "no BTF, and no layout from dsmod (is it loaded?)");
    *end = 0;
    printf("{\"layout\":\"%s,0x%llx\",\"from\":\"dsmod\"}\n", at + 10, (unsigned long long)sym_addr("function_trace_call"));
    return;
  }
  load_btf();
  printf("{\"layout\":\"%ld,%ld,%ld,%ld,%ld,0x%llx\"}\n", btf_member("ftrace_ops", "func"), btf_member("ftrace_ops", "flags"), btf_member("ftrace_ops", "private"),
         btf_member("ftrace_ops", "direct_call"), btf_member("trace_array", "name"), (unsigned long long)sym_addr("function_trace_call"));
}

/* Read the sites at the given function addresses; raw addresses only, the host names them. */
static void cmd_at(const char *layout, int argc, char **argv) {
  long o_func, o_flags, o_private, o_direct, o_trname;
  unsigned long long trace_call;
  if (sscanf(layout, "%ld,%ld,%ld,%ld,%ld,%llx", &o_func, &o_flags, &o_private, &o_direct, &o_trname, &trace_call) != 6) fail("at", "bad layout argument");
  open_kcore();
  for (int i = 0; i < argc; i++) {
    uint64_t f = strtoull(argv[i], NULL, 16);
    uint8_t b[16];
    if (kread(f - 8, b, 16) != 0) { printf("{\"at\":\"0x%llx\",\"error\":\"kcore read failed\"}\n", (unsigned long long)f); continue; }
    uint64_t lit;
    uint32_t w0, w1;
    memcpy(&lit, b, 8);
    memcpy(&w0, b + 8, 4);
    memcpy(&w1, b + 12, 4);
    int ok = 1;
    uint64_t func = kread64(lit + (uint64_t)o_func, &ok), flags = kread64(lit + (uint64_t)o_flags, &ok), priv = kread64(lit + (uint64_t)o_private, &ok);
    uint64_t direct = o_direct >= 0 ? kread64(lit + (uint64_t)o_direct, &ok) : 0;
    char trname[64] = "";
    if (ok && func == trace_call && priv != 0 && o_trname >= 0) {
      int ok2 = 1;
      uint64_t np = kread64(priv + (uint64_t)o_trname, &ok2);
      if (ok2 && np != 0 && kread(np, trname, sizeof trname - 1) == 0) trname[sizeof trname - 1] = 0;
      for (char *c = trname; *c; c++) if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = '?';
    }
    printf("{\"at\":\"0x%llx\",\"lit\":\"0x%llx\",\"w0\":\"%08x\",\"w1\":\"%08x\",\"bl_addr\":\"0x%llx\",\"ops_ok\":%d,\"ops_func\":\"0x%llx\",\"ops_flags\":\"0x%llx\",\"ops_direct_addr\":\"0x%llx\",\"instance\":\"%s\"}\n",
           (unsigned long long)f, (unsigned long long)lit, w0, w1, (unsigned long long)bl_target(f + 4, w1), ok, (unsigned long long)func, (unsigned long long)flags,
           (unsigned long long)direct, trname);
  }
}

static void cmd_sym(int argc, char **argv) {
  load_kallsyms();
  for (int i = 0; i < argc; i++) printf("{\"sym\":\"%s\",\"addr\":\"0x%llx\"}\n", argv[i], (unsigned long long)sym_addr(argv[i]));
}

static long bpf(int cmd, union bpf_attr *attr) { return syscall(__NR_bpf, cmd, attr, sizeof *attr); }

/* The addresses of every BPF trampoline image of function NAME (btf id): kallsyms names them by their key, vmlinux
 * BTF (object id 1) << 32 | 0x80000000 | btf id. One pass over /proc/kallsyms comparing names only (parsing every
 * line costs seconds under emulation). Returns how many were found, at most max. */
static int tramp_images(uint32_t id, uint64_t *at, int max, char *tname, size_t tname_len) {
  snprintf(tname, tname_len, "bpf_trampoline_%llu", (unsigned long long)((1ULL << 32) | 0x80000000ULL | id));
  FILE *ks = fopen("/proc/kallsyms", "r");
  char line[512];
  size_t tl = strlen(tname);
  int n = 0;
  while (ks != NULL && n < max && fgets(line, sizeof line, ks) != NULL) {
    char *sp = strchr(line, ' ');
    char *nm = sp == NULL ? NULL : strchr(sp + 1, ' ');
    if (nm == NULL || strncmp(nm + 1, tname, tl) != 0 || (nm[1 + tl] != '\n' && nm[1 + tl] != '\t' && nm[1 + tl] != ' ' && nm[1 + tl] != 0)) continue;
    at[n++] = strtoull(line, NULL, 16);
  }
  if (ks != NULL) fclose(ks);
  return n;
}

/* Polls of 50 ms while a replaced BPF trampoline image is freed (after RCU-tasks grace periods, from a workqueue). */
#define KAGENT_SETTLE_POLLS 600

/* The images of function ID once kallsyms lists exactly WANT of them (the old ones freed), polling up to
 * KAGENT_SETTLE_POLLS times; *settled says whether it got there (else the images as last seen). An image's kallsyms
 * entry goes in the same step as its memory, so a settled list names only live images, and a later image may reuse
 * a freed one's address. */
static int settle_images(uint32_t id, int want, uint64_t *at, int max, char *tname, size_t tname_len, int *settled) {
  int n = 0;
  for (int p = 0; p < KAGENT_SETTLE_POLLS; p++) {
    n = tramp_images(id, at, max, tname, tname_len);
    if (n == want) {
      *settled = 1;
      return n;
    }
    usleep(50000);
  }
  *settled = 0;
  return n;
}

/* The words of every BPF trampoline image of NAME, KAGENT_IMAGE_WORDS of each (the JIT's fill follows a short one). */
#define KAGENT_IMAGE_WORDS 160
static void cmd_images(const char *name) {
  load_btf();
  uint32_t id = btf_find(name, 12); /* FUNC */
  if (id == 0) fail("images", "no BTF FUNC of that name");
  open_kcore();
  uint64_t at[8];
  char tname[64];
  int n = tramp_images(id, at, 8, tname, sizeof tname);
  printf("{\"images\":\"%s\",\"tramp_sym\":\"%s\",\"at\":[", name, tname);
  for (int i = 0; i < n; i++) {
    uint32_t w[KAGENT_IMAGE_WORDS];
    printf("%s{\"addr\":\"0x%llx\"", i ? "," : "", (unsigned long long)at[i]);
    if (kread(at[i], w, sizeof w) != 0) {
      printf(",\"error\":\"kcore read failed\"}");
      continue;
    }
    printf(",\"words\":[");
    for (int j = 0; j < KAGENT_IMAGE_WORDS; j++) printf("%s\"%08x\"", j ? "," : "", w[j]);
    printf("]}");
  }
  printf("]}\n");
}

static void cmd_fentry(const char *name, const char *pin, int fexit) {
  load_btf();
  uint32_t id = btf_find(name, 12); /* FUNC */
  if (id == 0) fail(fexit ? "fexit" : "fentry", "no BTF FUNC of that name");
  struct bpf_insn insns[2];
  memset(insns, 0, sizeof insns);
  insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K; /* r0 = 0 */
  insns[1].code = BPF_JMP | BPF_EXIT;
  static char log[1 << 16];
  union bpf_attr a;
  memset(&a, 0, sizeof a);
  a.prog_type = BPF_PROG_TYPE_TRACING;
  a.expected_attach_type = fexit ? BPF_TRACE_FEXIT : BPF_TRACE_FENTRY;
  a.attach_btf_id = id;
  a.insns = (uint64_t)(uintptr_t)insns;
  a.insn_cnt = 2;
  a.license = (uint64_t)(uintptr_t)"GPL";
  a.log_buf = (uint64_t)(uintptr_t)log;
  a.log_size = sizeof log;
  a.log_level = 1;
  long prog = bpf(BPF_PROG_LOAD, &a);
  if (prog < 0) fail("BPF_PROG_LOAD", strerror(errno));
  memset(&a, 0, sizeof a);
  a.link_create.prog_fd = (uint32_t)prog;
  a.link_create.attach_type = fexit ? BPF_TRACE_FEXIT : BPF_TRACE_FENTRY;
  long link = bpf(BPF_LINK_CREATE, &a);
  if (link < 0) fail("BPF_LINK_CREATE", strerror(errno));
  memset(&a, 0, sizeof a);
  a.pathname = (uint64_t)(uintptr_t)pin;
  a.bpf_fd = (uint32_t)link;
  if (bpf(BPF_OBJ_PIN, &a) < 0) fail("BPF_OBJ_PIN", strerror(errno));
  uint64_t at[8];
  char tname[64];
  int settled = 0;
  int n = settle_images(id, 1, at, 8, tname, sizeof tname, &settled);
  printf("{\"%s\":\"%s\",\"btf_id\":%u,\"pin\":\"%s\",\"tramp_sym\":\"%s\",\"settled\":%d,\"tramps\":[", fexit ? "fexit" : "fentry", name, id, pin, tname, settled);
  for (int i = 0; i < n; i++) printf("%s\"0x%llx\"", i ? "," : "", (unsigned long long)at[i]);
  printf("]}\n");
}

/* Detach the fentry links pinned at PIN... from NAME, each one before the next: take an fd on the link, unpin it
 * (the pin's reference goes at once), then close the fd, whose release is the link's last reference and detaches
 * it in the close itself (the trampoline rebuilt without the program, or unregistered if it was the last), not
 * from a workqueue as a bare unpin would. The program's id going away says the release has run. Then wait until
 * kallsyms lists WANT images of NAME (0: no program left; 1: the rebuilt one, the old freed) and print them. */
static int obj_info(long fd, void *info, uint32_t len);
static void cmd_detach(const char *name, int want, int argc, char **argv) {
  load_btf();
  uint32_t id = btf_find(name, 12); /* FUNC */
  if (id == 0) fail("detach", "no BTF FUNC of that name");
  int released = 1;
  for (int i = 0; i < argc; i++) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.pathname = (uint64_t)(uintptr_t)argv[i];
    long link = bpf(BPF_OBJ_GET, &a);
    if (link < 0) fail("detach: BPF_OBJ_GET", strerror(errno));
    struct bpf_link_info li;
    uint32_t prog_id = obj_info(link, &li, sizeof li) == 0 ? li.prog_id : 0;
    if (unlink(argv[i]) != 0) fail("detach: unlink", strerror(errno));
    close((int)link);
    int gone = 0;
    for (int p = 0; p < KAGENT_SETTLE_POLLS && !gone; p++) {
      memset(&a, 0, sizeof a);
      a.prog_id = prog_id;
      long prog = bpf(BPF_PROG_GET_FD_BY_ID, &a);
      if (prog < 0 && errno == ENOENT) gone = 1;
      else {
        if (prog >= 0) close((int)prog);
        usleep(50000);
      }
    }
    if (!gone) released = 0;
  }
  uint64_t at[8];
  char tname[64];
  int settled = 0;
  int n = settle_images(id, want, at, 8, tname, sizeof tname, &settled);
  printf("{\"detach\":\"%s\",\"released\":%d,\"settled\":%d,\"tramps\":[", name, released, settled);
  for (int i = 0; i < n; i++) printf("%s\"0x%llx\"", i ? "," : "", (unsigned long long)at[i]);
  printf("]}\n");
}

/* Run a traced function once: the system call whose entry point it is, or the file write a module function serves. */
static void cmd_call(const char *name) {
  long r = -1;
  if (strcmp(name, "__arm64_sys_sethostname") == 0) r = syscall(__NR_sethostname, "dispatch", 8);
  else if (strcmp(name, "__arm64_sys_setdomainname") == 0) r = syscall(__NR_setdomainname, "spec", 4);
  else if (strcmp(name, "__arm64_sys_acct") == 0) r = syscall(__NR_acct, NULL);
  else if (strcmp(name, "__arm64_sys_swapoff") == 0) r = syscall(__NR_swapoff, "/nonexistent-dispatch-spec");
  else if (strcmp(name, "__arm64_sys_pivot_root") == 0) r = syscall(__NR_pivot_root, "/nonexistent-a", "/nonexistent-b");
  else if (strcmp(name, "__arm64_sys_syncfs") == 0) r = syscall(__NR_syncfs, 0);
  else if (strcmp(name, "bm_status_write") == 0) {
    int fd = open("/proc/sys/fs/binfmt_misc/status", O_WRONLY);
    if (fd < 0) fail("call", "binfmt_misc status not mounted");
    r = write(fd, "1\n", 2);
    close(fd);
  } else fail("call", "no way to call that function");
  printf("{\"call\":\"%s\",\"ret\":%ld,\"errno\":%d}\n", name, r, r < 0 ? errno : 0);
}

/* BPF_OBJ_GET_INFO_BY_FD into info (len bytes); 0 on success. */
static int obj_info(long fd, void *info, uint32_t len) {
  union bpf_attr a;
  memset(info, 0, len);
  memset(&a, 0, sizeof a);
  a.info.bpf_fd = (uint32_t)fd;
  a.info.info_len = len;
  a.info.info = (uint64_t)(uintptr_t)info;
  return bpf(BPF_OBJ_GET_INFO_BY_FD, &a) == 0 ? 0 : -1;
}

static void cmd_runs(int argc, char **argv) {
  printf("{\"runs\":{");
  for (int i = 0; i < argc; i++) {
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.pathname = (uint64_t)(uintptr_t)argv[i];
    long link = bpf(BPF_OBJ_GET, &a);
    long long runs = -1;
    struct bpf_link_info li;
    if (link >= 0 && obj_info(link, &li, sizeof li) == 0) {
      memset(&a, 0, sizeof a);
      a.prog_id = li.prog_id;
      long prog = bpf(BPF_PROG_GET_FD_BY_ID, &a);
      struct bpf_prog_info pi;
      if (prog >= 0 && obj_info(prog, &pi, sizeof pi) == 0) runs = (long long)pi.run_cnt;
      if (prog >= 0) close((int)prog);
    }
    if (link >= 0) close((int)link);
    printf("%s\"%s\":%lld", i ? "," : "", argv[i], runs);
  }
  printf("}}\n");
}

/* The objects --entry takes from a running kernel, the symbols the model binds by name, and the C layouts. */
static const char *const DUMP_CODE[] = {"ftrace_caller", "ftrace_stub_direct_tramp"};
static const char *const DUMP_NAMED[] = {"_text", "_etext", "ftrace_list_ops", "ftrace_nop_ops", "ftrace_ops_list_func", "ftrace_ops_nop_func",
                                         "call_direct_funcs", "ftrace_stub", "ftrace_stub_graph", "ftrace_graph_call", "ftrace_call",
                                         "function_trace_op", "ftrace_ops_list", "ftrace_list_end", "ftrace_ops_assist_func", "return_to_handler"};

static void dump_struct(const char *sname, const char *const *members, size_t n) {
  printf("\"%s\":{\"size\":%ld", sname, btf_size(sname));
  for (size_t i = 0; i < n; i++) printf(",\"%s\":%ld", members[i], btf_member(sname, members[i]));
  printf("}");
}

static void cmd_dump(void) {
  load_kallsyms();
  open_kcore();
  /* Without BTF the offsets are printed as -1 and the host takes them from the code. */
  if (access("/sys/kernel/btf/vmlinux", R_OK) == 0) load_btf();
  char release[128] = "";
  FILE *osr = fopen("/proc/sys/kernel/osrelease", "r");
  if (osr != NULL && fgets(release, sizeof release, osr) != NULL) release[strcspn(release, "\n")] = 0;
  if (osr != NULL) fclose(osr);
  printf("{\"dump\":{\"format\":\"dispatch-spec/entry@1\",\"release\":\"%s\",\"code\":[", release);
  uint64_t lo[2] = {0, 0}, hi[2] = {0, 0};
  for (size_t c = 0; c < 2; c++) {
    size_t i = 0;
    while (i < nksyms && strcmp(ksyms[i].name, DUMP_CODE[c]) != 0) i++;
    if (i == nksyms) { printf("%s{\"name\":\"%s\",\"error\":\"no such symbol\"}", c ? "," : "", DUMP_CODE[c]); continue; }
    uint64_t start = ksyms[i].addr, end = start + 1024;
    size_t j = i + 1;
    while (j < nksyms && (ksyms[j].addr <= start || !(ksyms[j].type >= 'A' && ksyms[j].type <= 'Z'))) j++;
    if (j < nksyms && ksyms[j].addr < end) end = ksyms[j].addr;
    lo[c] = start;
    hi[c] = end;
    static uint32_t w[256];
    size_t nw = (size_t)(end - start) / 4;
    if (kread(start, w, nw * 4) != 0) { printf("%s{\"name\":\"%s\",\"error\":\"kcore read failed\"}", c ? "," : "", DUMP_CODE[c]); continue; }
    printf("%s{\"name\":\"%s\",\"addr\":\"0x%llx\",\"words\":[", c ? "," : "", DUMP_CODE[c], (unsigned long long)start);
    for (size_t k = 0; k < nw; k++) printf("%s\"%08x\"", k ? "," : "", w[k]);
    printf("],\"symbols\":[");
    int first = 1;
    /* qsort is not stable: symbols at ftrace_caller's own address may sort before it. */
    size_t k0 = i;
    while (k0 > 0 && ksyms[k0 - 1].addr == start) k0--;
    for (size_t k = k0; k < nksyms && ksyms[k].addr < end; k++) {
      if (ksyms[k].addr < start) continue;
      printf("%s{\"name\":\"%s\",\"addr\":\"0x%llx\",\"type\":\"%c\"}", first ? "" : ",", ksyms[k].name, (unsigned long long)ksyms[k].addr, ksyms[k].type);
      first = 0;
    }
    printf("]}");
  }
  printf("],\"refs\":[");
  int first = 1;
  for (size_t c = 0; c < 2; c++) {
    for (uint64_t a = lo[c]; a < hi[c]; a += 4) {
      uint32_t w;
      if (kread(a, &w, 4) != 0) continue;
      int imm26 = (w & 0x7c000000u) == 0x14000000u; /* B, BL */
      int imm19 = (w & 0x7e000000u) == 0x34000000u || (w & 0xff000010u) == 0x54000000u; /* CBZ/CBNZ, B.cond */
      if (!imm26 && !imm19) continue;
      int64_t off = imm26 ? (int64_t)(w & 0x03ffffffu) : (int64_t)((w >> 5) & 0x7ffffu);
      int64_t sign = imm26 ? 0x02000000 : 0x40000;
      if (off & sign) off -= 2 * sign;
      uint64_t to = a + (uint64_t)(off * 4);
      if ((to >= lo[0] && to < hi[0]) || (to >= lo[1] && to < hi[1])) continue;
      char name[160];
      sym_name(to, name, sizeof name);
      printf("%s{\"at\":\"0x%llx\",\"to\":\"0x%llx\",\"sym\":\"%s\"}", first ? "" : ",", (unsigned long long)a, (unsigned long long)to, name);
      first = 0;
    }
  }
  printf("],\"named\":{");
  for (size_t i = 0; i < sizeof DUMP_NAMED / sizeof *DUMP_NAMED; i++) printf("%s\"%s\":\"0x%llx\"", i ? "," : "", DUMP_NAMED[i], (unsigned long long)sym_addr(DUMP_NAMED[i]));
  printf("},\"btf\":{");
  static const char *const ops_members[] = {"func", "next", "flags", "private", "trampoline", "direct_call"};
  static const char *const regs_members[] = {"regs", "direct_tramp", "fp", "lr", "sp", "pc"};
  dump_struct("ftrace_ops", ops_members, sizeof ops_members / sizeof *ops_members);
  printf(",");
  /* Newer kernels (Debian's 6.12.117 among them) call the arm64 layout __arch_ftrace_regs; older ones ftrace_regs. */
  dump_struct(btf_find("__arch_ftrace_regs", 4) != 0 ? "__arch_ftrace_regs" : "ftrace_regs", regs_members, sizeof regs_members / sizeof *regs_members);
  printf("}}}\n");
}

/* finit_module(2): the module file as the kernel reads it, with no parameters; one line either way. */
static void cmd_load(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    printf("{\"load\":\"%s\",\"error\":\"open: %s\"}\n", path, strerror(errno));
    return;
  }
  long r = syscall(SYS_finit_module, fd, "", 0);
  if (r != 0) printf("{\"load\":\"%s\",\"error\":\"finit_module: %s\"}\n", path, strerror(errno));
  else printf("{\"load\":\"%s\",\"ok\":1}\n", path);
  close(fd);
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "site") == 0) cmd_site(argc - 2, argv + 2);
  else if (argc >= 2 && strcmp(argv[1], "sym") == 0) cmd_sym(argc - 2, argv + 2);
  else if (argc == 2 && strcmp(argv[1], "layout") == 0) cmd_layout();
  else if (argc == 3 && strcmp(argv[1], "call") == 0) cmd_call(argv[2]);
  else if (argc >= 2 && strcmp(argv[1], "runs") == 0) cmd_runs(argc - 2, argv + 2);
  else if (argc >= 3 && strcmp(argv[1], "at") == 0) cmd_at(argv[2], argc - 3, argv + 3);
  else if (argc == 4 && strcmp(argv[1], "fentry") == 0) cmd_fentry(argv[2], argv[3], 0);
  else if (argc == 4 && strcmp(argv[1], "fexit") == 0) cmd_fentry(argv[2], argv[3], 1);
  else if (argc == 3 && strcmp(argv[1], "images") == 0) cmd_images(argv[2]);
  else if (argc >= 5 && strcmp(argv[1], "detach") == 0 && (strcmp(argv[3], "0") == 0 || strcmp(argv[3], "1") == 0)) cmd_detach(argv[2], argv[3][0] - '0', argc - 4, argv + 4);
  else if (argc == 2 && strcmp(argv[1], "dump") == 0) cmd_dump();
  else if (argc == 3 && strcmp(argv[1], "load") == 0) cmd_load(argv[2]);
  else fail("usage", "kagent site NAME... | at LAYOUT ADDR... | layout | sym NAME... | call NAME | runs PIN... | fentry NAME PIN | fexit NAME PIN | detach NAME 0|1 PIN... | images NAME | dump | load PATH");
  fflush(stdout);
  return 0;
}
