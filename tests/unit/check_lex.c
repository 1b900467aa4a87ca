/* check_lex: the re2c lexer on its own.
 *
 * Every token kind with its line and column, the newline rules (dropped inside
 * brackets, collapsed, made up at end of file), values of numbers and strings,
 * and every lexical error: its exact message, and that lexing goes on after it.
 */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"
#include "parse.h"

/* Lexes `text` (file name "t.nn") into at most COUNT_OF(toks) tokens, ending
 * with TK_YYEOF; diagnostics are captured in `errors`. */
typedef struct {
  Source src;       /* the text */
  Arena *arena;     /* token strings */
  Token toks[64];   /* the tokens, TK_YYEOF last */
  int n;            /* tokens in toks */
  char *errors;     /* everything the Diag printed */
  int nerrors;      /* diag_errors() after lexing */
} Lexed;

static Lexed *lex_all(const char *text, size_t len) {
  Lexed *l = calloc(1, sizeof *l);
  l->src = (Source){"t.nn", text, len};
  l->arena = arena_new();
  size_t size;
  FILE *out = open_memstream(&l->errors, &size);
  Diag d;
  diag_init(&d, out, &l->src);
  Lexer lx;
  lex_init(&lx, &l->src, l->arena, &d);
  while (l->n < (int)COUNT_OF(l->toks) && lex_next(&lx, &l->toks[l->n++]) != TK_YYEOF) continue;
  l->nerrors = diag_errors(&d);
  fclose(out);
  return l;
}

static Lexed *lex_str(const char *text) { return lex_all(text, strlen(text)); }

static void lexed_free(Lexed *l) {
  arena_free(l->arena);
  free(l->errors);
  free(l);
}

/* One expected token: kind, line, column. */
typedef struct {
  int kind;   /* TK_ value or character */
  int line;   /* 1-based */
  int col;    /* 1-based */
} Want;

static void expect_tokens(const Lexed *l, const Want *want, int n) {
  ck_assert_int_eq(l->n, n);
  for (int i = 0; i < n; i++) {
    ck_assert_msg(l->toks[i].kind == want[i].kind, "token %d: kind %d, want %d", i, l->toks[i].kind,
                  want[i].kind);
    ck_assert_msg(l->toks[i].loc.line == want[i].line && l->toks[i].loc.col == want[i].col,
                  "token %d at %d:%d, want %d:%d", i, l->toks[i].loc.line, l->toks[i].loc.col, want[i].line,
                  want[i].col);
    ck_assert_str_eq(l->toks[i].loc.file, "t.nn");
  }
}

START_TEST(test_every_token_kind) {
  Lexed *l = lex_str("model input target param loss output optimizer train\n"
                     "  foo _x9 1 0.5 .5 1e-3 2.5E+4 \"s\" 1.\n"
                     "( ) [ ] { } , : ; = + - * / ^ @ # comment ( [\n"
                     "models");
  static const Want want[] = {
      {TK_MODEL, 1, 1},  {TK_INPUT, 1, 7},  {TK_TARGET, 1, 13},    {TK_PARAM, 1, 20},  {TK_LOSS, 1, 26},
      {TK_OUTPUT, 1, 31}, {TK_OPTIMIZER, 1, 38}, {TK_TRAIN, 1, 48}, {TK_NEWLINE, 1, 53},
      {TK_NAME, 2, 3},   {TK_NAME, 2, 7},   {TK_NUMBER, 2, 11},    {TK_NUMBER, 2, 13}, {TK_NUMBER, 2, 17},
      {TK_NUMBER, 2, 20}, {TK_NUMBER, 2, 25}, {TK_STRING, 2, 32},  {TK_NUMBER, 2, 36}, {TK_NEWLINE, 2, 38},
      {'(', 3, 1},  {')', 3, 3},  {'[', 3, 5},  {']', 3, 7},  {'{', 3, 9},  {'}', 3, 11}, {',', 3, 13},
      {':', 3, 15}, {';', 3, 17}, {'=', 3, 19}, {'+', 3, 21}, {'-', 3, 23}, {'*', 3, 25}, {'/', 3, 27},
      {'^', 3, 29}, {'@', 3, 31}, {TK_NEWLINE, 3, 46},
      {TK_NAME, 4, 1},   {TK_NEWLINE, 4, 7}, {TK_YYEOF, 4, 7},
  };
  expect_tokens(l, want, COUNT_OF(want));
  ck_assert_str_eq(l->toks[9].str, "foo");
  ck_assert_str_eq(l->toks[10].str, "_x9");
  static const double nums[] = {1, 0.5, 0.5, 1e-3, 2.5e4};
  for (int i = 0; i < 5; i++) ck_assert_double_eq(l->toks[11 + i].num, nums[i]);
  ck_assert_str_eq(l->toks[16].str, "s");
  ck_assert_double_eq(l->toks[17].num, 1);
  ck_assert_str_eq(l->toks[36].str, "models");
  ck_assert_int_eq(l->toks[37].synthetic, 1);
  ck_assert_int_eq(l->nerrors, 0);
  lexed_free(l);
}
END_TEST

START_TEST(test_newlines_inside_brackets) {
  /* Newlines end statements only outside ( ) and [ ]; runs of them, blank
   * lines and comment lines collapse into one token. */
  Lexed *l = lex_str("a = f(1,\n  [2,\n 3])\n\n  # note\n\n\nb\n");
  static const Want want[] = {
      {TK_NAME, 1, 1}, {'=', 1, 3}, {TK_NAME, 1, 5}, {'(', 1, 6}, {TK_NUMBER, 1, 7}, {',', 1, 8},
      {'[', 2, 3},     {TK_NUMBER, 2, 4}, {',', 2, 5}, {TK_NUMBER, 3, 2}, {']', 3, 3}, {')', 3, 4},
      {TK_NEWLINE, 3, 5}, {TK_NAME, 8, 1}, {TK_NEWLINE, 8, 2}, {TK_YYEOF, 8, 2},
  };
  expect_tokens(l, want, COUNT_OF(want));
  ck_assert_int_eq(l->toks[14].synthetic, 0);
  lexed_free(l);
}
END_TEST

START_TEST(test_empty_and_blank_files) {
  static const char *const texts[] = {"", "\n\n", "# only a comment", "  \t\r\n# c\n"};
  for (size_t i = 0; i < COUNT_OF(texts); i++) {
    Lexed *l = lex_str(texts[i]);
    ck_assert_int_eq(l->n, 1);
    ck_assert_int_eq(l->toks[0].kind, TK_YYEOF);
    ck_assert_int_eq(l->nerrors, 0);
    lexed_free(l);
  }
}
END_TEST

START_TEST(test_crlf_and_tabs) {
  Lexed *l = lex_str("a\t= 1\r\nb = 2\r\n");
  static const Want want[] = {
      {TK_NAME, 1, 1}, {'=', 1, 3}, {TK_NUMBER, 1, 5}, {TK_NEWLINE, 1, 7},
      {TK_NAME, 2, 1}, {'=', 2, 3}, {TK_NUMBER, 2, 5}, {TK_NEWLINE, 2, 7}, {TK_YYEOF, 2, 7},
  };
  expect_tokens(l, want, COUNT_OF(want));
  lexed_free(l);
}
END_TEST

START_TEST(test_string_escapes) {
  Lexed *l = lex_str("\"a\\\"b\\\\c\\nd\\te/\xc3\xa9\"");
  ck_assert_int_eq(l->toks[0].kind, TK_STRING);
  ck_assert_str_eq(l->toks[0].str, "a\"b\\c\nd\te/\xc3\xa9");
  ck_assert_int_eq(l->nerrors, 0);
  lexed_free(l);
}
END_TEST

/* One lexical error case: input, the exact diagnostics, and the token kinds
 * that must still come out (lexing goes on after the error). */
typedef struct {
  const char *text;     /* input */
  size_t len;           /* bytes (inputs may hold NUL) */
  const char *errors;   /* exact Diag output */
  int kinds[8];         /* token kinds, ending with TK_YYEOF (0) */
} ErrorCase;

#define CASE(s) s, sizeof(s) - 1

static const ErrorCase error_cases[] = {
    {CASE("a = 3 $ 4\n"),
     "t.nn:1:7: error: unexpected character '$'\n    1 | a = 3 $ 4\n      |       ^\n",
     {TK_NAME, '=', TK_NUMBER, TK_NUMBER, TK_NEWLINE, TK_YYEOF}},
    {CASE("x\r\x01\x7f y"),
     "t.nn:1:3: error: unexpected character '\\x01\\x7f'\n    1 | x\r\x01\x7f y\n      |   ^\n",
     {TK_NAME, TK_NAME, TK_NEWLINE, TK_YYEOF}},
    {CASE("x\0y"),
     "t.nn:1:2: error: unexpected character '\\x00'\n    1 | x\n      |  ^\n",
     {TK_NAME, TK_NAME, TK_NEWLINE, TK_YYEOF}},
    {CASE("a = \xce\xbb . 1"),
     "t.nn:1:5: error: unexpected character '\\xce\\xbb'\n    1 | a = \xce\xbb . 1\n      |     ^\n"
     "t.nn:1:8: error: unexpected character '.'\n    1 | a = \xce\xbb . 1\n      |        ^\n",
     {TK_NAME, '=', TK_NUMBER, TK_NEWLINE, TK_YYEOF}},
    {CASE("s = \"abc"),
     "t.nn:1:5: error: unterminated string (missing closing '\"' before end of file)\n"
     "    1 | s = \"abc\n      |     ^\n",
     {TK_NAME, '=', TK_STRING, TK_NEWLINE, TK_YYEOF}},
    {CASE("s = \"ab\nt"),
     "t.nn:1:8: error: newline in string (missing closing '\"')\n    1 | s = \"ab\n      |        ^\n",
     {TK_NAME, '=', TK_STRING, TK_NEWLINE, TK_NAME, TK_NEWLINE, TK_YYEOF}},
    {CASE("\"a\\qb\""),
     "t.nn:1:3: error: unknown escape sequence '\\q' in string\n    1 | \"a\\qb\"\n      |   ^\n",
     {TK_STRING, TK_NEWLINE, TK_YYEOF}},
    {CASE("n = 1e999"),
     "t.nn:1:5: error: number too large: 1e999\n    1 | n = 1e999\n      |     ^\n",
     {TK_NAME, '=', TK_NUMBER, TK_NEWLINE, TK_YYEOF}},
    {CASE("n = 2.5e+ x"),
     "t.nn:1:5: error: malformed number: exponent has no digits\n    1 | n = 2.5e+ x\n      |     ^\n",
     {TK_NAME, '=', TK_NUMBER, TK_NAME, TK_NEWLINE, TK_YYEOF}},
    {CASE("# comment \0 \xff at end"), "", {TK_YYEOF}},
};

START_TEST(test_lex_errors) {
  const ErrorCase *c = &error_cases[_i];
  Lexed *l = lex_all(c->text, c->len);
  ck_assert_str_eq(l->errors, c->errors);
  int n = 0;
  while (c->kinds[n] != TK_YYEOF) n++;
  ck_assert_int_eq(l->n, n + 1);
  for (int i = 0; i <= n; i++) ck_assert_int_eq(l->toks[i].kind, c->kinds[i]);
  lexed_free(l);
}
END_TEST

START_TEST(test_unclosed_bracket_ends_at_keyword) {
  /* A statement keyword cannot be inside brackets, so a line starting with
   * one ends the statement, and the newline remembers the open bracket. */
  Lexed *l = lex_str("h = f(x,\n  loss h\n");
  static const Want want[] = {
      {TK_NAME, 1, 1}, {'=', 1, 3}, {TK_NAME, 1, 5}, {'(', 1, 6}, {TK_NAME, 1, 7}, {',', 1, 8},
      {TK_NEWLINE, 1, 9}, {TK_LOSS, 2, 3}, {TK_NAME, 2, 8}, {TK_NEWLINE, 2, 9}, {TK_YYEOF, 2, 9},
  };
  expect_tokens(l, want, COUNT_OF(want));
  ck_assert_int_eq(l->toks[6].opener.c, '(');
  ck_assert_int_eq(l->toks[6].opener.loc.col, 6);
  lexed_free(l);
}
END_TEST

START_TEST(test_closers_remember_openers) {
  Lexed *l = lex_str("([)]\n)");
  ck_assert_int_eq(l->toks[2].opener.c, '[');
  ck_assert_int_eq(l->toks[2].opener.loc.col, 2);
  ck_assert_int_eq(l->toks[3].opener.c, '(');
  ck_assert_int_eq(l->toks[5].kind, ')');
  ck_assert_int_eq(l->toks[5].opener.c, 0);
  lexed_free(l);
}
END_TEST

START_TEST(test_nesting_limit) {
  enum { N = LEX_MAX_NESTING + 1 };
  char text[N + 1];
  memset(text, '(', N);
  text[N] = '\0';
  Source src = {"t.nn", text, N};
  Arena *a = arena_new();
  Diag d;
  diag_init(&d, stderr, &src);
  Lexer lx;
  lex_init(&lx, &src, a, &d);
  Token t;
  for (int i = 0; i < LEX_MAX_NESTING; i++) ck_assert_int_eq(lex_next(&lx, &t), '(');
  ck_assert_int_eq(lex_next(&lx, &t), TK_TOODEEP);
  ck_assert_int_eq(t.loc.col, N);
  ck_assert_int_eq(lex_next(&lx, &t), TK_NEWLINE);
  ck_assert_int_eq(lex_next(&lx, &t), TK_YYEOF);
  ck_assert_int_eq(lex_next(&lx, &t), TK_YYEOF);
  arena_free(a);
}
END_TEST

Suite *lex_suite(void) {
  Suite *s = suite_create("lex");
  TCase *tc = tcase_create("tokens");
  tcase_add_test(tc, test_every_token_kind);
  tcase_add_test(tc, test_newlines_inside_brackets);
  tcase_add_test(tc, test_empty_and_blank_files);
  tcase_add_test(tc, test_crlf_and_tabs);
  tcase_add_test(tc, test_string_escapes);
  tcase_add_test(tc, test_unclosed_bracket_ends_at_keyword);
  tcase_add_test(tc, test_closers_remember_openers);
  tcase_add_test(tc, test_nesting_limit);
  suite_add_tcase(s, tc);
  TCase *te = tcase_create("errors");
  tcase_add_loop_test(te, test_lex_errors, 0, (int)COUNT_OF(error_cases));
  suite_add_tcase(s, te);
  return s;
}
