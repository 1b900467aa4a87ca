/* fuzz_nn: the whole front half on .nn text.
 *
 * Parse, check, the size check, then for a model that passes: the train step
 * and the evaluation graph lowered (gradients, optimizer), simplified, fused,
 * planned and scheduled for this CPU, and the train step run by the
 * reference evaluator when it is small.  Any text must end in diagnostics or
 * in a model that goes through every stage: nothing may crash, leak, hang or
 * trip a sanitizer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "fuzz.h"
#include "lower.h"
#include "pipeline.h"

enum {
  FUZZ_BATCH = 2,              /* the batch every graph is built for */
  EVAL_MAX_FLOATS = 1 << 16,   /* the evaluator runs on graphs up to this many values */
};

/* Elements of every node of g, or more than limit (counting stops there). */
static double graph_floats(const IrGraph *g, double limit) {
  double n = 0;
  for (int i = 0; i < g->nodes.len && n <= limit; i++) n += (double)shape_numel(((IrNode *)g->nodes.items[i])->shape);
  return n;
}

/* Runs g in the reference evaluator with every leaf set to small values. */
static void evaluate(const IrGraph *g) {
  Arena *scratch = arena_new();
  double **vals = NEW_ARRAY(scratch, double *, g->nodes.len);
  for (int i = 0; i < g->nodes.len; i++) {
    const IrNode *n = g->nodes.items[i];
    if (n->op != OP_INPUT && n->op != OP_PARAM && n->op != OP_STATE) continue;
    int64_t count = shape_numel(n->shape);
    vals[i] = NEW_ARRAY(scratch, double, count);
    for (int64_t k = 0; k < count; k++) vals[i][k] = 0.25 + 0.125 * (double)(k % 7);
  }
  ir_eval(g, vals, scratch);
  arena_free(scratch);
}

static void plan(const IrGraph *g, const Target *host) {
  pipeline_plan_free(pipeline_plan(g, host));
}

static void compile_model_stages(const Model *m, Arena *a, const Target *host) {
  int batch = lower_has_batch(m) ? FUZZ_BATCH : 0;
  IrGraph *train = pipeline_graph(m, a, PIPE_TRAIN, batch, false);
  plan(train, host);
  plan(pipeline_graph(m, a, PIPE_FORWARD, batch, false), host);
  if (graph_floats(train, EVAL_MAX_FLOATS) <= EVAL_MAX_FLOATS) evaluate(train);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static Target host;
  static FILE *sink;
  if (!sink) {
    char err[256];
    sink = fopen("/dev/null", "w");
    if (!sink || !target_host(&host, err, sizeof err)) fuzz_fail("no host target");
  }
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = '\0';
  Source src = {"fuzz.nn", text, size};
  Diag d;
  diag_init(&d, sink, &src);
  Arena *a = arena_new();
  AstProgram *p = parse_program(&src, a, &d);
  Model *m = p && !diag_errors(&d) ? sema_check(p, a, &d) : NULL;
  if (m && !diag_errors(&d) && sema_check_sizes(m, lower_has_batch(m) ? FUZZ_BATCH : 0, &d))
    compile_model_stages(m, a, &host);
  arena_free(a);
  free(text);
  return 0;
}
