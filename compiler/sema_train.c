/* sema_train: the optimizer statement, the train block and data sources.
 *
 * In:  ST_OPTIMIZER and ST_TRAIN statements.
 * Out: the Model's OptimConfig and TrainConfig (config.h), every value range
 *      checked.  Optimizer and data-source arguments go through the builtin
 *      table like any call; train settings are a small table of their own.
 *      `lr` in the train block overrides the optimizer's learning rate
 *      whichever statement comes first.  Relative data paths are taken
 *      relative to the .nn file's directory, so a model runs from anywhere.
 */
#include <math.h>
#include <string.h>

#include "sema_internal.h"

/* The optimizer statement: optimizer adam(lr = 0.001, clip_norm = 5) */
void sema_optimizer(SemaCtx *S, const Stmt *st) {
  Model *m = S->m;
  if (S->optim_loc.line) {
    sema_error(S, st->loc, "second optimizer statement");
    diag_note(S->d, S->optim_loc, "the first optimizer is here");
    return;
  }
  S->optim_loc = st->loc;
  const AstNode *n = st->value;
  bool named = n && (n->kind == AST_CALL || n->kind == AST_NAME);
  const Builtin *b = named ? builtin_find(n->str) : NULL;
  if (!b || b->kind != BK_OPTIMIZER) {
    const char *near = named && !b ? builtin_closest(n->str, BK_OPTIMIZER) : NULL;
    if (near) sema_error(S, n->loc, "unknown optimizer '%s'; did you mean '%s'?", n->str, near);
    else sema_error(S, n ? n->loc : st->loc, "expected an optimizer: sgd, momentum, adagrad, rmsprop, adam or adamw");
    return;
  }
  Expr *e = sema_call(S, n, b);
  if (!e) return;
  OptimConfig *o = &m->optim;
  o->kind = (OptimKind)b->tag;
  o->loc = st->loc;
  struct {
    const char *name;   /* builtin parameter */
    double *field;      /* where its value goes */
  } fields[] = {{"lr", &o->lr},       {"gamma", &o->gamma}, {"beta", &o->beta},
                {"beta1", &o->beta1}, {"beta2", &o->beta2}, {"eps", &o->eps},
                {"clip_value", &o->clip_value}, {"clip_norm", &o->clip_norm}, {"weight_decay", &o->weight_decay}};
  for (size_t i = 0; i < COUNT_OF(fields); i++)
    if (builtin_param_index(b, fields[i].name) >= 0) *fields[i].field = builtin_arg(e, fields[i].name)->num;
  if (builtin_param_index(b, "nesterov") >= 0) o->nesterov = builtin_arg(e, "nesterov")->num != 0;
  if (S->lr_override > 0) o->lr = S->lr_override;
}

/* A path as written, or joined to the .nn file's directory when relative. */
static const char *data_path(SemaCtx *S, const char *path) {
  const char *file = S->p->file, *slash = file ? strrchr(file, '/') : NULL;
  if (!path || !path[0] || path[0] == '/' || !slash) return path;
  return arena_printf(S->a, "%.*s/%s", (int)(slash - file), file, path);
}

/* The input or target named name, or NULL. */
static const Symbol *fed_symbol(const SemaCtx *S, const char *name) {
  for (int i = 0; i < S->nsyms; i++)
    if ((S->syms[i].kind == SYM_INPUT || S->syms[i].kind == SYM_TARGET) && strcmp(S->syms[i].name, name) == 0)
      return &S->syms[i];
  return NULL;
}

/* Columns a value takes in a CSV row (a class label is one), or -1 while
 * its declaration is unchecked or wrong. */
static int64_t fed_columns(const SemaCtx *S, const Symbol *sym) {
  if (!sym->defined || sym->poisoned) return -1;
  const ModelValue *v = (sym->kind == SYM_INPUT ? S->inputs : S->targets).items[sym->index];
  return v->nclasses > 0 ? 1 : shape_numel(v->shape);
}

static bool fed_class(const SemaCtx *S, const Symbol *sym) {
  return sym->kind == SYM_TARGET && sym->defined && !sym->poisoned &&
         ((const ModelValue *)S->targets.items[sym->index])->nclasses > 0;
}

/* columns(0, 783) or columns("p0", "p783"); false after reporting. */
static bool csv_range(SemaCtx *S, const AstNode *v, DataBind *b) {
  bool names = v->nargs == 2 && !v->args[0].name && !v->args[1].name && v->args[0].value->kind == AST_STR &&
               v->args[1].value->kind == AST_STR;
  double i = 0, j = 0;
  bool nums = v->nargs == 2 && !v->args[0].name && !v->args[1].name && sema_const_eval(v->args[0].value, &i) &&
              sema_const_eval(v->args[1].value, &j);
  if (names) {
    b->from = v->args[0].value->str;
    b->to = v->args[1].value->str;
    return true;
  }
  if (nums && i == floor(i) && j == floor(j) && i >= 0 && j >= i && j < 1e7) {
    b->first = (int)i;
    b->last = (int)j;
    return true;
  }
  sema_error(S, v->loc, "columns takes the first and the last column, both names (columns(\"p0\", \"p783\")) or "
                        "indices from 0 with first <= last (columns(0, 783))");
  return false;
}

/* The columns of one CSV binding: "name", 5, ["a", "b"], columns(...). */
static bool csv_bind(SemaCtx *S, const AstNode *v, DataBind *b) {
  double i;
  b->first = b->last = -1;
  if (v->kind == AST_STR) {
    b->cols = NEW_ARRAY(S->a, const char *, 1);
    b->cols[b->ncols++] = v->str;
    return true;
  }
  if (v->kind == AST_CALL && strcmp(v->str, "columns") == 0) return csv_range(S, v, b);
  if (v->kind == AST_LIST && v->nitems > 0) {
    b->cols = NEW_ARRAY(S->a, const char *, v->nitems);
    for (int k = 0; k < v->nitems; k++) {
      if (v->items[k]->kind != AST_STR) {
        sema_error(S, v->items[k]->loc, "a list of columns holds their names in quotes");
        return false;
      }
      b->cols[b->ncols++] = v->items[k]->str;
    }
    return true;
  }
  if (sema_const_eval(v, &i) && i == floor(i) && i >= 0 && i < 1e7) {
    b->first = b->last = (int)i;
    return true;
  }
  sema_error(S, v->loc, "%s: csv columns are a name (\"y\"), an index from 0, a list of names ([\"a\", \"b\"]) or a "
                        "range (columns(\"p0\", \"p783\"), columns(0, 783))", b->name);
  return false;
}

/* CSV columns the binding names (-1: a range of names, counted when the header is read). */
static int64_t bind_count(const DataBind *b) {
  if (b->cols) return b->ncols;
  return b->from ? -1 : (int64_t)b->last - b->first + 1;
}

/* A source argument named after an input or target: `image = "f.gz"`
 * (IDX), `image = columns("p0", "p783")` (CSV), or the name of another
 * value the source feeds (`y = x`: the same file or columns).  False after
 * reporting. */
static bool data_bind(SemaCtx *S, const Builtin *b, const AstArg *arg, DataSpec *ds) {
  const Symbol *sym = fed_symbol(S, arg->name);
  if (!sym) {
    const char *names[BUILTIN_MAX_PARAMS + 64];
    int n = 0;
    for (int k = 0; k < BUILTIN_MAX_PARAMS && b->params[k].name; k++) names[n++] = b->params[k].name;
    for (int k = 0; k < S->nsyms && n < (int)COUNT_OF(names); k++)
      if (S->syms[k].kind == SYM_INPUT || S->syms[k].kind == SYM_TARGET) names[n++] = S->syms[k].name;
    const char *near = closest_name(arg->name, names, n);
    if (near) sema_error(S, arg->loc, "%s: '%s' is no parameter of %s and no input or target of the model; did you mean '%s'?",
                         b->name, arg->name, b->name, near);
    else sema_error(S, arg->loc, "%s: '%s' is no parameter of %s and no input or target of the model", b->name,
                    arg->name, b->name);
    return false;
  }
  for (int k = 0; k < ds->nbinds; k++)
    if (strcmp(ds->binds[k].name, sym->name) == 0) {
      sema_error(S, arg->loc, "%s: '%s' is fed twice", b->name, sym->name);
      return false;
    }
  DataBind *d = &ds->binds[ds->nbinds];
  *d = (DataBind){.name = sym->name, .loc = arg->loc, .first = -1, .last = -1};
  const AstNode *v = arg->value;
  if (v->kind == AST_NAME) {   /* the same data as another input or target */
    for (int k = 0; k < ds->nbinds; k++)
      if (strcmp(ds->binds[k].name, v->str) == 0) {
        *d = ds->binds[k];
        d->name = sym->name;
        d->loc = arg->loc;
        ds->nbinds++;
        return true;
      }
    sema_error(S, v->loc, "%s: '%s' names no input or target fed earlier in this source", b->name, v->str);
    return false;
  }
  if (b->tag == DATA_IDX) {
    if (v->kind != AST_STR) {
      sema_error(S, v->loc, "idx: %s must be a file name in quotes (one IDX file per input or target)", sym->name);
      return false;
    }
    d->file = data_path(S, v->str);
  } else if (!csv_bind(S, v, d)) {
    return false;
  }
  int64_t want = fed_columns(S, sym), have = b->tag == DATA_CSV ? bind_count(d) : -1;
  if (want >= 0 && have >= 0 && want != have) {
    sema_error(S, v->loc, "csv: %s takes %lld column%s%s, but %lld %s given", sym->name, (long long)want,
               want == 1 ? "" : "s", fed_class(S, sym) ? " (the class label)" : "",
               (long long)have, have == 1 ? "is" : "are");
    diag_note(S->d, sym->loc, "%s is declared here", sym->name);
    return false;
  }
  ds->nbinds++;
  return true;
}

/* With bindings, every input and target must be fed; without, the source
 * feeds the model's one input and one target as it always has. */
static void data_fed(SemaCtx *S, const AstNode *n, const DataSpec *ds) {
  int ninputs = 0, ntargets = 0;
  for (int i = 0; i < S->nsyms; i++) {
    const Symbol *sym = &S->syms[i];
    if (sym->kind != SYM_INPUT && sym->kind != SYM_TARGET) continue;
    if (sym->kind == SYM_INPUT) ninputs++;
    else ntargets++;
    bool fed = false;
    for (int k = 0; k < ds->nbinds && !fed; k++) fed = strcmp(ds->binds[k].name, sym->name) == 0;
    if (fed || !ds->nbinds) continue;
    const char *kind = sym->kind == SYM_INPUT ? "input" : "target";
    if (ds->format == DATA_IDX)
      sema_error(S, n->loc, "idx(...) leaves %s '%s' unfed; name its file: %s = \"FILE\"", kind, sym->name, sym->name);
    else
      sema_error(S, n->loc, "csv(...) leaves %s '%s' unfed; name its columns: %s = \"NAME\", [\"A\", \"B\"] or "
                 "columns(FIRST, LAST)", kind, sym->name, sym->name);
    diag_note(S->d, sym->loc, "%s is declared here", sym->name);
  }
  if (!ds->nbinds && (ninputs > 1 || ntargets > 1))
    sema_error(S, n->loc, "the model has %d input%s and %d target%s: say what feeds each, e.g. %s", ninputs,
               ninputs == 1 ? "" : "s", ntargets, ntargets == 1 ? "" : "s",
               ds->format == DATA_IDX ? "idx(image = \"images.gz\", label = \"labels.gz\", ...)"
                                      : "csv(\"f.csv\", image = columns(0, 783), label = \"y\", ...)");
}

/* data = idx("dir/train", scale = 1/255) or csv("file.csv", header = true, targets = "first"),
 * with arguments named after inputs and targets saying what feeds each. */
static void data_source(SemaCtx *S, const AstArg *set, DataSpec *ds) {
  const AstNode *n = set->value;
  const Builtin *b = n->kind == AST_CALL ? builtin_find(n->str) : NULL;
  if (!b || b->kind != BK_DATA) {
    const char *near = n->kind == AST_CALL && !b ? builtin_closest(n->str, BK_DATA) : NULL;
    if (near) sema_error(S, n->loc, "unknown data source '%s'; did you mean '%s'?", n->str, near);
    else sema_error(S, n->loc, "%s must be a data source: idx(...) or csv(...)", set->name);
    return;
  }
  AstNode call = *n;   /* the source's own parameters; the rest feed inputs and targets */
  call.args = NEW_ARRAY(S->a, AstArg, n->nargs + 1);
  call.nargs = 0;
  DataSpec fed = {.format = (DataFormat)b->tag, .binds = NEW_ARRAY(S->a, DataBind, n->nargs + 1)};
  bool ok = true;
  for (int i = 0; i < n->nargs; i++) {
    const AstArg *arg = &n->args[i];
    if (!arg->name || builtin_param_index(b, arg->name) >= 0) call.args[call.nargs++] = *arg;
    else ok &= data_bind(S, b, arg, &fed);
  }
  Expr *e = sema_call(S, &call, b);
  if (!e || !ok) return;
  *ds = (DataSpec){.format = (DataFormat)b->tag, .loc = n->loc, .scale = builtin_arg(e, "scale")->num,
                   .standardize = builtin_arg(e, "standardize")->num != 0,
                   .path = data_path(S, builtin_arg(e, "path")->str), .binds = fed.nbinds ? fed.binds : NULL,
                   .nbinds = fed.nbinds};
  data_fed(S, n, ds);
  if (b->tag == DATA_IDX) {
    ds->images = data_path(S, builtin_arg(e, "images")->str);
    ds->labels = data_path(S, builtin_arg(e, "labels")->str);
    if (ds->nbinds && ((ds->path && ds->path[0]) || ds->images || ds->labels))
      sema_error(S, n->loc, "idx: give either a path (or images = and labels =) or one file per input and target, "
                            "not both");
    else if (!ds->nbinds && !ds->path && !(ds->images && ds->labels))
      sema_error(S, n->loc, "idx needs a path prefix or both images= and labels=");
    return;
  }
  ds->header = builtin_arg(e, "header")->num != 0;
  const ArgVal *t = builtin_arg(e, "targets");
  if (strcmp(t->str, "first") != 0 && strcmp(t->str, "last") != 0)
    sema_error(S, t->ast->loc, "csv: targets must be \"last\" or \"first\", got \"%s\"", t->str);
  ds->target_first = strcmp(t->str, "first") == 0;
  if (ds->nbinds && t->given)
    sema_error(S, t->loc, "csv: targets = \"%s\" has no meaning when each input and target names its columns", t->str);
}

/* schedule = step(every = 5, gamma = 0.5), cosine(warmup = 2), ... */
static void schedule(SemaCtx *S, const AstArg *set, ScheduleConfig *sc) {
  const AstNode *n = set->value;
  const Builtin *b = n->kind == AST_CALL || n->kind == AST_NAME ? builtin_find(n->str) : NULL;
  if (!b || b->kind != BK_SCHEDULE) {
    const char *near = (n->kind == AST_CALL || n->kind == AST_NAME) && !b ? builtin_closest(n->str, BK_SCHEDULE) : NULL;
    if (near) sema_error(S, n->loc, "unknown schedule '%s'; did you mean '%s'?", n->str, near);
    else sema_error(S, n->loc, "schedule must be step(...), cosine(...), exponential(...) or reduce_on_plateau(...)");
    return;
  }
  Expr *e = sema_call(S, n, b);
  if (!e) return;
  *sc = (ScheduleConfig){.kind = (ScheduleKind)b->tag, .loc = n->loc};
  for (int i = 0; i < BUILTIN_MAX_PARAMS && b->params[i].name; i++) {
    const char *p = b->params[i].name;
    double v = e->args[i].num;
    if (strcmp(p, "every") == 0) sc->every = (int)v;
    else if (strcmp(p, "gamma") == 0) sc->gamma = v;
    else if (strcmp(p, "warmup") == 0) sc->warmup = (int)v;
    else if (strcmp(p, "min") == 0) sc->min = v;
    else if (strcmp(p, "patience") == 0) sc->patience = (int)v;
    else sc->factor = v;
  }
  if (sc->kind == SCHED_PLATEAU && sc->factor == 0)
    sema_error(S, builtin_arg(e, "factor")->loc, "reduce_on_plateau: factor must be in (0, 1), got 0");
}

typedef enum {
  SK_DATA,       /* a data source */
  SK_SCHEDULE,   /* a learning-rate schedule */
  SK_FRACTION,   /* number in [0, 1) */
  SK_POS_INT,    /* integer >= 1 */
  SK_NAT,        /* integer >= 0 */
  SK_BOOL,       /* true or false */
  SK_POS_NUM,    /* number > 0 */
} SettingKind;

static const struct {
  const char *key;    /* as written in the block */
  SettingKind kind;   /* accepted values */
} settings[] = {
    {"data", SK_DATA},   {"validation", SK_DATA}, {"validation_split", SK_FRACTION}, {"test", SK_DATA},
    {"epochs", SK_POS_INT}, {"batch", SK_POS_INT}, {"shuffle", SK_BOOL},           {"seed", SK_NAT},
    {"patience", SK_NAT}, {"lr", SK_POS_NUM}, {"schedule", SK_SCHEDULE},
};

/* Reads a non-data setting's value into *v; false after reporting. */
static bool setting_value(SemaCtx *S, const AstArg *set, SettingKind kind, double *v) {
  const AstNode *n = set->value;
  if (kind == SK_BOOL) {
    if (n->kind == AST_NAME && (strcmp(n->str, "true") == 0 || strcmp(n->str, "false") == 0)) {
      *v = strcmp(n->str, "true") == 0;
      return true;
    }
    sema_error(S, n->loc, "%s must be true or false", set->name);
    return false;
  }
  static const char *const want[] = {[SK_FRACTION] = "a number in [0, 1)", [SK_POS_INT] = "a positive integer",
                                     [SK_NAT] = "a non-negative integer", [SK_POS_NUM] = "a positive number"};
  bool ok = sema_const_eval(n, v);
  bool integral = ok && *v == floor(*v) && fabs(*v) < 2e9;
  if (ok) switch (kind) {
    case SK_FRACTION: ok = *v >= 0 && *v < 1; break;
    case SK_POS_INT: ok = integral && *v >= 1; break;
    case SK_NAT: ok = integral && *v >= 0; break;
    default: ok = *v > 0; break;
    }
  if (ok) return true;
  if (sema_const_eval(n, v)) sema_error(S, n->loc, "%s must be %s, got %g", set->name, want[kind], *v);
  else sema_error(S, n->loc, "%s must be %s", set->name, want[kind]);
  return false;
}

/* Validation and test data must reach the model as the training data does:
 * `scale = 1/255` on data but not on test trains on [0,1] and tests on
 * [0,255], and nothing else would say so.  Standardization always uses the
 * training data's statistics, set on data for all sources. */
static void warn_prepared_differently(SemaCtx *S, const TrainConfig *t) {
  const struct {
    const char *name;
    const DataSpec *ds;
  } others[] = {{"validation", &t->validation}, {"test", &t->test}};
  const DataSpec *data = &t->data;
  if (data->format == DATA_NONE) return;
  for (size_t i = 0; i < COUNT_OF(others); i++) {
    const DataSpec *o = others[i].ds;
    if (o->format == DATA_NONE) continue;
    if (o->scale != data->scale) {
      sema_warning(S, o->loc,
                   "%s is read with scale = %g but data with scale = %g, so the model would be evaluated on inputs of "
                   "another range than it trains on; give both the same scale",
                   others[i].name, o->scale, data->scale);
      sema_note(S, data->loc, "data is read here");
    }
    if (o->standardize && !data->standardize)
      sema_warning(S, o->loc,
                   "standardize = true on %s has no effect: every source is standardized with the training data's "
                   "statistics when data says standardize = true",
                   others[i].name);
  }
}

/* train { data = ..., epochs = 10, ... } */
void sema_train(SemaCtx *S, const Stmt *st) {
  Model *m = S->m;
  TrainConfig *t = &m->train;
  if (m->has_train) {
    sema_error(S, st->loc, "second train block");
    diag_note(S->d, t->loc, "the first train block is here");
    return;
  }
  m->has_train = true;
  t->loc = st->loc;
  const AstArg *seen[COUNT_OF(settings)] = {0};
  for (int i = 0; i < st->nsettings; i++) {
    const AstArg *set = &st->settings[i];
    size_t k = 0;
    while (k < COUNT_OF(settings) && strcmp(settings[k].key, set->name) != 0) k++;
    if (k == COUNT_OF(settings)) {
      const char *keys[COUNT_OF(settings)];
      for (size_t j = 0; j < COUNT_OF(settings); j++) keys[j] = settings[j].key;
      const char *near = closest_name(set->name, keys, (int)COUNT_OF(settings));
      if (near) sema_error(S, set->loc, "unknown train setting '%s'; did you mean '%s'?", set->name, near);
      else sema_error(S, set->loc, "unknown train setting '%s'", set->name);
      continue;
    }
    if (seen[k]) {
      sema_error(S, set->loc, "train setting '%s' given twice", set->name);
      continue;
    }
    seen[k] = set;
    double v = 0;
    if (settings[k].kind == SK_DATA) {
      DataSpec *ds = k == 0 ? &t->data : k == 1 ? &t->validation : &t->test;
      data_source(S, set, ds);
      continue;
    }
    if (settings[k].kind == SK_SCHEDULE) {
      schedule(S, set, &t->schedule);
      continue;
    }
    if (!setting_value(S, set, settings[k].kind, &v)) continue;
    const char *key = settings[k].key;
    if (strcmp(key, "validation_split") == 0) t->validation_split = v;
    else if (strcmp(key, "epochs") == 0) t->epochs = (int)v;
    else if (strcmp(key, "batch") == 0) t->batch = (int)v;
    else if (strcmp(key, "shuffle") == 0) t->shuffle = v != 0;
    else if (strcmp(key, "seed") == 0) t->seed = (unsigned long long)v;
    else if (strcmp(key, "patience") == 0) t->patience = (int)v;
    else {
      S->lr_override = v;
      m->optim.lr = v;
    }
  }
  if (seen[1] && seen[2] && t->validation_split > 0)
    sema_error(S, seen[2]->loc, "give either validation or validation_split, not both");
  if (t->patience > 0 && !seen[1] && t->validation_split == 0)
    sema_error(S, seen[8]->loc, "patience needs validation data: add validation = ... or validation_split = ...");
  warn_prepared_differently(S, t);
}
