/* inspect: the commands that show what the compiler did — `nnc ir`,
 * `nnc grad`, `nnc summary`, `nnc llvm`. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codegen.h"
#include "pipeline.h"
#include "pool.h"

/* The batch size a command compiles for: --batch, else the model's, and 0 for
 * models without inputs (no batch axis at all). */
static bool command_batch(const Cli *c, Front *f, int *out) {
  const Model *m = f->model;
  long long b = m->train.batch;
  if (!cli_int(c, "batch", 1, 1 << 20, &b)) return false;
  *out = m->ninputs + m->ntargets > 0 ? (int)b : 0;
  return front_check_batch(f, *out);
}

static const char *stages[] = {"lower", "grad", "train", "simplified", "fused", "schedule"};

/* The graph of a named stage; NULL (error printed) for an unknown stage. */
static IrGraph *stage_graph(const Cli *c, const Model *m, Arena *a, int batch, const char *stage) {
  if (strcmp(stage, "lower") == 0) return pipeline_graph(m, a, PIPE_FORWARD, batch, true);
  if (strcmp(stage, "grad") == 0) return pipeline_graph(m, a, PIPE_GRAD, batch, true);
  if (strcmp(stage, "train") == 0) return pipeline_graph(m, a, PIPE_TRAIN, batch, true);
  if (strcmp(stage, "simplified") == 0 || strcmp(stage, "fused") == 0 || strcmp(stage, "schedule") == 0)
    return pipeline_graph(m, a, PIPE_TRAIN, batch, false);
  if (strcmp(stage, "eval") == 0) return pipeline_graph(m, a, PIPE_FORWARD, batch, false);
  const char *near = closest_name(stage, stages, (int)COUNT_OF(stages));
  fprintf(stderr, "nnc %s: unknown stage '%s'", c->command, stage);
  if (near) fprintf(stderr, "; did you mean '%s'?", near);
  fprintf(stderr, " (stages: lower, grad, train, simplified, fused, schedule)\n");
  return NULL;
}

/* The target of --target/--cpu/--features (the host's without them). */
static bool command_target(const Cli *c, Target *t) {
  char err[1024];
  if (target_resolve(t, cli_get(c, "target"), cli_get(c, "cpu"), cli_get(c, "features"), err, sizeof err)) return true;
  fprintf(stderr, "nnc %s: %s\n", c->command, err);
  return false;
}

/* --threads N, else the CPUs this process may use. */
static bool command_threads(const Cli *c, int *out) {
  long long n = pool_default_threads();
  if (!cli_int(c, "threads", 1, 1024, &n)) return false;
  *out = (int)n;
  return true;
}

/* `--stage=fused` and `--stage=schedule`: the back half's decisions, no LLVM. */
static bool print_plan(const Cli *c, const IrGraph *g, bool schedule) {
  Target t;
  int threads;
  if (!command_threads(c, &threads) || !command_target(c, &t)) return false;
  Planned *p = pipeline_plan(g, &t);
  if (schedule)
    schedule_print(stdout, p->sched, threads);
  else
    fuse_print(stdout, p->fp);
  pipeline_plan_free(p);
  target_free(&t);
  return true;
}

int cmd_ir(const Cli *c) {
  Front f;
  int status = 1;
  int batch;
  if (!front_load(&f, c->pos[0], c) || !command_batch(c, &f, &batch)) goto done;
  const char *stage = cli_get(c, "stage") ? cli_get(c, "stage") : "simplified";
  IrGraph *g = stage_graph(c, f.model, f.arena, batch, stage);
  if (!g) goto done;
  bool fused = strcmp(stage, "fused") == 0, schedule = strcmp(stage, "schedule") == 0;
  if ((fused || schedule) && cli_flag(c, "dot")) {
    fprintf(stderr, "nnc ir: --dot draws IR graphs; the %s stage is a list of kernels (drop --dot)\n", stage);
    goto done;
  }
  if (fused || schedule) {
    if (!print_plan(c, g, schedule)) goto done;
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

/* `nnc target`: what code would be generated for. */
int cmd_target(const Cli *c) {
  Target t;
  if (!command_target(c, &t)) return 1;
  target_print(stdout, &t);
  target_free(&t);
  return 0;
}

int cmd_grad(const Cli *c) {
  Front f;
  int status = 1;
  int batch;
  if (!front_load(&f, c->pos[0], c) || !command_batch(c, &f, &batch)) goto done;
  if (cli_get(c, "at")) {
    status = cmd_grad_at(c, &f);
    goto done;
  }
  static const char *const at_only[] = {"input-grads", "all", "seed"};
  for (size_t i = 0; i < COUNT_OF(at_only); i++)
    if (cli_get(c, at_only[i])) {
      fprintf(stderr, "nnc grad: --%s works with --at, which evaluates the gradients at one point "
              "(--at NAME=VALUE,...); without it nnc grad prints the graph\n", at_only[i]);
      goto done;
    }
  IrGraph *g = pipeline_graph(f.model, f.arena, PIPE_GRAD, batch, cli_flag(c, "raw"));
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
  Target t = {0};
  if (!front_load(&f, c->pos[0], c) || !command_batch(c, &f, &batch)) goto done;
  const char *stage = cli_get(c, "stage") ? cli_get(c, "stage") : "train";
  if (strcmp(stage, "train") == 0) stage = "simplified";
  IrGraph *g = stage_graph(c, f.model, f.arena, batch, stage);
  if (!g || !command_target(c, &t)) goto done;
  char err[1024];
  LLVMTargetMachineRef tm = target_machine(&t, true, err, sizeof err);
  if (!tm) {
    fprintf(stderr, "nnc llvm: %s\n", err);
    goto done;
  }
  Planned *p = pipeline_plan(g, &t);
  LLVMContextRef ctx = LLVMContextCreate();
  LLVMModuleRef mod = codegen_module(ctx, p->sched, "nnc_entry", false);
  bool optimized = cli_flag(c, "optimized");
  if (codegen_optimize(mod, tm, optimized ? 3 : 0, optimized ? NULL : stdout, optimized ? stdout : NULL, err,
                       sizeof err))
    status = 0;
  else
    fprintf(stderr, "nnc llvm: %s\n", err);
  LLVMDisposeModule(mod);
  LLVMContextDispose(ctx);
  LLVMDisposeTargetMachine(tm);
  pipeline_plan_free(p);
done:
  target_free(&t);
  front_free(&f);
  return status;
}
