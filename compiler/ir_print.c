/* ir_print: the stable text form of a graph, and a Graphviz view.
 *
 * In:  a graph.  Out: text on a stream; nothing in the graph changes.
 *
 * Only live nodes are printed, renumbered densely (%0, %1, ...) in creation
 * order, which is topological; so the text depends on what the graph computes
 * and in which order it was built, never on pointers or hash order.  Each line
 * is `%N = op operands attributes : shape`, attributes in a fixed order,
 * floats as %.9g (they read back to the same float), then a comment with the
 * provenance (`# file:line label`) when known.  docs/ir.md describes the
 * format; tests compare it verbatim.
 */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

enum { COMMENT_COLUMN = 48 };   /* provenance comments line up here when they can */

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* Initializer in the form the .nn language writes it. */
static int print_init(FILE *out, const IrInit *in, Shape s) {
  switch (in->kind) {
  case INIT_ZEROS: return fprintf(out, " init=zeros");
  case INIT_CONST: return fprintf(out, " init=%.9g", in->a);
  case INIT_NORMAL: return fprintf(out, " init=normal(%.9g,%.9g)", in->a, in->b);
  case INIT_UNIFORM: return fprintf(out, " init=uniform(%.9g,%.9g)", in->a, in->b);
  case INIT_XAVIER:
  case INIT_KAIMING: {
    /* fans are printed only when they differ from the default (first and last
     * dimension; 0 also means default) */
    const char *name = in->kind == INIT_XAVIER ? "xavier" : "kaiming";
    int fi = s.ndim ? s.dim[0] : 1, fo = s.ndim ? s.dim[s.ndim - 1] : 1;
    if ((in->fan_in == 0 || in->fan_in == fi) && (in->fan_out == 0 || in->fan_out == fo))
      return fprintf(out, " init=%s", name);
    return fprintf(out, " init=%s(%d,%d)", name, in->fan_in, in->fan_out);
  }
  case INIT_VALUES: {
    int n = fprintf(out, " init=[");
    for (int64_t i = 0; i < shape_numel(s); i++) n += fprintf(out, i ? ",%.9g" : "%.9g", in->values[i]);
    return n + fprintf(out, "]");
  }
  }
  die("unknown initializer %d", (int)in->kind);
}

/* n's attributes through its op's schema, in the schema's order. */
static int print_attrs(FILE *out, const IrNode *n) {
  int w = 0;
  for (const AttrField *f = op_info[n->op].attrs; f->format != AF_END; f++) {
    const char *at = (const char *)n->attr_words + f->offset;
    switch (f->format) {
    case AF_NUMBER: w += fprintf(out, " %.9g", *(const double *)at); break;
    case AF_AXES: {
      unsigned axes = *(const unsigned *)at;
      w += fprintf(out, " %s=[", f->name);
      for (int i = 0, first = 1; i < IR_MAX_DIMS; i++)
        if (axes >> i & 1) {
          w += fprintf(out, first ? "%d" : ",%d", i);
          first = 0;
        }
      w += fprintf(out, "]");
      break;
    }
    case AF_INTS: {
      const int32_t *v = (const int32_t *)at;
      int count = f->count ? f->count : n->shape.ndim;
      w += fprintf(out, " %s=[", f->name);
      for (int k = 0; k < count; k++) w += fprintf(out, k ? ",%d" : "%d", (int)v[k]);
      w += fprintf(out, "]");
      break;
    }
    case AF_FLAG:
      if (*(const bool *)at) w += fprintf(out, " %s", f->name);
      break;
    case AF_UINT: w += fprintf(out, " %s=%u", f->name, *(const unsigned *)at); break;
    case AF_UINT_NZ:
      if (*(const unsigned *)at) w += fprintf(out, " %s=%u", f->name, *(const unsigned *)at);
      break;
    case AF_END: break;
    }
  }
  return w;
}

static void print_node(FILE *out, const IrNode *n, const int *num) {
  char sb[96];
  int w = fprintf(out, "  %%%d = %s", num[n->id], op_info[n->op].name);
  if (n->name) w += fprintf(out, " %s", n->name);
  for (int i = 0; i < n->nsrc; i++) w += fprintf(out, "%s%%%d", i ? ", " : " ", num[n->src[i]->id]);
  w += print_attrs(out, n);
  w += fprintf(out, " : %s", shape_str(n->shape, sb));
  if (n->op == OP_PARAM || n->op == OP_STATE) w += print_init(out, &n->init, n->shape);
  if (n->loc.file || n->label) {
    fprintf(out, "%*s#", w < COMMENT_COLUMN ? COMMENT_COLUMN - w : 2, "");
    if (n->loc.file) fprintf(out, " %s:%d", base_name(n->loc.file), n->loc.line);
    if (n->label) fprintf(out, " %s", n->label);
  }
  fprintf(out, "\n");
}

/* num[id] = dense number of live node id (-1 when dead); caller frees. */
static int *number_live(const IrGraph *g, const bool *live) {
  int *num = xmalloc(sizeof(int) * ((size_t)g->nodes.len + 1));
  for (int id = 0, k = 0; id < g->nodes.len; id++) num[id] = live[id] ? k++ : -1;
  return num;
}

void ir_print(FILE *out, const IrGraph *g) {
  bool *live = ir_live(g);
  int *num = number_live(g, live);
  fprintf(out, "graph %s", g->name);
  if (g->batch) fprintf(out, " (batch %d)", g->batch);
  fprintf(out, " {\n");
  for (int id = 0; id < g->nodes.len; id++)
    if (live[id]) print_node(out, g->nodes.items[id], num);
  for (int i = 0; i < g->outputs.len; i++) {
    const IrOutput *o = g->outputs.items[i];
    fprintf(out, "  output %s = %%%d\n", o->name, num[o->node->id]);
  }
  for (int i = 0; i < g->updates.len; i++) {
    const IrUpdate *u = g->updates.items[i];
    fprintf(out, "  update %s = %%%d\n", u->leaf->name, num[u->value->id]);
  }
  fprintf(out, "}\n");
  free(num);
  free(live);
}

/* Writes s as the inside of a dot string literal. */
static void dot_escaped(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', out);
    fputc(*s, out);
  }
}

void ir_print_dot(FILE *out, const IrGraph *g) {
  bool *live = ir_live(g);
  int *num = number_live(g, live);
  char sb[96];
  fprintf(out, "digraph \"");
  dot_escaped(out, g->name);
  fprintf(out, "\" {\n  node [shape=box, fontname=\"monospace\"];\n");
  for (int id = 0; id < g->nodes.len; id++) {
    if (!live[id]) continue;
    const IrNode *n = g->nodes.items[id];
    fprintf(out, "  n%d [label=\"%%%d %s", num[id], num[id], op_info[n->op].name);
    if (n->op == OP_CONST) fprintf(out, " %.9g", n->value);
    if (n->name) {
      fputc(' ', out);
      dot_escaped(out, n->name);
    }
    fprintf(out, "\\n%s", shape_str(n->shape, sb));
    if (n->label) {
      fprintf(out, "\\n");
      dot_escaped(out, n->label);
    }
    fprintf(out, "\"");
    if (op_info[n->op].kind == OPK_LEAF)
      fprintf(out, ", shape=ellipse, style=filled, fillcolor=\"%s\"", n->op == OP_CONST ? "gray90" : "lightblue");
    fprintf(out, "];\n");
  }
  for (int id = 0; id < g->nodes.len; id++) {
    if (!live[id]) continue;
    const IrNode *n = g->nodes.items[id];
    for (int i = 0; i < n->nsrc; i++) fprintf(out, "  n%d -> n%d;\n", num[n->src[i]->id], num[id]);
  }
  /* outputs and updates are sinks of their own, drawn as double octagons */
  for (int i = 0; i < g->outputs.len; i++) {
    const IrOutput *o = g->outputs.items[i];
    fprintf(out, "  out%d [label=\"output ", i);
    dot_escaped(out, o->name);
    fprintf(out, "\", shape=doubleoctagon, style=filled, fillcolor=\"palegreen\"];\n");
    fprintf(out, "  n%d -> out%d;\n", num[o->node->id], i);
  }
  for (int i = 0; i < g->updates.len; i++) {
    const IrUpdate *u = g->updates.items[i];
    fprintf(out, "  upd%d [label=\"update ", i);
    dot_escaped(out, u->leaf->name);
    fprintf(out, "\", shape=doubleoctagon, style=filled, fillcolor=\"lightsalmon\"];\n");
    fprintf(out, "  n%d -> upd%d;\n", num[u->value->id], i);
  }
  fprintf(out, "}\n");
  free(num);
  free(live);
}
