/* cli: the command line of nnc, shared by the driver (main.c) and the command
 * implementations (inspect.c, gradcheck.c, runtime/train.c).
 *
 * Options are `--name=value`, `--name value` or a bare `--flag`; everything
 * else is positional.  Each command declares the options it accepts, so a
 * misspelled option is an error with a suggestion, never silently ignored.
 */
#ifndef NNC_CLI_H
#define NNC_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "diag.h"
#include "sema.h"

enum { CLI_MAX_OPTS = 32, CLI_MAX_POS = 8 };

typedef struct {
  const char *name;       /* without the leading "--" */
  const char *arg;        /* what the value is called in help ("FILE", "N"); NULL for a flag */
  const char *help;       /* one line for `nnc COMMAND --help` */
} CliOption;

typedef struct {
  const char *command;                 /* "train", "ir", ... */
  const char *opt_name[CLI_MAX_OPTS];  /* options given, in order */
  const char *opt_value[CLI_MAX_OPTS]; /* their values ("" for flags) */
  int nopts;                           /* number given */
  const char *pos[CLI_MAX_POS];        /* positional arguments */
  int npos;                            /* number given */
} Cli;

/* The value of option `name`, or NULL if absent (the last one wins). */
const char *cli_get(const Cli *c, const char *name);
bool cli_flag(const Cli *c, const char *name);
/* Parses an integer/number option; on a malformed value prints an error and
 * returns false.  Absent options leave *out untouched and return true. */
bool cli_int(const Cli *c, const char *name, long long min, long long max, long long *out);
bool cli_double(const Cli *c, const char *name, double *out);

/* A .nn file read, parsed and checked.  All memory in `arena`. */
typedef struct {
  Arena *arena;       /* owns everything below */
  Source src;         /* the file's text (heap, freed by front_free) */
  Diag diag;          /* diagnostics to stderr, quoting src */
  Model *model;       /* NULL if the file had errors */
} Front;

/* Reads, parses and checks path; returns false (errors printed) on failure.
 * Applies --epochs/--batch/--lr/--seed overrides when the command has them. */
bool front_load(Front *f, const char *path, const Cli *c);
void front_free(Front *f);
/* sema_check_sizes for the batch size the command compiles for; false
 * (errors printed) when the model would not fit. */
bool front_check_batch(Front *f, int batch);

/* Commands (each returns the process exit status). */
int cmd_ir(const Cli *c);
int cmd_grad(const Cli *c);
int cmd_grad_at(const Cli *c, Front *f);   /* grad_at.c: nnc grad --at */
int cmd_summary(const Cli *c);
int cmd_check(const Cli *c);
int cmd_llvm(const Cli *c);
int cmd_train(const Cli *c);
int cmd_eval(const Cli *c);
int cmd_predict(const Cli *c);
int cmd_compile(const Cli *c);   /* compile.c */
int cmd_plot(const Cli *c);      /* runtime/plot.c */
int cmd_target(const Cli *c);

#endif
