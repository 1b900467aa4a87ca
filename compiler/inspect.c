/* inspect: the commands that show what the compiler did — `nnc ir`,
 * `nnc grad`, `nnc summary`, `nnc llvm`. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gradcheck.h"
#include "jit.h"
#include "lower.h"

/* The batch size a command compiles for: --batch, else the model's, and 0 for
 * models without inputs (no batch axis at all). */
static bool command_batch(const Cli *c, const Model *m, int *out) {
  long long b = m->train.batch;
  if (!cli_int(c, "batch", 1, 1 << 20, &b)) return false;
  *out = m->ninputs + m->ntargets > 0 ? (int)b : 0;
  return true;
}

static const char *stages[] = {"lower", "grad", "train", "simplified", "fused"};

/* The graph of a named stage; NULL (error printed) for an unknown stage. */
static IrGraph *stage_graph(const Cli *c, const Model *m, Arena *a, int batch, const char *stage) {
  if (strcmp(stage, "lower") == 0) return lower_forward(m, a, batch, false);
  if (strcmp(stage, "grad") == 0) return lower_grad(m, a, batch);
  if (strcmp(stage, "train") == 0) return lower_train_step(m, a, batch);
  if (strcmp(stage, "simplified") == 0 || strcmp(stage, "fused") == 0)
    return ir_simplify(lower_train_step(m, a, batch));
  if (strcmp(stage, "eval") == 0) return ir_simplify(lower_forward(m, a, batch, false));
  const char *near = closest_name(stage, stages, (int)COUNT_OF(stages));
  fprintf(stderr, "nnc %s: unknown stage '%s'", c->command, stage);
  if (near) fprintf(stderr, "; did you mean '%s'?", near);
  fprintf(stderr, " (stages: lower, grad, train, simplified, fused)\n");
  return NULL;
}

int cmd_ir(const Cli *c) {
  Front f;
  int status = 1;
  int batch;
  if (!front_load(&f, c->pos[0], c) || !command_batch(c, f.model, &batch)) goto done;
  const char *stage = cli_get(c, "stage") ? cli_get(c, "stage") : "simplified";
  IrGraph *g = stage_graph(c, f.model, f.arena, batch, stage);
  if (!g) goto done;
  if (strcmp(stage, "fused") == 0) {
    if (cli_flag(c, "dot")) {
      fprintf(stderr, "nnc ir: --dot draws IR graphs; the fused stage is a list of kernels (drop --dot)\n");
      goto done;
    }
    char err[512];
    JitGraph *j = jit_compile(g, &(JitOptions){.opt_level = 0}, err, sizeof err);
    if (!j) {
      fprintf(stderr, "nnc: %s\n", err);
      goto done;
    }
    jit_print_kernels(stdout, j);
    jit_free(j);
  } else if (cli_flag(c, "dot")) {
    ir_print_dot(stdout, g);
  } else {
    ir_print(stdout, g);
  }
  status = 0;
done:
  front_free(&f);
  return status;
}

/* Parses "a=3,b=-1.5" into names and values (pointers into a copy in arena). */
static int parse_at(const char *spec, Arena *a, const char ***names, double **values) {
  char *s = arena_strdup(a, spec);
  int cap = 1;
  for (const char *p = s; *p; p++) cap += *p == ',';
  *names = NEW_ARRAY(a, const char *, cap);
  *values = NEW_ARRAY(a, double, cap);
  int n = 0;
  for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
    char *eq = strchr(tok, '=');
    char *end;
    if (!eq || eq == tok) return -1;
    *eq = 0;
    double v = strtod(eq + 1, &end);
    if (end == eq + 1 || *end || !isfinite(v)) return -1;
    (*names)[n] = tok;
    (*values)[n++] = v;
  }
  return n;
}

static void print_tensor(FILE *out, const char *what, Shape s, const double *v) {
  int64_t numel = shape_numel(s);
  char sh[96];
  if (numel == 1) {
    fprintf(out, "%s = %.9g\n", what, v[0]);
    return;
  }
  fprintf(out, "%s %s =", what, shape_str(s, sh));
  if (numel <= 16) {
    for (int64_t i = 0; i < numel; i++) fprintf(out, " %.9g", v[i]);
    fputc('\n', out);
    return;
  }
  double lo = v[0], hi = v[0], ss = 0;
  for (int64_t i = 0; i < numel; i++) {
    lo = fmin(lo, v[i]);
    hi = fmax(hi, v[i]);
    ss += v[i] * v[i];
  }
  fprintf(out, " norm %.6g, min %.6g, max %.6g (%lld elements)\n", sqrt(ss), lo, hi, (long long)numel);
}

/* `nnc grad FILE --at a=1,b=2`: loss and every parameter's gradient. */
static int grad_at(const Cli *c, Front *f) {
  const Model *m = f->model;
  int batch = m->ninputs + m->ntargets > 0 ? 1 : 0;
  IrGraph *g = lower_grad(m, f->arena, batch);
  const char **names;
  double *values;
  int n = parse_at(cli_get(c, "at"), f->arena, &names, &values);
  if (n < 0) {
    fprintf(stderr, "nnc grad: --at expects name=value,... (numbers), got '%s'\n", cli_get(c, "at"));
    return 1;
  }
  double **leaves = gradcheck_leaf_values(g, m, m->train.seed, f->arena);
  for (int i = 0; i < n; i++) {
    IrNode *leaf = ir_find_leaf(g, OP_PARAM, names[i]);
    if (!leaf) leaf = ir_find_leaf(g, OP_INPUT, names[i]);
    if (!leaf) {
      const char *cands[256];
      int nc = 0;
      for (int k = 0; k < g->nodes.len && nc < 256; k++) {
        IrNode *x = g->nodes.items[k];
        if (x->op == OP_PARAM || x->op == OP_INPUT) cands[nc++] = x->name;
      }
      const char *near = closest_name(names[i], cands, nc);
      fprintf(stderr, "nnc grad: --at names '%s', which is not a parameter or input of %s", names[i], m->name);
      if (near) fprintf(stderr, "; did you mean '%s'?", near);
      fputc('\n', stderr);
      return 1;
    }
    for (int64_t k = 0; k < shape_numel(leaf->shape); k++) leaves[leaf->id][k] = values[i];
  }
  Arena *scratch = arena_new();
  double **vals = NEW_ARRAY(scratch, double *, g->nodes.len);
  for (int i = 0; i < g->nodes.len; i++) vals[i] = leaves[i];
  ir_eval(g, vals, scratch);
  IrNode *loss = ir_find_output(g, "loss");
  print_tensor(stdout, "loss", loss->shape, vals[loss->id]);
  for (int i = 0; i < g->outputs.len; i++) {
    IrOutput *o = g->outputs.items[i];
    if (strncmp(o->name, "grad ", 5) == 0) print_tensor(stdout, o->name, o->node->shape, vals[o->node->id]);
  }
  arena_free(scratch);
  return 0;
}

int cmd_grad(const Cli *c) {
  Front f;
  int status = 1;
  int batch;
  if (!front_load(&f, c->pos[0], c) || !command_batch(c, f.model, &batch)) goto done;
  if (cli_get(c, "at")) {
    status = grad_at(c, &f);
    goto done;
  }
  IrGraph *g = lower_grad(f.model, f.arena, batch);
  if (!cli_flag(c, "raw")) g = ir_simplify(g);
  if (cli_flag(c, "dot")) ir_print_dot(stdout, g);
  else ir_print(stdout, g);
  status = 0;
done:
  front_free(&f);
  return status;
}

int cmd_summary(const Cli *c) {
  Front f;
  int status = 1;
  if (front_load(&f, c->pos[0], c)) {
    model_print_summary(stdout, f.model);
    status = 0;
  }
  front_free(&f);
  return status;
}

int cmd_llvm(const Cli *c) {
  Front f;
  int status = 1;
  int batch;
  if (!front_load(&f, c->pos[0], c) || !command_batch(c, f.model, &batch)) goto done;
  const char *stage = cli_get(c, "stage") ? cli_get(c, "stage") : "train";
  if (strcmp(stage, "train") == 0) stage = "simplified";
  IrGraph *g = stage_graph(c, f.model, f.arena, batch, stage);
  if (!g) goto done;
  char err[512];
  JitOptions o = {.opt_level = 3};
  if (cli_flag(c, "optimized")) o.dump_after = stdout;
  else o.dump_before = stdout;
  JitGraph *j = jit_compile(g, &o, err, sizeof err);
  if (!j) {
    fprintf(stderr, "nnc: %s\n", err);
    goto done;
  }
  jit_free(j);
  status = 0;
done:
  front_free(&f);
  return status;
}
