/* check_parse: the parser, from text to AST and to error messages.
 *
 * Statements are checked through ast_print's text, expressions through an
 * s-expression form written here (precedence and associativity become
 * visible), errors as the exact Diag output with caret lines.  A robustness
 * test parses thousands of deterministic mutations of a realistic program;
 * under `make test` it runs with ASan and UBSan, so any out-of-bounds read or
 * crash fails it.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"

/* One parse with everything it printed. */
typedef struct {
  Arena *arena;       /* owns the AST */
  AstProgram *prog;   /* parse_program's result */
  char *errors;       /* Diag output */
  char *dump;         /* ast_print output ("" when prog is NULL) */
  int nerrors;        /* diag_errors() */
} Parsed;

static Parsed parse_len(const char *text, size_t len) {
  Parsed r = {.arena = arena_new()};
  Source src = {"t.nn", text, len};
  size_t size;
  FILE *out = open_memstream(&r.errors, &size);
  Diag d;
  diag_init(&d, out, &src);
  r.prog = parse_program(&src, r.arena, &d);
  r.nerrors = diag_errors(&d);
  fclose(out);
  out = open_memstream(&r.dump, &size);
  if (r.prog) ast_print(out, r.prog);
  fclose(out);
  return r;
}

static Parsed parse(const char *text) { return parse_len(text, strlen(text)); }

static void parsed_free(Parsed *r) {
  arena_free(r->arena);
  free(r->errors);
  free(r->dump);
}

static const char program_text[] =
    "# a complete program\n"
    "model fashion_mlp\n"
    "input  x : [784]\n"
    "input  t : []\n"
    "target y : class(10)\n"
    "param  a = 3\n"
    "param  W : [784, 10] = normal(0.01, mean = 0)\n"
    "param  v : [3] = [0.5, -1, 2]\n"
    "param  b : [10]\n"
    "h1 = relu(dense(x,\n"
    "                256, name = \"fc\\\"1\"))\n"
    "loss cross_entropy(logits, y) + l2(1e-4)\n"
    "output logits\n"
    "optimizer adam(lr = 0.001, clip_norm = 5)\n"
    "train {\n"
    "  data = idx(\"/data/train\", scale = 1/255)\n"
    "  epochs = 10; batch = 64\n"
    "}\n"
    "train { seed = 42 }\n"
    "train {}";

static const char program_dump[] =
    "program t.nn\n"
    "  model fashion_mlp\n"
    "  input x\n    type\n      list\n        num 784\n"
    "  input t\n    type\n      list\n"
    "  target y\n    type\n      call class\n        num 10\n"
    "  param a\n    init\n      num 3\n"
    "  param W\n    type\n      list\n        num 784\n        num 10\n"
    "    init\n      call normal\n        num 0.01\n        arg mean\n          num 0\n"
    "  param v\n    type\n      list\n        num 3\n"
    "    init\n      list\n        num 0.5\n        neg\n          num 1\n        num 2\n"
    "  param b\n    type\n      list\n        num 10\n"
    "  let h1\n    value\n      call relu\n        call dense\n          name x\n          num 256\n"
    "          arg name\n            str \"fc\\\"1\"\n"
    "  loss\n    value\n      binary +\n        call cross_entropy\n          name logits\n          name y\n"
    "        call l2\n          num 0.0001\n"
    "  output logits\n"
    "  optimizer\n    value\n      call adam\n        arg lr\n          num 0.001\n"
    "        arg clip_norm\n          num 5\n"
    "  train\n    setting data\n      call idx\n        str \"/data/train\"\n        arg scale\n"
    "          binary /\n            num 1\n            num 255\n"
    "    setting epochs\n      num 10\n    setting batch\n      num 64\n"
    "  train\n    setting seed\n      num 42\n"
    "  train\n";

START_TEST(test_every_statement) {
  Parsed r = parse(program_text);
  ck_assert_str_eq(r.errors, "");
  ck_assert_str_eq(r.dump, program_dump);
  parsed_free(&r);
}
END_TEST

START_TEST(test_locations) {
  Parsed r = parse("model m\n  h = f(x, k = 2) * -y\n");
  ck_assert_int_eq(r.prog->nstmts, 2);
  const Stmt *s = &r.prog->stmts[1];
  ck_assert_int_eq(s->kind, ST_LET);
  ck_assert_int_eq(s->loc.line, 2);
  ck_assert_int_eq(s->loc.col, 3);
  ck_assert_int_eq(s->name_loc.col, 3);
  const AstNode *mul = s->value, *call = mul->lhs;
  ck_assert_int_eq(mul->loc.col, 19);
  ck_assert_int_eq(call->str_loc.col, 7);
  ck_assert_int_eq(call->args[0].loc.col, 9);
  ck_assert_int_eq(call->args[1].loc.col, 12);
  ck_assert_str_eq(call->args[1].name, "k");
  ck_assert_int_eq(call->args[1].value->loc.col, 16);
  ck_assert_int_eq(mul->rhs->loc.col, 21);
  ck_assert_int_eq(mul->rhs->lhs->loc.col, 22);
  ck_assert_str_eq(mul->rhs->loc.file, "t.nn");
  parsed_free(&r);
}
END_TEST

START_TEST(test_layout_variants) {
  static const char *const empty[] = {"", "\n\n\n", "# nothing\n", ";;\n;"};
  for (size_t i = 0; i < COUNT_OF(empty); i++) {
    Parsed r = parse(empty[i]);
    ck_assert_ptr_nonnull(r.prog);
    ck_assert_int_eq(r.prog->nstmts, 0);
    ck_assert_int_eq(r.nerrors, 0);
    parsed_free(&r);
  }
  Parsed r = parse("model m\nloss a");
  ck_assert_int_eq(r.nerrors, 0);
  ck_assert_int_eq(r.prog->nstmts, 2);
  parsed_free(&r);
  /* The train block's '{' may start the next line. */
  r = parse("train\n{\n  epochs = 1\n}");
  ck_assert_str_eq(r.errors, "");
  ck_assert_str_eq(r.dump, "program t.nn\n  train\n    setting epochs\n      num 1\n");
  parsed_free(&r);
}
END_TEST

/* Writes e fully parenthesized as an s-expression: (+ a (* b c)). */
static void sexpr(FILE *out, const AstNode *e) {
  switch (e->kind) {
  case AST_NUM: fprintf(out, "%g", e->num); break;
  case AST_STR: fprintf(out, "\"%s\"", e->str); break;
  case AST_NAME: fputs(e->str, out); break;
  case AST_NEG:
    fputs("(neg ", out);
    sexpr(out, e->lhs);
    fputc(')', out);
    break;
  case AST_BINARY:
    fprintf(out, "(%c ", e->op);
    sexpr(out, e->lhs);
    fputc(' ', out);
    sexpr(out, e->rhs);
    fputc(')', out);
    break;
  case AST_CALL:
    fprintf(out, "(%s", e->str);
    for (int i = 0; i < e->nargs; i++) {
      fprintf(out, " %s%s", e->args[i].name ? e->args[i].name : "", e->args[i].name ? "=" : "");
      sexpr(out, e->args[i].value);
    }
    fputc(')', out);
    break;
  case AST_LIST:
    fputc('[', out);
    for (int i = 0; i < e->nitems; i++) {
      if (i) fputc(' ', out);
      sexpr(out, e->items[i]);
    }
    fputc(']', out);
    break;
  }
}

/* Parses "e = TEXT" and returns the s-expression of TEXT, or NULL on errors. */
static char *expr_sexpr(const char *text) {
  char *src = NULL, *res = NULL;
  size_t size;
  FILE *f = open_memstream(&src, &size);
  fprintf(f, "e = %s\n", text);
  fclose(f);
  Parsed r = parse(src);
  if (r.nerrors == 0 && r.prog->nstmts == 1) {
    f = open_memstream(&res, &size);
    sexpr(f, r.prog->stmts[0].value);
    fclose(f);
  }
  parsed_free(&r);
  free(src);
  return res;
}

static char *expr_source(const char *text) {
  char *src = NULL, *res = NULL;
  size_t size;
  FILE *f = open_memstream(&src, &size);
  fprintf(f, "e = %s\n", text);
  fclose(f);
  Parsed r = parse(src);
  ck_assert_int_eq(r.nerrors, 0);
  f = open_memstream(&res, &size);
  ast_print_expr(f, r.prog->stmts[0].value);
  fclose(f);
  parsed_free(&r);
  free(src);
  return res;
}

/* Expression, its tree, and ast_print_expr's rendering of it. */
static const struct {
  const char *text;    /* source */
  const char *tree;    /* s-expression */
  const char *printed; /* ast_print_expr */
} exprs[] = {
    {"a + b * c", "(+ a (* b c))", "a + b * c"},
    {"(a + b) * c", "(* (+ a b) c)", "(a + b) * c"},
    {"a - b - c", "(- (- a b) c)", "a - b - c"},
    {"a - (b - c)", "(- a (- b c))", "a - (b - c)"},
    {"a / b * c", "(* (/ a b) c)", "a / b * c"},
    {"a / (b * c)", "(/ a (* b c))", "a / (b * c)"},
    {"a @ b * c + d", "(+ (* (@ a b) c) d)", "a @ b * c + d"},
    {"-c^2", "(neg (^ c 2))", "-c^2"},
    {"(-c)^2", "(^ (neg c) 2)", "(-c)^2"},
    {"2^-1", "(^ 2 (neg 1))", "2^-1"},
    {"a^b^c", "(^ a (^ b c))", "a^b^c"},
    {"(a^b)^c", "(^ (^ a b) c)", "(a^b)^c"},
    {"a^-b^c", "(^ a (neg (^ b c)))", "a^-b^c"},
    {"a^(b+c)", "(^ a (+ b c))", "a^(b + c)"},
    {"-a * b", "(* (neg a) b)", "-a * b"},
    {"a * -b", "(* a (neg b))", "a * -b"},
    {"- -a", "(neg (neg a))", "- -a"},
    {"-(a + b)", "(neg (+ a b))", "-(a + b)"},
    {"a - -b", "(- a (neg b))", "a - -b"},
    {"2 * (3 + 4)^2", "(* 2 (^ (+ 3 4) 2))", "2 * (3 + 4)^2"},
    {"f(a, b = 2)^2", "(^ (f a b=2) 2)", "f(a, b = 2)^2"},
    {"f()", "(f)", "f()"},
    {"f(k = [])", "(f k=[])", "f(k = [])"},
    {"[1, [2, 3], -x]", "[1 [2 3] (neg x)]", "[1, [2, 3], -x]"},
    {"b * (a + 2*b + a*c^2)", "(* b (+ (+ a (* 2 b)) (* a (^ c 2))))", "b * (a + 2 * b + a * c^2)"},
    {"1/255 + .5 + 1e-3 + 2.5E+4", "(+ (+ (+ (/ 1 255) 0.5) 0.001) 25000)", "1 / 255 + 0.5 + 0.001 + 25000"},
    {"0.1 + 1e-10 + 123456789012", "(+ (+ 0.1 1e-10) 1.23457e+11)", "0.1 + 1e-10 + 123456789012"},
    {"idx(\"p\\\"q\\n\")", "(idx \"p\"q\n\")", "idx(\"p\\\"q\\n\")"},
};

START_TEST(test_precedence) {
  char *tree = expr_sexpr(exprs[_i].text);
  ck_assert_ptr_nonnull(tree);
  ck_assert_str_eq(tree, exprs[_i].tree);
  free(tree);
}
END_TEST

START_TEST(test_print_expr_round_trip) {
  char *printed = expr_source(exprs[_i].text);
  ck_assert_str_eq(printed, exprs[_i].printed);
  char *again = expr_sexpr(printed);
  ck_assert_ptr_nonnull(again);
  ck_assert_str_eq(again, exprs[_i].tree);
  free(again);
  free(printed);
}
END_TEST

/* A broken program and the exact diagnostics for it. */
static const struct {
  const char *text;     /* input */
  const char *errors;   /* Diag output */
} bad[] = {
    {"h = f(1, 2\nloss h\n",
     "t.nn:1:11: error: expected ',' or ')' to close '(' opened at 1:6, got end of line\n"
     "    1 | h = f(1, 2\n      |           ^\n"},
    {"h = (1 + 2]\n",
     "t.nn:1:11: error: expected ')' to close '(' opened at 1:5, got ']'\n"
     "    1 | h = (1 + 2]\n      |           ^\n"},
    {"h = f(x = 1, y)\n",
     "t.nn:1:15: error: expected '=' after 'y' (positional arguments come before named ones), got ')'\n"
     "    1 | h = f(x = 1, y)\n      |               ^\n"},
    {"h = f(x = 1, 2)\n",
     "t.nn:1:14: error: expected a named argument (name = value) after named arguments, got '2'\n"
     "    1 | h = f(x = 1, 2)\n      |              ^\n"},
    {"v = [1, 2\nw = 3\n",
     "t.nn:2:1: error: expected ',' or ']' to close '[' opened at 1:5, got 'w'\n"
     "    2 | w = 3\n      | ^\n"},
    {"h = (1 + 2))\n", "t.nn:1:12: error: unmatched ')'\n    1 | h = (1 + 2))\n      |            ^\n"},
    {"h = )\n", "t.nn:1:5: error: expected an expression, got ')'\n    1 | h = )\n      |     ^\n"},
    {"h = f(;\n", "t.nn:1:7: error: expected an expression or ')', got ';'\n    1 | h = f(;\n      |       ^\n"},
    {"h = 1 +", "t.nn:1:8: error: expected an expression, got end of file\n    1 | h = 1 +\n      |        ^\n"},
    {"input x [3]\n",
     "t.nn:1:9: error: expected ':' and a shape after input name, got '['\n"
     "    1 | input x [3]\n      |         ^\n"},
    {"target y\n",
     "t.nn:1:9: error: expected ':' and a shape or class(N) after target name, got end of line\n"
     "    1 | target y\n      |         ^\n"},
    {"param w 3\n",
     "t.nn:1:9: error: expected ':' and a shape, '=' and a value, or end of line after param name, got '3'\n"
     "    1 | param w 3\n      |         ^\n"},
    {"input x : 784\n",
     "t.nn:1:11: error: expected a shape such as [784] or a type such as class(10) after ':', got '784'\n"
     "    1 | input x : 784\n      |           ^\n"},
    {"model\n", "t.nn:1:6: error: expected a name after 'model', got end of line\n    1 | model\n      |      ^\n"},
    {"model m extra\n", "t.nn:1:9: error: expected end of line, got 'extra'\n    1 | model m extra\n      |         ^\n"},
    {"loss a b\n",
     "t.nn:1:8: error: expected an operator or end of line, got 'b'\n    1 | loss a b\n      |        ^\n"},
    {"optimizer 0.1\n",
     "t.nn:1:11: error: expected an optimizer call such as adam(lr = 0.001) after 'optimizer', got '0.1'\n"
     "    1 | optimizer 0.1\n      |           ^\n"},
    {"optimizer sgd\n",
     "t.nn:1:14: error: expected '(' and arguments after 'sgd', got end of line\n"
     "    1 | optimizer sgd\n      |              ^\n"},
    {"optimiser adam()\n",
     "t.nn:1:1: error: unknown statement 'optimiser'; did you mean 'optimizer'?\n"
     "    1 | optimiser adam()\n      | ^\n"},
    {"inptu x : [3]\n",
     "t.nn:1:1: error: unknown statement 'inptu'; did you mean 'input'?\n    1 | inptu x : [3]\n      | ^\n"},
    {"foo bar\n",
     "t.nn:1:1: error: expected '=' or a statement keyword after 'foo'\n    1 | foo bar\n      | ^\n"},
    {"}\n", "t.nn:1:1: error: expected a statement, got '}'\n    1 | }\n      | ^\n"},
    {"train epochs = 3\n",
     "t.nn:1:7: error: expected '{' after 'train', got 'epochs'\n    1 | train epochs = 3\n      |       ^\n"},
    {"train {\n  epochs = 3\n",
     "t.nn:2:13: error: expected '}' to close 'train' block opened at 1:1, got end of file\n"
     "    2 |   epochs = 3\n      |             ^\n"},
    /* A keyword inside the block closes it: the statement is parsed as usual. */
    {"train {\n  epochs = 3\nloss x\noutput 3\n",
     "t.nn:3:1: error: expected '}' to close 'train' block opened at 1:1, got 'loss'\n"
     "    3 | loss x\n      | ^\n"
     "t.nn:4:8: error: expected a name after 'output', got '3'\n    4 | output 3\n      |        ^\n"},
    {"a = {\n", "t.nn:1:5: error: expected an expression, got '{'\n    1 | a = {\n      |     ^\n"},
    {"train {\n  epochs 3\n  batch = 64\n}\nloss x\n",
     "t.nn:2:10: error: expected '=' after setting name 'epochs', got '3'\n"
     "    2 |   epochs 3\n      |          ^\n"},
    {"train { epochs = }\nloss x\n",
     "t.nn:1:18: error: expected an expression, got '}'\n    1 | train { epochs = }\n      |                  ^\n"},
    {"train {\n  3 = 4\n}\n",
     "t.nn:2:3: error: expected a setting (name = value) or '}', got '3'\n    2 |   3 = 4\n      |   ^\n"},
    {"tran {\n  epochs = 3\n}\nloss x\n",
     "t.nn:1:1: error: unknown statement 'tran'; did you mean 'train'?\n    1 | tran {\n      | ^\n"},
    /* The block of a broken statement goes with it. */
    {"3 train {\n  epochs = 1\n}\n", "t.nn:1:1: error: expected a statement, got '3'\n    1 | 3 train {\n      | ^\n"},
    /* A '}' after a block closed at a keyword is not a second error. */
    {"train {\n  epochs = 1\nloss x\n  batch = 2\n}\n",
     "t.nn:3:1: error: expected '}' to close 'train' block opened at 1:1, got 'loss'\n"
     "    3 | loss x\n      | ^\n"},
    /* One error per statement: no lexical errors after a syntax error... */
    {"foo bar $ \"x\n", "t.nn:1:1: error: expected '=' or a statement keyword after 'foo'\n    1 | foo bar $ \"x\n      | ^\n"},
    /* ...and no syntax error after a lexical one. */
    {"a = 3 $ 4\n", "t.nn:1:7: error: unexpected character '$'\n    1 | a = 3 $ 4\n      |       ^\n"},
    {"a = \"abc\n",
     "t.nn:1:9: error: newline in string (missing closing '\"')\n    1 | a = \"abc\n      |         ^\n"},
};

START_TEST(test_error_messages) {
  Parsed r = parse(bad[_i].text);
  ck_assert_str_eq(r.errors, bad[_i].errors);
  parsed_free(&r);
}
END_TEST

START_TEST(test_recovery_keeps_good_statements) {
  /* One error per broken line, none for the good lines, which are all kept
   * (the unclosed '(' on line 3 ends at the keyword starting line 4). */
  Parsed r = parse("model m\n"
                   "input x [784]\n"
                   "h = relu(dense(x, 10)\n"
                   "loss mse(h, y)\n"
                   "optimiser adam()\n"
                   "train {\n"
                   "  epochs 3\n"
                   "  batch = 64\n"
                   "  seed = )\n"
                   "}\n"
                   "output h\n");
  ck_assert_int_eq(r.nerrors, 5);
  static const char *const lines[] = {
      "t.nn:2:9: error: expected ':' and a shape after input name, got '['\n",
      "t.nn:3:22: error: expected ',' or ')' to close '(' opened at 3:9, got end of line\n",
      "t.nn:5:1: error: unknown statement 'optimiser'; did you mean 'optimizer'?\n",
      "t.nn:7:10: error: expected '=' after setting name 'epochs', got '3'\n",
      "t.nn:9:10: error: expected an expression, got ')'\n",
  };
  const char *at = r.errors;
  for (size_t i = 0; i < COUNT_OF(lines); i++) {
    const char *hit = strstr(at, lines[i]);
    ck_assert_msg(hit != NULL, "missing or out of order: %s", lines[i]);
    at = hit + strlen(lines[i]);
  }
  ck_assert_str_eq(r.dump, "program t.nn\n  model m\n  loss\n    value\n      call mse\n        name h\n"
                           "        name y\n  train\n    setting batch\n      num 64\n  output h\n");
  parsed_free(&r);
}
END_TEST

/* Builds a string of `prefix`, `n` copies of `unit`, `middle`, n copies of
 * `close` and `suffix`. */
static char *repeat(const char *prefix, const char *unit, int n, const char *middle, const char *close,
                    const char *suffix) {
  size_t size;
  char *s = NULL;
  FILE *f = open_memstream(&s, &size);
  fputs(prefix, f);
  for (int i = 0; i < n; i++) fputs(unit, f);
  fputs(middle, f);
  for (int i = 0; i < n; i++) fputs(close, f);
  fputs(suffix, f);
  fclose(f);
  return s;
}

/* Deep inputs: each gives exactly one "nested too deeply" error and no crash;
 * where the parser can go on, the statement after it survives. */
static const struct {
  const char *unit;    /* repeated opener */
  const char *middle;  /* innermost text */
  const char *close;   /* repeated closer */
  int keeps_next;      /* the following `loss a` is still parsed */
} deep[] = {
    {"(", "1", ")", 1},     {"[", "1", "]", 1},  {"f(", "1", ")", 1}, {"f(k = ", "1", ")", 1},
    {"(", "", "", 1},       {"1 + ", "1", "", 1}, {"- ", "1", "", 0},  {"2^", "1", "", 0},
};

START_TEST(test_deep_nesting) {
  char *text = repeat("model m\na = ", deep[_i].unit, 100000, deep[_i].middle, deep[_i].close, "\nloss a\n");
  Parsed r = parse(text);
  ck_assert_int_eq(r.nerrors, 1);
  ck_assert_ptr_nonnull(strstr(r.errors, "error: expression nested too deeply\n"));
  ck_assert_ptr_nonnull(r.prog);
  ck_assert_int_eq(r.prog->nstmts, 1 + deep[_i].keeps_next);
  parsed_free(&r);
  free(text);
}
END_TEST

START_TEST(test_nesting_within_limits) {
  /* Realistic depth is untouched by the limits. */
  char *text = repeat("a = ", "relu(", 200, "x", ")", "\n");
  Parsed r = parse(text);
  ck_assert_int_eq(r.nerrors, 0);
  ck_assert_int_eq(r.prog->stmts[0].value->depth, 201);
  parsed_free(&r);
  free(text);
}
END_TEST

START_TEST(test_long_lines) {
  enum { N = 1 << 20 };
  char *text = malloc(N + 32);
  strcpy(text, "s = \"");
  memset(text + 5, 'x', N);
  strcpy(text + 5 + N, "\"\nn = 1");
  Parsed r = parse(text);
  ck_assert_int_eq(r.nerrors, 0);
  ck_assert_int_eq((int)strlen(r.prog->stmts[0].value->str), N);
  parsed_free(&r);
  memset(text, 'y', N);
  strcpy(text + N, " = 1");
  r = parse(text);
  ck_assert_int_eq(r.nerrors, 0);
  parsed_free(&r);
  free(text);
}
END_TEST

/* Deterministic pseudo-random numbers for the mutation test. */
static unsigned next_rand(unsigned long long *state) {
  *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (unsigned)(*state >> 33);
}

/* Writes a statement back as source, so an error-free mutant can be printed
 * and parsed again (the two dumps must agree). */
static void print_stmt(FILE *f, const Stmt *s) {
  static const char *const kw[] = {
      [ST_MODEL] = "model", [ST_INPUT] = "input", [ST_TARGET] = "target", [ST_PARAM] = "param",
      [ST_LET] = "",        [ST_LOSS] = "loss",   [ST_OUTPUT] = "output", [ST_OPTIMIZER] = "optimizer",
      [ST_TRAIN] = "train",
  };
  fprintf(f, "%s", kw[s->kind]);
  if (s->name) fprintf(f, " %s", s->name);
  if (s->type) {
    fputs(" : ", f);
    ast_print_expr(f, s->type);
  }
  if (s->value) {
    fputs(s->kind == ST_PARAM || s->kind == ST_LET ? " = " : " ", f);
    ast_print_expr(f, s->value);
  }
  if (s->kind == ST_TRAIN) {
    fputs(" {\n", f);
    for (int i = 0; i < s->nsettings; i++) {
      fprintf(f, "  %s = ", s->settings[i].name);
      ast_print_expr(f, s->settings[i].value);
      fputc('\n', f);
    }
    fputc('}', f);
  }
  fputc('\n', f);
}

/* Tokens and bytes the mutations insert. */
static const char *const snippets[] = {
    "(", ")", "[", "]", "{", "}", ",", ":", ";", "=", "+", "-", "*", "/", "^", "@", "\n", "\"", "#",
    "model", "input", "train", "loss", "x", "1e", ".5", "1e999", "\\", "\0", "\xff", "$", "f(", "= =",
};

START_TEST(test_mutations) {
  enum { ROUNDS = 3000 };
  unsigned long long state = 12345;
  size_t base = sizeof program_text - 1;
  char *buf = malloc(base * 2 + 256);
  int with_errors = 0, clean = 0;
  for (int round = 0; round < ROUNDS; round++) {
    memcpy(buf, program_text, base);
    size_t len = base;
    int edits = 1 + (int)(next_rand(&state) % 4);
    /* One round in four ends with a broken line inserted after the other
     * edits (so no truncation removes it): that input must get an error. */
    int certain_error = next_rand(&state) % 4 == 0;
    for (int e = 0; e < edits + certain_error; e++) {
      size_t at = next_rand(&state) % (len + 1);
      switch (e == edits ? 4 : next_rand(&state) % 4) {
      case 0: /* byte flip */
        if (len) buf[at % len] ^= (char)(1u << (next_rand(&state) % 8));
        break;
      case 1: /* truncation */
        len = at;
        break;
      case 2: /* deletion of a few bytes */
        if (at < len) {
          size_t n = 1 + next_rand(&state) % 8;
          if (n > len - at) n = len - at;
          memmove(buf + at, buf + at + n, len - at - n);
          len -= n;
        }
        break;
      case 3: { /* insertion of a token or byte */
        size_t k = next_rand(&state) % COUNT_OF(snippets);
        size_t n = snippets[k][0] ? strlen(snippets[k]) : 1; /* "\0" is one byte */
        memmove(buf + at + n, buf + at, len - at);
        memcpy(buf + at, snippets[k], n);
        len += n;
        break;
      }
      default: /* a whole broken line at a line start */
        while (at > 0 && buf[at - 1] != '\n') at--;
        memmove(buf + at + 6, buf + at, len - at);
        memcpy(buf + at, "= = )\n", 6);
        len += 6;
      }
    }
    char *text = malloc(len + 1);
    memcpy(text, buf, len);
    text[len] = '\0';
    Parsed r = parse_len(text, len);
    if (certain_error) ck_assert_msg(r.nerrors > 0, "no error for mutant %d:\n%s", round, text);
    if (!r.prog) ck_assert_int_gt(r.nerrors, 0);
    if (r.nerrors == 0) {
      /* Printing an accepted program and parsing it again changes nothing. */
      char *again = NULL;
      size_t size;
      FILE *f = open_memstream(&again, &size);
      for (int i = 0; i < r.prog->nstmts; i++) print_stmt(f, &r.prog->stmts[i]);
      fclose(f);
      Parsed r2 = parse(again);
      ck_assert_int_eq(r2.nerrors, 0);
      ck_assert_str_eq(r2.dump, r.dump);
      parsed_free(&r2);
      free(again);
      clean++;
    } else {
      with_errors++;
    }
    parsed_free(&r);
    free(text);
  }
  /* Both outcomes must be well represented, or the test checks little. */
  ck_assert_int_gt(with_errors, ROUNDS / 4);
  ck_assert_int_gt(clean, ROUNDS / 20);
  free(buf);
}
END_TEST

Suite *parse_suite(void) {
  Suite *s = suite_create("parse");
  TCase *tc = tcase_create("grammar");
  tcase_add_test(tc, test_every_statement);
  tcase_add_test(tc, test_locations);
  tcase_add_test(tc, test_layout_variants);
  tcase_add_loop_test(tc, test_precedence, 0, (int)COUNT_OF(exprs));
  tcase_add_loop_test(tc, test_print_expr_round_trip, 0, (int)COUNT_OF(exprs));
  suite_add_tcase(s, tc);
  TCase *te = tcase_create("errors");
  tcase_add_loop_test(te, test_error_messages, 0, (int)COUNT_OF(bad));
  tcase_add_test(te, test_recovery_keeps_good_statements);
  suite_add_tcase(s, te);
  TCase *tr = tcase_create("robustness");
  tcase_set_timeout(tr, 120);
  tcase_add_loop_test(tr, test_deep_nesting, 0, (int)COUNT_OF(deep));
  tcase_add_test(tr, test_nesting_within_limits);
  tcase_add_test(tr, test_long_lines);
  tcase_add_test(tr, test_mutations);
  suite_add_tcase(s, tr);
  return s;
}
