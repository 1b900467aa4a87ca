/* main: the nnc driver.  Parses the command line against the command table
 * below, then hands over to the command (inspect.c, gradcheck.c,
 * runtime/train.c).  Only this file decides the process's exit status, and
 * a command whose standard output could not be written fails. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "outfile.h"
#include "version.h"


typedef struct {
  const char *name;               /* command word */
  int (*run)(const Cli *c);       /* implementation */
  const char *args;               /* positional arguments, for usage */
  const char *summary;            /* one line for `nnc --help` */
  CliOption opts[32];             /* accepted options (name NULL ends) */
} Command;

#define TARGET_OPTIONS                                                                      \
  {"target", "TRIPLE", "target triple (default: this machine's)"},                          \
  {"cpu", "CPU", "CPU to generate code for (default: this machine's; e.g. x86-64-v3)"},      \
  {"features", "FEATURES", "LLVM feature string, e.g. +avx2,+fma (default: what the CPU implies)"}

#define THREADS_OPTION {"threads", "N", "threads to run on (default: the CPUs this process may use)"}
#define NO_CACHE_OPTION {"no-cache", NULL, "compile and inflate data afresh, without the cache (~/.cache/nnc)"}

#define OVERRIDES                                                          \
  {"epochs", "N", "override the number of epochs"},                       \
  {"batch", "N", "override the batch size"},                              \
  {"lr", "RATE", "override the learning rate"},                              \
  {"seed", "N", "override the random seed"}

static const Command commands[] = {
  {"train", cmd_train, "FILE", "train the model on its data (JIT-compiled for this CPU)",
   {OVERRIDES,
    {"quiet", NULL, "print only the final results"},
    {"log", "FILE", "write one JSON object per epoch and event to FILE (started afresh)"},
    {"log-append", NULL, "add to the --log FILE instead of starting it afresh"},
    {"plot", "FILE", "draw the loss and accuracy curves into FILE (.png, .svg or .pdf) at the end"},
    {"save", "FILE", "write a checkpoint to FILE at the end (and every --save-every epochs)"},
    {"save-every", "N", "also checkpoint every N epochs"},
    {"resume", "FILE", "continue exactly where checkpoint FILE stopped"},
    {"init", "FILE", "start from the weights in checkpoint FILE, fresh optimizer state"},
    {"limit", "N", "use only the first N training samples"},
    THREADS_OPTION,
    NO_CACHE_OPTION,
    {"timings", NULL, "print the time each compiler stage took (standard error)"},
    {"profile", NULL, "time every kernel of the train step; print the slowest first (standard error)"},
    {"split-step", NULL, "run each train step as two graphs split at the gradients (same results)"},
    {"mpi", NULL, "train as one rank of an MPI job (implied when started by mpirun; docs/distributed.md)"},
    {NULL, NULL, NULL}}},
  {"eval", cmd_eval, "FILE", "print test metrics of saved weights (and a classifier's confusion matrix)",
   {{"weights", "CKPT", "checkpoint to evaluate (required)"}, {"batch", "N", "evaluation batch size"},
    {"data", "FILE", "evaluate this labelled file (CSV, IDX prefix or images file) instead of the test data"},
    {"limit", "N", "evaluate only the first N samples"},
    THREADS_OPTION, NO_CACHE_OPTION, {NULL, NULL, NULL}}},
  {"predict", cmd_predict, "FILE", "write the model's predictions for a data file",
   {{"weights", "CKPT", "checkpoint to use (required)"},
    {"input", "DATA", "data file: IDX prefix/images file or CSV (required)"},
    {"output", "FILE", "where to write predictions (default: standard output)"},
    {"probs", NULL, "also print each class's probability (softmax, or sigmoid for binary targets)"},
    {"raw", NULL, "print the output values as computed (logits), not classes"},
    {"limit", "N", "predict only the first N samples"},
    {"show", "N", "draw the first N image samples with their predictions into -o NAME.png (.svg, .pdf)"},
    THREADS_OPTION,
    NO_CACHE_OPTION,
    {NULL, NULL, NULL}}},
  {"ir", cmd_ir, "FILE", "print the IR at a stage",
   {{"stage", "STAGE", "lower | grad | train | simplified | fused | schedule (default simplified)"},
    {"dot", NULL, "print Graphviz dot instead of text"},
    {"batch", "N", "batch size to compile for"},
    THREADS_OPTION,
    TARGET_OPTIONS,
    {NULL, NULL, NULL}}},
  {"grad", cmd_grad, "FILE", "print the gradient graph, or evaluate it with --at",
   {{"dot", NULL, "print Graphviz dot instead of text"},
    {"at", "NAME=VALUE,...", "evaluate loss and gradients at one sample: a=3,x=[1,2],y=2 (a class number)"},
    {"input-grads", NULL, "with --at: also the gradient with respect to every input"},
    {"all", NULL, "with --at: print every element, not a summary of tensors past 16 elements"},
    {"seed", "N", "with --at: seed of the values not given (default: the train block's seed)"},
    {"raw", NULL, "print the gradient graph before simplification"},
    {NULL, NULL, NULL}}},
  {"plot", cmd_plot, "LOG", "draw the curves of a training log (nnc train --log) as PNG, SVG or PDF",
   {{"output", "FILE", "picture to write: NAME.png, NAME.svg or NAME.pdf (required; -o FILE)"},
    {"title", "TEXT", "title above the curves (default: the log's name)"},
    {NULL, NULL, NULL}}},
  {"summary", cmd_summary, "FILE", "list every layer with its shape and parameter count",
   {{NULL, NULL, NULL}}},
  {"check", cmd_check, "FILE", "finite-difference gradient check of the whole model",
   {{"batch", "N", "batch size of the random batch (default 4)"},
    {"seed", "N", "seed for parameters and the batch"},
    {"tol", "X", "largest accepted relative error (default 1e-5)"},
    {"limit", "N", "check only the first N parameters (in the order the model creates them)"},
    {NULL, NULL, NULL}}},
  {"llvm", cmd_llvm, "FILE", "print the generated LLVM IR",
   {{"stage", "STAGE", "graph to compile: train (default) | eval"},
    {"optimized", NULL, "print the IR after the O3 pipeline"},
    {"batch", "N", "batch size to compile for"},
    TARGET_OPTIONS,
    {NULL, NULL, NULL}}},
  {"compile", cmd_compile, "FILE", "write a standalone object file and C header (inference and training)",
   {{"output", "FILE", "object file to write (-o FILE; default NAME.o, .s, .ll)"},
    {"header", "FILE", "C header to write (default: the output with .h)"},
    {"weights", "CKPT", "checkpoint whose weights are embedded in read-only data"},
    {"weights-file", "FILE", "write the --weights to this image file instead of embedding them"},
    {"batch", "N", "batch size to compile for (default: the model's)"},
    TARGET_OPTIONS,
    {"emit-llvm", NULL, "write optimized LLVM IR text instead of an object"},
    {"emit-asm", NULL, "write assembly text instead of an object"},
    {NULL, NULL, NULL}}},
  {"target", cmd_target, "", "print what code is generated for: vector width, registers, tile",
   {TARGET_OPTIONS, {NULL, NULL, NULL}}},
};

static const Command *find_command(const char *name) {
  for (size_t i = 0; i < COUNT_OF(commands); i++)
    if (strcmp(commands[i].name, name) == 0) return &commands[i];
  return NULL;
}

static void print_usage(FILE *out) {
  fprintf(out,
          "usage: nnc COMMAND FILE.nn [options]\n"
          "\n"
          "nnc compiles a neural network described in a .nn file: it derives the\n"
          "gradient graph symbolically and JIT-compiles fused kernels for this CPU.\n"
          "\ncommands:\n");
  for (size_t i = 0; i < COUNT_OF(commands); i++)
    fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\n`nnc COMMAND --help` lists a command's options; `nnc --version` prints the version.\n");
}

static void print_command_help(const Command *cmd) {
  printf("usage: nnc %s%s%s [options]\n\n%s\n\noptions:\n", cmd->name, cmd->args[0] ? " " : "", cmd->args,
         cmd->summary);
  for (const CliOption *o = cmd->opts; o->name; o++) {
    char head[64];
    snprintf(head, sizeof head, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
    printf("  %-24s %s\n", head, o->help);
  }
  printf("  %-24s %s\n", "--help", "show this help");
}

static const CliOption *find_option(const Command *cmd, const char *name) {
  for (const CliOption *o = cmd->opts; o->name; o++)
    if (strcmp(o->name, name) == 0) return o;
  return NULL;
}

/* Fills c from argv; prints an error and returns false on a bad option. */
static bool parse_args(const Command *cmd, int argc, char **argv, Cli *c) {
  *c = (Cli){.command = cmd->name};
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "-o") == 0 && find_option(cmd, "output")) arg = "--output";   /* the usual spelling */
    if (strncmp(arg, "--", 2) != 0 || arg[2] == 0) {
      if (c->npos == CLI_MAX_POS) {
        fprintf(stderr, "nnc %s: too many arguments\n", cmd->name);
        return false;
      }
      c->pos[c->npos++] = arg;
      continue;
    }
    char name[64];
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
    if (len >= sizeof name) len = sizeof name - 1;
    memcpy(name, arg + 2, len);
    name[len] = 0;
    const CliOption *o = find_option(cmd, name);
    if (!o) {
      const char *cands[32];
      int n = 0;
      for (const CliOption *p = cmd->opts; p->name && n < 32; p++) cands[n++] = p->name;
      const char *near = closest_name(name, cands, n);
      fprintf(stderr, "nnc %s: unknown option '--%s'", cmd->name, name);
      if (near) fprintf(stderr, "; did you mean '--%s'?", near);
      fprintf(stderr, " (see nnc %s --help)\n", cmd->name);
      return false;
    }
    const char *value = "";
    if (o->arg) {
      if (eq) value = eq + 1;
      else if (i + 1 < argc) value = argv[++i];
      else {
        fprintf(stderr, "nnc %s: option '--%s' needs a value\n", cmd->name, name);
        return false;
      }
    } else if (eq) {
      fprintf(stderr, "nnc %s: option '--%s' takes no value\n", cmd->name, name);
      return false;
    }
    if (c->nopts == CLI_MAX_OPTS) {
      fprintf(stderr, "nnc %s: too many options\n", cmd->name);
      return false;
    }
    c->opt_name[c->nopts] = o->name;
    c->opt_value[c->nopts++] = value;
  }
  int want = cmd->args[0] ? 1 : 0;
  if (c->npos != want) {
    if (want)
      fprintf(stderr, "nnc %s: expected one %s argument, got %d (see nnc %s --help)\n", cmd->name, cmd->args,
              c->npos, cmd->name);
    else
      fprintf(stderr, "nnc %s: takes no arguments, got '%s' (see nnc %s --help)\n", cmd->name, c->pos[0], cmd->name);
    return false;
  }
  return true;
}

/* The command's status, or 1 when its output did not all reach standard
 * output (a full disk, a closed pipe): results nobody received are not a
 * success. */
static int finish(int status) {
  char err[512];
  if (outfile_close_stream(stdout, "standard output", err, sizeof err)) return status;
  fprintf(stderr, "nnc: %s\n", err);
  return status ? status : 1;
}

static int run(int argc, char **argv) {
  if (argc < 2) {
    print_usage(stderr);
    return 2;
  }
  const char *word = argv[1];
  if (strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 || strcmp(word, "help") == 0) {
    print_usage(stdout);
    return 0;
  }
  if (strcmp(word, "--version") == 0) {
    printf("nnc %s\n", NNC_VERSION);
    return 0;
  }
  const Command *cmd = find_command(word);
  if (!cmd) {
    const char *cands[COUNT_OF(commands)];
    for (size_t i = 0; i < COUNT_OF(commands); i++) cands[i] = commands[i].name;
    const char *near = closest_name(word, cands, (int)COUNT_OF(commands));
    fprintf(stderr, "nnc: unknown command '%s'", word);
    if (near) fprintf(stderr, "; did you mean '%s'?", near);
    fprintf(stderr, " (see nnc --help)\n");
    return 2;
  }
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      print_command_help(cmd);
      return 0;
    }
  Cli c;
  if (!parse_args(cmd, argc - 2, argv + 2, &c)) return 2;
  return cmd->run(&c);
}

int main(int argc, char **argv) { return finish(run(argc, argv)); }
