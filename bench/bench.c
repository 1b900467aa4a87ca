/* bench: `make bench`, the measuring instrument of issue-7's targets.
 *
 *   build/bench/bench [--runs N] [--only mlp,xor,start,gemm,cnn,mpi]
 *
 * Run from the repository root after `make bench` built nnc and the tools in
 * build/bench/.  It measures this CPU's FMA peak (peak.c), then:
 *   W1, W3  nnc train, 1 thread, one epoch, against PyTorch 1 thread with
 *           flush-to-zero (bench/torch_ref.py), and nnc's share of the peak;
 *   W2      the same with 2 threads against nnc's 1 thread (and PyTorch's
 *           2 threads), checkpoints of both compared byte for byte;
 *   MEM     the W1 run's peak memory against its budget;
 *   W4      a training step of the compiled XOR object in a C loop (xor_loop.c);
 *   W5      nnc train from start to its first step, cold and warm cache;
 *   GEMM    every matrix product of W1 and W3 against OpenBLAS (gemm.c);
 *   W6      the CNN of examples/fashion_cnn.nn, 1 and 2 threads, against
 *           PyTorch (../shared/bench/torch_cnn.py) (cnn.c);
 *   W7      W3 on 2 MPI ranks of 1 thread against 1 process, the all-reduce's
 *           share, and a simulated slow link against the step-time model
 *           (dist.c).
 * Each figure is the best of N runs, nnc and its reference alternating in
 * the same run.  A table goes to standard output, progress to standard
 * error, and everything (with every run's figure) to
 * bench/results/YYYYMMDD-HHMMSS.json.  FLOP counts, layer sizes and GEMM
 * shapes come from the train graphs nnc prints (`nnc ir`), not from tables
 * here; the targets are the issue's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* ---- small helpers ---- */

void note(Bench *b, const char *fmt, ...) {
  if (b->nnotes == MAX_NOTES) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->notes[b->nnotes++], NOTE_LEN, fmt, ap);
  va_end(ap);
}

void progress(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

Row *add_row(Bench *b, const char *id, const char *unit, const char *ref_name, const char *fmt, ...) {
  if (b->nrows == MAX_ROWS) {
    fprintf(stderr, "bench: too many rows\n");
    exit(1);
  }
  Row *r = &b->rows[b->nrows++];
  *r = (Row){.unit = unit, .nnc = NAN, .ref = NAN, .gflops = NAN, .peak = NAN};
  snprintf(r->id, sizeof r->id, "%s", id);
  snprintf(r->ref_name, sizeof r->ref_name, "%s", ref_name ? ref_name : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->what, sizeof r->what, fmt, ap);
  va_end(ap);
  return r;
}

/* The last line of text that starts with prefix, into buf ("" if none). */
char *line_starting(const char *text, const char *prefix, char *buf, size_t len) {
  buf[0] = 0;
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    if (strncmp(p, prefix, strlen(prefix)) == 0) snprintf(buf, len, "%.*s", (int)n, p);
    p = nl ? nl + 1 : NULL;
  }
  return buf;
}

/* The last few lines of a failed command's standard error, for a note. */
const char *tail_of(const char *text) {
  size_t n = strlen(text);
  while (n > 0 && text[n - 1] == '\n') n--;
  int lines = 0;
  size_t i = n;
  while (i > 0 && !(text[i - 1] == '\n' && ++lines == 2)) i--;
  static char buf[NOTE_LEN / 2];
  snprintf(buf, sizeof buf, "%.*s", (int)(n - i), text + i);
  for (char *p = buf; *p; p++)
    if (*p == '\n') *p = ' ';
  return buf;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

void remove_tree(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

const char *python(void) {
  const char *p = getenv("BENCH_PYTHON");
  return p && *p ? p : PYTHON;
}

/* ---- the machine ---- */

/* Jiffies since boot: all, and idle (idle + iowait), from /proc/stat. */
static bool cpu_jiffies(double *total, double *idle) {
  FILE *f = fopen("/proc/stat", "r");
  double v[10] = {0};
  int n = f ? fscanf(f, "cpu %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                     &v[6], &v[7], &v[8], &v[9])
            : 0;
  if (f) fclose(f);
  *total = *idle = 0;
  for (int i = 0; i < 8 && i < n; i++) *total += v[i];   /* guest time is already in user */
  *idle = v[3] + v[4];
  return n >= 5;
}

/* CPUs kept busy (by anyone, the hypervisor's steal included) over `seconds`. */
static double busy_cpus(const Bench *b, double seconds) {
  double t0, i0, t1, i1;
  if (!cpu_jiffies(&t0, &i0)) return NAN;
  nanosleep(&(struct timespec){0, (long)(seconds * 1e9)}, NULL);
  if (!cpu_jiffies(&t1, &i1) || t1 <= t0) return NAN;
  return (1 - (i1 - i0) / (t1 - t0)) * b->ncpu;
}

/* Before a measurement: waits up to b->settle seconds for other jobs to
 * leave the CPUs (less than QUIET_CPUS busy), and counts the measurements
 * that had to start on a busy machine. */
void settle(Bench *b) {
  double busy = busy_cpus(b, 0.25);
  for (double waited = 0.25; !(busy < QUIET_CPUS) && waited < b->settle; waited += 0.25)
    busy = busy_cpus(b, 0.25);
  b->measurements++;
  if (!(busy < QUIET_CPUS)) b->busy_starts++;
}

static double load_average(void) {
  double l = NAN;
  FILE *f = fopen("/proc/loadavg", "r");
  if (f && fscanf(f, "%lf", &l) != 1) l = NAN;
  if (f) fclose(f);
  return l;
}

static void cpu_model(char *buf, size_t len) {
  snprintf(buf, len, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f)) {
    char *colon = strchr(line, ':');
    if (colon && strncmp(line, "model name", 10) == 0) {
      snprintf(buf, len, "%s", colon + 2);
      buf[strcspn(buf, "\n")] = 0;
      break;
    }
  }
  if (f) fclose(f);
}

/* `nnc target`, the CPU's name, the commit measured and the load. */
static void machine(Bench *b) {
  ProcResult r;
  proc_run((const char *[]){NNC, "target", NULL}, NULL, &r);
  snprintf(b->target_text, sizeof b->target_text, "%s", r.ok ? r.out : "nnc target failed\n");
  char line[256];
  if (sscanf(line_starting(r.out, "family", line, sizeof line), "family %31[^:]", b->family) != 1)
    snprintf(b->family, sizeof b->family, "unknown");
  proc_result_free(&r);
  cpu_model(b->cpu, sizeof b->cpu);
  proc_run((const char *[]){"git", "describe", "--always", "--dirty", NULL}, NULL, &r);
  snprintf(b->commit, sizeof b->commit, "%s", r.ok ? r.out : "unknown");
  b->commit[strcspn(b->commit, "\n")] = 0;
  proc_result_free(&r);
  b->load_before = load_average();
  b->ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
}

static void measure_peak(Bench *b) {
  char runs[16];
  snprintf(runs, sizeof runs, "%d", b->runs);
  ProcResult r;
  proc_run((const char *[]){TOOLS "peak", "--runs", runs, NULL}, NULL, &r);
  b->peak1 = proc_number(r.out, "peak1_gflops");
  b->peak2 = proc_number(r.out, "peak2_gflops");
  b->wall1 = proc_number(r.out, "wall1_gflops");
  b->wall2 = proc_number(r.out, "wall2_gflops");
  b->roundtrip_ns = proc_number(r.out, "line_roundtrip_ns");
  if (!proc_field(r.out, "isa", b->isa, sizeof b->isa)) snprintf(b->isa, sizeof b->isa, "unknown");
  b->chains = (int)proc_number(r.out, "chains");
  if (!r.ok || isnan(b->peak1)) note(b, "the FMA peak probe failed: %s", tail_of(r.err));
  progress("FMA peak: %.1f GFLOP/s on 1 core, %.1f on 2", b->peak1, b->peak2);
  proc_result_free(&r);
}

/* PyTorch needs OpenBLAS: Debian's torch falls back to the reference BLAS
 * without it, ~8x slower, which would flatter nnc. */
static void find_references(Bench *b) {
  void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
  b->openblas = h != NULL;
  if (h) dlclose(h);
  ProcResult r;
  bool started = proc_run((const char *[]){python(), "-c", "import torch", NULL}, NULL, &r);
  b->torch = started && r.ok && b->openblas;
  if (!b->openblas)
    snprintf(b->torch_why, sizeof b->torch_why, "OpenBLAS is missing (apt-get install libopenblas0-pthread)");
  else if (!b->torch)
    snprintf(b->torch_why, sizeof b->torch_why, "PyTorch is missing (%s cannot import torch; %s)", python(),
             "apt-get install python3-torch");
  proc_result_free(&r);
  if (!b->torch) note(b, "reference missing: %s; nnc is measured alone", b->torch_why);
  if (!b->openblas) note(b, "reference missing: OpenBLAS (libopenblas.so.0) for the GEMM rows");
}

/* ---- the command line and the report ---- */

static unsigned parse_sections(const char *list) {
  static const char *names[] = {"mlp", "xor", "start", "gemm", "cnn", "mpi"};
  unsigned s = 0;
  char buf[128];
  snprintf(buf, sizeof buf, "%s", list);
  for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
    unsigned found = 0;
    for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
      if (strcmp(tok, names[i]) == 0) found = 1u << i;
    if (!found) return 0;
    s |= found;
  }
  return s;
}

static bool parse_args(Bench *b, int argc, char **argv) {
  const char *env = getenv("BENCH_RUNS"), *settle = getenv("BENCH_SETTLE");
  b->runs = env && *env ? atoi(env) : 3;
  b->settle = settle && *settle ? atof(settle) : 4;
  b->sections = SECTION_ALL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--runs") == 0) b->runs = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--only") == 0) b->sections = parse_sections(argv[i + 1]);
    else b->runs = 0;
  }
  if (argc % 2 == 0 || b->runs < 1 || b->runs > ROW_MAX_RUNS || b->sections == 0) {
    fprintf(stderr, "usage: bench [--runs N (1-%d; default $BENCH_RUNS or 3)] [--only mlp,xor,start,gemm,cnn,mpi]\n",
            ROW_MAX_RUNS);
    return false;
  }
  return true;
}

static void print_report(const Bench *b, FILE *out) {
  fprintf(out, "\nmake bench: best of %d runs; every ratio is taken in this run (nnc %s)\n", b->runs, b->commit);
  fprintf(out, "machine: %s, %d CPUs; load average %.2f before, %.2f after (other jobs share the machine)\n", b->cpu,
          b->ncpu, b->load_before, b->load_after);
  fprintf(out, "nnc target:\n");
  for (const char *p = b->target_text; *p;) {
    const char *nl = strchr(p, '\n');
    int n = nl ? (int)(nl - p) : (int)strlen(p);
    fprintf(out, "  %.*s\n", n, p);
    p = nl ? nl + 1 : p + n;
  }
  fprintf(out, "FMA peak (%s, %d chains): %.1f GFLOP/s on 1 core, %.1f on 2", b->isa, b->chains, b->peak1, b->peak2);
  fprintf(out, " (over CPU time; wall clock gave %.1f, %.1f)\n", b->wall1, b->wall2);
  if (b->roundtrip_ns > 0)
    fprintf(out, "a cache line from one core to the other and back: %.0f ns (what every barrier of 2 threads waits)\n",
            b->roundtrip_ns);
  fprintf(out, "\n");
  table_print(out, b->rows, b->nrows);
  fprintf(out, "\nratio: how many times better nnc is than the reference (faster; for times and memory, smaller)\n");
  fprintf(out, "peak: nnc's GFLOP/s over the FMA peak of the cores it ran on\n");
  for (int i = 0; i < b->nnotes; i++) fprintf(out, "- %s\n", b->notes[i]);
  fprintf(out, "- %d of %d measurements began while other jobs kept %.1f CPUs or more busy", b->busy_starts,
          b->measurements, (double)QUIET_CPUS);
  fprintf(out, " (after waiting up to %g s)\n", b->settle);
}

static const char *avx_kind(const Bench *b) {
  if (strcmp(b->family, "avx512") == 0) return "AVX-512";
  if (strcmp(b->family, "avx2") == 0) return "AVX2";
  return "neither";
}

static void write_json(const Bench *b, FILE *f, const char *date) {
  fprintf(f, "{\n  \"date\": \"%s\",\n  \"runs\": %d,\n  \"nnc_commit\": ", date, b->runs);
  json_string(f, b->commit);
  fputs(",\n  \"machine\": {\"cpu\": ", f), json_string(f, b->cpu);
  fputs(", \"family\": ", f), json_string(f, b->family);
  fputs(", \"avx\": ", f), json_string(f, avx_kind(b));
  fprintf(f, ", \"cpus\": %d, \"load_before\": %.2f, \"load_after\": %.2f, \"measurements\": %d, "
             "\"measurements_started_busy\": %d, \"nnc_target\": ",
          b->ncpu, b->load_before, b->load_after, b->measurements, b->busy_starts);
  json_string(f, b->target_text);
  fputs("},\n  \"peak\": {\"isa\": ", f), json_string(f, b->isa);
  fprintf(f, ", \"chains\": %d, \"one_core_gflops\": %.2f, \"two_cores_gflops\": %.2f, \"wall_one_core_gflops\": %.2f, "
             "\"wall_two_cores_gflops\": %.2f, \"line_roundtrip_ns\": %.0f},\n  \"references\": {\"pytorch\": ",
          b->chains, b->peak1, isnan(b->peak2) ? 0 : b->peak2, b->wall1, isnan(b->wall2) ? 0 : b->wall2,
          isnan(b->roundtrip_ns) ? 0 : b->roundtrip_ns);
  json_string(f, b->torch ? "available" : b->torch_why);
  fputs(", \"openblas\": ", f), json_string(f, b->openblas ? b->blas_core : "missing");
  fputs("},\n  \"rows\": ", f);
  table_json(f, b->rows, b->nrows);
  fputs(",\n  \"notes\": [", f);
  for (int i = 0; i < b->nnotes; i++) fputs(i ? ",\n    " : "\n    ", f), json_string(f, b->notes[i]);
  fputs("\n  ]\n}\n", f);
}

/* bench/results/YYYYMMDD-HHMMSS.json, written whole and renamed into place. */
static void save_json(const Bench *b) {
  time_t now = time(NULL);
  char stamp[32], date[32], path[96], tmp[112];
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&now));
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
  mkdir("bench/results", 0777);
  snprintf(path, sizeof path, "bench/results/%s.json", stamp);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "bench: cannot write %s\n", tmp);
    return;
  }
  write_json(b, f, date);
  if (fclose(f) == 0 && rename(tmp, path) == 0) printf("\nresults: %s\n", path);
  else fprintf(stderr, "bench: cannot write %s\n", path);
}

int main(int argc, char **argv) {
  static Bench b;
  if (!parse_args(&b, argc, argv)) return 2;
  snprintf(b.tmp, sizeof b.tmp, "%s/nnc-bench-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(b.tmp)) {
    perror("bench: mkdtemp");
    return 1;
  }
  snprintf(b.cache, sizeof b.cache, "XDG_CACHE_HOME=%s/cache", b.tmp);   /* never the user's own cache */
  machine(&b);
  measure_peak(&b);
  find_references(&b);
  if (!models_load(&b)) return 1;
  if (b.sections & SECTION_MLP) bench_mlps(&b);
  if (b.sections & SECTION_XOR) bench_xor(&b);
  if (b.sections & SECTION_START) bench_start(&b);
  if (b.sections & SECTION_GEMM) bench_gemm(&b);
  if (b.sections & SECTION_CNN) bench_cnn(&b);
  if (b.sections & SECTION_MPI) bench_dist(&b);
  b.load_after = load_average();
  remove_tree(b.tmp);
  print_report(&b, stdout);
  save_json(&b);
  return 0;
}
