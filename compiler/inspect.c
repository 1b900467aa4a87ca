/* inspect: the commands that show what the compiler did — `nnc ir`,
 * `nnc grad`, `nnc summary`, `nnc llvm`. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
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

int cmd_grad(const Cli *c) {
  Front f;
  int status = 1;
  int batch;
  if (!front_load(&f, c->pos[0], c) || !command_batch(c, f.model, &batch)) goto done;
  if (cli_get(c, "at")) {
    status = cmd_grad_at(c, &f);
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
