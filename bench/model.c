/* model: what a workload's train step computes, read from the IR text nnc
 * prints (`nnc ir MODEL`, the simplified train graph; docs/ir.md):
 *   graph fashion_mlp.train (batch 64) {
 *     %0 = input x : [64,784]
 *     %8 = matmul %0, %2 : [64,256]
 *     %47 = matmul %0, %44 ta : [784,256]
 * Every product counts 2 m n k floating-point operations; the forward
 * products (neither operand transposed), chained, give the layer widths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

const Workload workloads[NWORKLOADS] = {
    {"W1", "examples/fashion_mlp.nn", 0, 3.0, 0.75, 1.4},
    {"W3", "bench/w3.nn", 12800, 1.5, 0.75, 1.6},
};

enum { MAX_NODES = 1 << 16 };

typedef struct {
  int d0, d1;           /* the first two dimensions (0 when absent) */
} Dims;

/* "... : [64,784] ..." */
static Dims dims_of(const char *line) {
  Dims d = {0, 0};
  const char *p = strstr(line, " : [");
  if (p) sscanf(p, " : [%d,%d", &d.d0, &d.d1);
  return d;
}

static void add_matmul(ModelInfo *mi, const char *line, const Dims *shape) {
  int a, b;
  const char *p = strstr(line, "matmul ");
  const char *colon = strstr(line, " : [");
  if (!p || !colon || sscanf(p, "matmul %%%d, %%%d", &a, &b) != 2 || a < 0 || a >= MAX_NODES) return;
  if (mi->nmm == MAX_MATMULS) return;
  Matmul *m = &mi->mm[mi->nmm++];
  char flags[64];
  snprintf(flags, sizeof flags, "%.*s", (int)(colon - p), p);
  m->ta = strstr(flags, " ta") != NULL;
  m->tb = strstr(flags, " tb") != NULL;
  Dims out = dims_of(line);
  m->m = out.d0, m->n = out.d1;
  m->k = m->ta ? shape[a].d0 : shape[a].d1;
  mi->flops_per_step += 2.0 * m->m * m->n * m->k;
}

/* The forward products, if each feeds the next, are the layers. */
static void find_layers(ModelInfo *mi) {
  mi->nlayers = 0;
  for (int i = 0; i < mi->nmm; i++) {
    const Matmul *m = &mi->mm[i];
    if (m->ta || m->tb) continue;
    if (mi->nlayers == 0) mi->layers[mi->nlayers++] = m->k;
    if (mi->layers[mi->nlayers - 1] != m->k || mi->nlayers == MAX_LAYERS) {
      mi->nlayers = 0;
      return;
    }
    mi->layers[mi->nlayers++] = m->n;
  }
}

static bool parse_ir(const char *text, ModelInfo *mi) {
  Dims *shape = calloc(MAX_NODES, sizeof *shape);
  *mi = (ModelInfo){.batch = 0};
  for (const char *line = text; line && *line;) {
    const char *nl = strchr(line, '\n');
    char buf[512], op[32];
    snprintf(buf, sizeof buf, "%.*s", nl ? (int)(nl - line) : (int)strlen(line), line);
    int id;
    if (strncmp(buf, "graph ", 6) == 0) {
      sscanf(buf, "graph %63[^. ]%*[^(](batch %d)", mi->name, &mi->batch);
    } else if (sscanf(buf, " %%%d = %31s", &id, op) == 2 && id >= 0 && id < MAX_NODES) {
      shape[id] = dims_of(buf);
      if (strcmp(op, "input") == 0) mi->row_floats += shape[id].d1;
      if (strcmp(op, "matmul") == 0) add_matmul(mi, buf, shape);
    }
    line = nl ? nl + 1 : NULL;
  }
  free(shape);
  find_layers(mi);
  return mi->batch > 0 && mi->nmm > 0;
}

static bool model_load(const char *id, const char *model, ModelInfo *mi) {
  ProcResult r;
  proc_run((const char *[]){NNC, "ir", model, "--stage=simplified", NULL}, NULL, &r);
  bool ok = r.ok && parse_ir(r.out, mi);
  if (!ok) fprintf(stderr, "bench: cannot read the train graph of %s: %s\n", model, tail_of(r.err));
  proc_result_free(&r);
  if (ok)
    progress("%s %s: batch %d, %d products, %.4g MFLOP per step", id, mi->name, mi->batch, mi->nmm,
             mi->flops_per_step * 1e-6);
  return ok;
}

bool models_load(Bench *b) {
  for (int w = 0; w < NWORKLOADS; w++)
    if (!model_load(workloads[w].id, workloads[w].model, &b->info[w])) return false;
  return model_load("W4", XOR_MODEL, &b->xor_info);
}
