/* builtins_conv: the image layers of the builtin table -- conv2d,
 * max_pool2d, avg_pool2d and global_avg_pool -- with their shape rules and
 * lowerings, side by side like the rest of builtins.c.
 *
 * A feature map is a per-sample [channels, height, width]; in the IR a
 * batch of them is [B, C, H, W] and every window op slides over the last two
 * axes (docs/ir.md).  The shape rules turn every way a window can fail to
 * fit into a message that names the layer, the shapes and a fix, so the IR
 * builder never meets an impossible window.
 */
#include <string.h>

#include "builtins.h"

static bool is_conv(const Expr *e) { return builtin_param_index(e->fn, "kernel") >= 0; }

/* "conv2d 'c1'" or "max_pool2d": how messages name the call. */
static const char *layer_name(const Expr *e) {
  static _Thread_local char buf[128];
  if (e->layer) snprintf(buf, sizeof buf, "%s '%.60s'", e->fn->name, e->layer);
  else snprintf(buf, sizeof buf, "%s", e->fn->name);
  return buf;
}

/* x must be a feature map [C, H, W]; otherwise say how to get one. */
static bool feature_map(SemaCtx *S, const Expr *e, Type x) {
  char b1[96];
  if (x.shape.ndim == 3) return true;
  const char *arg = sema_arg_text(S, &e->args[0]);
  int64_t n = shape_numel(x.shape);
  int side = 1;
  while ((int64_t)(side + 1) * (side + 1) <= n) side++;
  if (x.shape.ndim == 2)
    sema_error(S, e->args[0].loc, "%s expects a feature map [channels, height, width], got %s; use reshape(%s, [1, %d, %d])",
               layer_name(e), sema_type_str(x, b1), arg, x.shape.dim[0], x.shape.dim[1]);
  else if ((int64_t)side * side == n && n > 1)
    sema_error(S, e->args[0].loc,
               "%s expects a feature map [channels, height, width], got %s; declare the input as [1, %d, %d] or "
               "use reshape(%s, [1, %d, %d])",
               layer_name(e), sema_type_str(x, b1), side, side, arg, side, side);
  else
    sema_error(S, e->args[0].loc, "%s expects a feature map [channels, height, width], got %s; reshape it to one",
               layer_name(e), sema_type_str(x, b1));
  return false;
}

/* The window of a conv2d or pool call over feature map x: size, stride
 * (a pool's defaults to its size), dilation, padding.  "same" pads so that
 * the output has ceil(size / stride) positions, the odd row or column after
 * (TensorFlow's rule; PyTorch's for stride 1).  Sizes are checked first, so
 * nothing here overflows. */
static IrWindow call_window(const Expr *e, Type x) {
  bool conv = is_conv(e);
  const ArgVal *size = builtin_arg(e, conv ? "kernel" : "size");
  const ArgVal *stride = builtin_arg(e, "stride"), *pad = builtin_arg(e, "padding");
  IrWindow w = {.groups = conv ? (int)builtin_arg(e, "groups")->num : 0};
  for (int i = 0; i < 2; i++) {
    w.size[i] = size->pair[i];
    w.stride[i] = stride->present ? stride->pair[i] : size->pair[i];
    w.dilation[i] = conv ? builtin_arg(e, "dilation")->pair[i] : 1;
    int64_t n = x.shape.dim[1 + i], extent = (int64_t)w.dilation[i] * (w.size[i] - 1) + 1;
    if (pad->same) {
      int64_t out = (n + w.stride[i] - 1) / w.stride[i], total = (out - 1) * w.stride[i] + extent - n;
      if (total < 0) total = 0;
      w.pad[i] = (int)(total / 2), w.pad[i + 2] = (int)(total - total / 2);
    } else {
      w.pad[i] = w.pad[i + 2] = pad->pair[i];
    }
  }
  return w;
}

static const char *const axis_names[2] = {"rows", "columns"};

static int gcd_int(int a, int b) { return b == 0 ? a : gcd_int(b, a % b); }

/* Pool windows are unrolled in the generated code (an unpool's even twice
 * over), so their size is bounded. */
enum { POOL_MAX_TAPS = 25 };

/* Every way the window can fail to fit x, as a message with a fix. */
static bool check_window(SemaCtx *S, const Expr *e, Type x) {
  char b1[96];
  bool conv = is_conv(e);
  const ArgVal *size = builtin_arg(e, conv ? "kernel" : "size"), *pad = builtin_arg(e, "padding");
  const ArgVal *dil = conv ? builtin_arg(e, "dilation") : NULL;
  if (!conv && (int64_t)size->pair[0] * size->pair[1] > POOL_MAX_TAPS) {
    sema_error(S, size->loc,
               "%s: a %dx%d window has more than %d positions, the most a pool may have; for a whole feature map "
               "use global_avg_pool",
               layer_name(e), size->pair[0], size->pair[1], POOL_MAX_TAPS);
    return false;
  }
  for (int i = 0; i < 2; i++) {
    int64_t d = dil ? dil->pair[i] : 1, extent = d * (size->pair[i] - 1) + 1, p = pad->pair[i];
    if (conv && !pad->same && p >= extent) {
      sema_error(S, pad->loc,
                 "%s: padding %lld is %s the kernel (%lld %s); at most %lld, or padding = \"same\" to keep "
                 "the size",
                 layer_name(e), (long long)p, p == extent ? "as large as" : "larger than", (long long)extent,
                 axis_names[i], (long long)extent - 1);
      return false;
    }
    if (!conv && !pad->same && 2 * p > size->pair[i]) {
      sema_error(S, pad->loc, "%s: padding %lld is more than half the window (%d %s); at most %d",
                 layer_name(e), (long long)p, size->pair[i], axis_names[i], size->pair[i] / 2);
      return false;
    }
    int64_t n = x.shape.dim[1 + i], padded = n + (pad->same ? 0 : 2 * p);
    if (!pad->same && extent > padded) {
      sema_error(S, size->loc,
                 "%s: the %dx%d %s spans %lld %s%s, but input '%s' %s has only %lld with padding %lld on each "
                 "side; use a smaller %s%s or more padding",
                 layer_name(e), size->pair[0], size->pair[1], conv ? "kernel" : "window", (long long)extent,
                 axis_names[i], d > 1 ? " with its dilation" : "", sema_arg_text(S, &e->args[0]),
                 sema_type_str(x, b1), (long long)padded, (long long)p, conv ? "kernel" : "window",
                 d > 1 ? " or dilation" : "");
      return false;
    }
  }
  return true;
}

/* conv2d: W [filters, C/groups, KH, KW] (Kaiming: fan_in = C/groups*KH*KW), b [filters]. */
bool builtin_check_conv2d(SemaCtx *S, Expr *e) {
  Type x = e->args[0].x->type;
  if (!feature_map(S, e, x) || !check_window(S, e, x)) return false;
  int filters = (int)builtin_arg(e, "filters")->num, groups = (int)builtin_arg(e, "groups")->num;
  int C = x.shape.dim[0];
  if (C % groups != 0 || filters % groups != 0) {
    int common = gcd_int(C, filters);
    char fix[64];
    if (common == 1) snprintf(fix, sizeof fix, "only groups = 1 divides both");
    else snprintf(fix, sizeof fix, "groups = %d, or a divisor of it, divides both", common);
    sema_error(S, builtin_arg(e, "groups")->loc,
               "%s: groups = %d must divide both the input's %d channel%s and the %d filter%s; %s", layer_name(e),
               groups, C, C == 1 ? "" : "s", filters, filters == 1 ? "" : "s", fix);
    return false;
  }
  IrWindow w = call_window(e, x);
  IrInit init = builtin_arg(e, "init")->init;
  init.fan_in = C / groups * w.size[0] * w.size[1];
  init.fan_out = filters / groups * w.size[0] * w.size[1];
  sema_add_param(S, e, "w", shape_of(4, (int[]){filters, C / groups, w.size[0], w.size[1]}), init);
  if (builtin_arg(e, "bias")->num != 0) sema_add_param(S, e, "b", shape_1(filters), (IrInit){.kind = INIT_ZEROS});
  Shape out = shape_of(3, (int[]){filters, 1, 1});
  for (int i = 0; i < 2; i++)
    out.dim[1 + i] = ir_window_count(x.shape.dim[1 + i], w.size[i], w.stride[i], w.pad[i], w.pad[i + 2],
                                     w.dilation[i]);
  e->type = (Type){.shape = out, .batched = x.batched};
  return true;
}

/* max_pool2d, avg_pool2d: the same channels, fewer positions. */
bool builtin_check_pool2d(SemaCtx *S, Expr *e) {
  Type x = e->args[0].x->type;
  if (!feature_map(S, e, x) || !check_window(S, e, x)) return false;
  IrWindow w = call_window(e, x);
  e->type = x;
  e->type.nclasses = 0;
  for (int i = 0; i < 2; i++)
    e->type.shape.dim[1 + i] =
        ir_window_count(x.shape.dim[1 + i], w.size[i], w.stride[i], w.pad[i], w.pad[i + 2], 1);
  return true;
}

bool builtin_check_global_avg_pool(SemaCtx *S, Expr *e) {
  Type x = e->args[0].x->type;
  if (!feature_map(S, e, x)) return false;
  e->type = (Type){.shape = shape_1(x.shape.dim[0]), .batched = x.batched};
  return true;
}

/* ---- lowering ---- */

/* A feature map as the IR's [B, C, H, W] (B = 1 for one that does not
 * depend on the batch). */
static IrNode *as_nchw(LowerCtx *L, IrNode *x, Type t) {
  if (t.batched && L->batch) return x;
  return lower_reshape(L, x, shape_of(4, (int[]){1, t.shape.dim[0], t.shape.dim[1], t.shape.dim[2]}));
}

IrNode *builtin_lower_conv2d(LowerCtx *L, const Expr *e, IrNode *const *x) {
  Type t = e->args[0].x->type;
  IrNode *y = ir_window(L->g, OP_CONV2D, as_nchw(L, x[0], t), L->params[e->param0], call_window(e, t), (Shape){0});
  if (e->nparams > 1) {
    int filters = y->shape.dim[1];
    y = lower_add(L, y, lower_reshape(L, L->params[e->param0 + 1], shape_of(3, (int[]){filters, 1, 1})));
  }
  return lower_reshape(L, y, lower_ir_shape(L, e->type));
}

IrNode *builtin_lower_pool2d(LowerCtx *L, const Expr *e, IrNode *const *x) {
  Type t = e->args[0].x->type;
  IrNode *in = as_nchw(L, x[0], t);
  IrOp op = strcmp(e->fn->name, "max_pool2d") == 0 ? OP_MAX_POOL2D : OP_AVG_POOL2D;
  IrNode *y = ir_window(L->g, op, in, op == OP_MAX_POOL2D ? in : NULL, call_window(e, t), (Shape){0});
  return lower_reshape(L, y, lower_ir_shape(L, e->type));
}

/* The mean over each channel's positions. */
IrNode *builtin_lower_global_avg_pool(LowerCtx *L, const Expr *e, IrNode *const *x) {
  Type t = e->args[0].x->type;
  IrNode *sum = lower_reduce(L, OP_SUM, x[0], t, 6, false);
  return lower_mul(L, sum, lower_num(L, 1.0 / ((double)t.shape.dim[1] * t.shape.dim[2])));
}
