/* parse: the Bison grammar of .nn files, building the AST of ast.h.
 *
 * In: tokens from lex.re.  Out: an AstProgram in the caller's arena, plus
 * syntax errors in the Diag.  The parser is pure (no globals): all state is
 * in a Parser passed to yyparse, yylex and the error reporter.
 *
 * Actions only build nodes; names, arities and shapes are sema's business.
 * Errors: the reporter turns Bison's expected-token set and the tokens just
 * read into a sentence ("expected ')' to close '(' opened at 3:14, got ';'").
 * Recovery happens at statement ends (newline or ';'), also inside train { },
 * and a statement gets at most one error, so several mistakes are reported
 * per run but one mistake is reported once:
 *  - no syntax error on top of a lexical one (`quiet`), no lexical errors
 *    after a syntax error (lex_recover mutes the lexer to the statement end);
 *  - after an error the lexer forgets open brackets, so the next newline ends
 *    the broken statement; a line starting with a keyword always starts a
 *    statement, which also closes a train block whose '}' is missing;
 *  - a { } block that belongs to a broken statement is dropped whole.
 * Depth is bounded: brackets by the lexer (LEX_MAX_NESTING), the parser stack
 * by YYMAXDEPTH, and each statement's trees by AST_MAX_DEPTH.
 */
%define api.pure full
%define api.token.prefix {TK_}
%define api.value.type union
%define api.location.type {Loc}
%define api.header.include {"parse.h"}
%define parse.error custom
%define parse.lac full
%locations
%param {Parser *p}

%code requires {
#include "ast.h"
#include "token.h"

typedef struct Parser Parser;

/* A list being built by left-recursive rules: arguments, list items, settings. */
typedef struct SeqCell {
  AstArg arg;               /* one element (name NULL for items and positional args) */
  struct SeqCell *next;     /* the element after it */
} SeqCell;
typedef struct {
  SeqCell *head;            /* first element, NULL when empty */
  SeqCell *tail;            /* last element, for appending */
  int n;                    /* number of elements */
} Seq;
}

%code {
#include <string.h>

struct Parser {
  Lexer lx;                 /* the token source */
  Arena *arena;             /* where the AST goes */
  Diag *diag;               /* where errors go */
  Token tok;                /* the token most recently handed to Bison (the lookahead) */
  Token prev;               /* the token before it */
  Token prev2;              /* and the one before that */
  int quiet;                /* no syntax errors for this statement: it had a lexical error, or it is
                               the late '}' of a block closed by close_block */
  int skip_block;           /* an error struck at a '{': drop the whole { } block */
  int recovering;           /* after a syntax error, until the statement's end */
  int in_block;             /* between train's '{' and its '}' */
  Loc block_loc;            /* the 'train' keyword of the open block */
  int forced_close;         /* a train block was closed by close_block: its '}' may still come */
  Token replay[3];          /* tokens to hand out before lexing more, last first */
  int nreplay;              /* tokens in replay */
  Vec stmts;                /* Stmt * parsed so far */
  int misused_keyword;      /* a keyword written as a value's name (`output = ...`): its later uses as a
                               value are that same mistake, not new errors */
};

/* Locations are points: a rule's location is its first symbol's. */
#define YYLLOC_DEFAULT(Cur, Rhs, N) \
  do { (Cur) = (N) ? YYRHSLOC(Rhs, 1) : YYRHSLOC(Rhs, 0); } while (0)

static int yylex(YYSTYPE *val, Loc *loc, Parser *p);
static void yyerror(const Loc *loc, Parser *p, const char *msg);

static Stmt *new_stmt(Parser *p, StmtKind kind, Loc loc, const char *name, Loc name_loc) {
  Stmt *s = NEW(p->arena, Stmt);
  *s = (Stmt){.kind = kind, .loc = loc, .name = name, .name_loc = name_loc};
  return s;
}

static AstArg arg(const char *name, Loc loc, AstNode *value) { return (AstArg){name, loc, value}; }

static Seq seq_push(Parser *p, Seq s, AstArg a) {
  SeqCell *c = NEW(p->arena, SeqCell);
  c->arg = a;
  if (s.tail) s.tail->next = c; else s.head = c;
  s.tail = c;
  s.n++;
  return s;
}

static Seq seq_cat(Seq a, Seq b) {
  if (!a.head) return b;
  a.tail->next = b.head;
  a.tail = b.tail;
  a.n += b.n;
  return a;
}

static AstArg *seq_args(Parser *p, Seq s) {
  AstArg *v = NEW_ARRAY(p->arena, AstArg, s.n);
  int i = 0;
  for (SeqCell *c = s.head; c; c = c->next) v[i++] = c->arg;
  return v;
}

static AstNode **seq_items(Parser *p, Seq s) {
  AstNode **v = NEW_ARRAY(p->arena, AstNode *, s.n);
  int i = 0;
  for (SeqCell *c = s.head; c; c = c->next) v[i++] = c->arg.value;
  return v;
}

/* Keeps a finished statement unless one of its trees is too deep for the
 * recursive walkers of later stages. */
static void add_stmt(Parser *p, Stmt *s) {
  AstNode *trees[] = {s->type, s->value};
  for (size_t i = 0; i < COUNT_OF(trees); i++)
    if (trees[i] && trees[i]->depth > AST_MAX_DEPTH) {
      diag_error(p->diag, s->loc, "expression nested too deeply");
      return;
    }
  for (int i = 0; i < s->nsettings; i++)
    if (s->settings[i].value->depth > AST_MAX_DEPTH) {
      diag_error(p->diag, s->settings[i].loc, "expression nested too deeply");
      return;
    }
  vec_push(&p->stmts, s);
}
}

%token <double> NUMBER "number"
%token <const char *> NAME "name"
%token <const char *> STRING "string"
%token MODEL "'model'" INPUT "'input'" TARGET "'target'" PARAM "'param'"
%token LOSS "'loss'" OUTPUT "'output'" OPTIMIZER "'optimizer'" TRAIN "'train'"
%token NEWLINE "end of line"
%token TOODEEP "too deeply nested bracket"

%nterm <Stmt *> stmt
%nterm <AstNode *> type opt_type opt_init expr term unary power primary call list
%nterm <Seq> settings items args pos_args named_args
%nterm <AstArg> setting named

%%

program:
  %empty
| program end
| program stmt end          { add_stmt(p, $2); }
| program error end        { yyerrok; }
;

end: NEWLINE | ';' ;

stmt:
  MODEL NAME                { $$ = new_stmt(p, ST_MODEL, @1, $2, @2); }
| INPUT NAME ':' type       { $$ = new_stmt(p, ST_INPUT, @1, $2, @2); $$->type = $4; }
| TARGET NAME ':' type      { $$ = new_stmt(p, ST_TARGET, @1, $2, @2); $$->type = $4; }
| PARAM NAME opt_type opt_init {
    $$ = new_stmt(p, ST_PARAM, @1, $2, @2);
    $$->type = $3;
    $$->value = $4;
  }
| NAME '=' expr             { $$ = new_stmt(p, ST_LET, @1, $1, @1); $$->value = $3; }
| LOSS expr                 { $$ = new_stmt(p, ST_LOSS, @1, NULL, (Loc){0}); $$->value = $2; }
| OUTPUT NAME               { $$ = new_stmt(p, ST_OUTPUT, @1, $2, @2); }
| OPTIMIZER call            { $$ = new_stmt(p, ST_OPTIMIZER, @1, NULL, (Loc){0}); $$->value = $2; }
| train_open '{' settings '}' {
    $$ = new_stmt(p, ST_TRAIN, @1, NULL, (Loc){0});
    $$->settings = seq_args(p, $3);
    $$->nsettings = $3.n;
  }
| train_open '{' settings setting '}' {
    Seq all = seq_push(p, $3, $4);
    $$ = new_stmt(p, ST_TRAIN, @1, NULL, (Loc){0});
    $$->settings = seq_args(p, all);
    $$->nsettings = all.n;
  }
| train_open '{' settings error '}' {
    $$ = new_stmt(p, ST_TRAIN, @1, NULL, (Loc){0});
    $$->settings = seq_args(p, $3);
    $$->nsettings = $3.n;
  }
;

/* The block's '{' may also start the next line. */
train_open: TRAIN | TRAIN NEWLINE ;

/* A shape [784] or a type such as class(10). */
type: list | call ;

opt_type: %empty { $$ = NULL; } | ':' type { $$ = $2; } ;
opt_init: %empty { $$ = NULL; } | '=' expr { $$ = $2; } ;

/* The train block: one `key = value` per line (or per ';'). */
settings:
  %empty                    { $$ = (Seq){0}; }
| settings end
| settings setting end      { $$ = seq_push(p, $1, $2); }
| settings error end       { yyerrok; }
;

setting: NAME '=' expr      { $$ = arg($1, @1, $3); } ;

/* Precedence, loosest first: + -, then * / @, then unary minus, then ^
 * (right-associative, and its exponent may be negated: 2^-1, a^-b^c). */
expr:
  term
| expr '+' term             { $$ = ast_binary(p->arena, @2, '+', $1, $3); }
| expr '-' term             { $$ = ast_binary(p->arena, @2, '-', $1, $3); }
;

term:
  unary
| term '*' unary            { $$ = ast_binary(p->arena, @2, '*', $1, $3); }
| term '/' unary            { $$ = ast_binary(p->arena, @2, '/', $1, $3); }
| term '@' unary            { $$ = ast_binary(p->arena, @2, '@', $1, $3); }
;

unary:
  power
| '-' unary                 { $$ = ast_neg(p->arena, @1, $2); }
;

power:
  primary
| primary '^' unary         { $$ = ast_binary(p->arena, @2, '^', $1, $3); }
;

primary:
  NUMBER                    { $$ = ast_num(p->arena, @1, $1); }
| STRING                    { $$ = ast_str(p->arena, @1, $1); }
| NAME                      { $$ = ast_name(p->arena, @1, $1); }
| call
| list
| '(' expr ')'              { $$ = $2; }
;

call:
  NAME '(' ')'              { $$ = ast_call(p->arena, @1, $1, NULL, 0); }
| NAME '(' args ')'         { $$ = ast_call(p->arena, @1, $1, seq_args(p, $3), $3.n); }
;

list:
  '[' ']'                   { $$ = ast_list(p->arena, @1, NULL, 0); }
| '[' items ']'             { $$ = ast_list(p->arena, @1, seq_items(p, $2), $2.n); }
;

items:
  expr                      { $$ = seq_push(p, (Seq){0}, arg(NULL, @1, $1)); }
| items ',' expr            { $$ = seq_push(p, $1, arg(NULL, @3, $3)); }
;

/* Positional arguments first, then named ones. */
args:
  pos_args
| named_args
| pos_args ',' named_args   { $$ = seq_cat($1, $3); }
;

pos_args:
  expr                      { $$ = seq_push(p, (Seq){0}, arg(NULL, @1, $1)); }
| pos_args ',' expr         { $$ = seq_push(p, $1, arg(NULL, @3, $3)); }
;

named_args:
  named                     { $$ = seq_push(p, (Seq){0}, $1); }
| named_args ',' named      { $$ = seq_push(p, $1, $3); }
;

named: NAME '=' expr        { $$ = arg($1, @1, $3); } ;

%%

static int is_end(int kind) { return kind == 0 || kind == TK_NEWLINE || kind == ';'; }

/* Drops a { } block that belongs to a broken statement (its settings would
 * each look like a statement, its '}' like a stray), up to the matching '}'
 * or to a line starting with a statement keyword (then the '}' is missing and
 * the keyword is kept).  Returns the kind of the token after it, in p->tok. */
static int drop_block(Parser *p) {
  int open = 1, kind;
  Token last = p->tok;
  p->skip_block = 0;
  for (;;) {
    p->lx.mute = 1;
    kind = lex_next(&p->lx, &p->tok);
    if (kind == TK_YYEOF) return kind;
    if (kind == '{') open++;
    if (kind == '}' && --open == 0) break;
    if (lex_keyword_text(kind) && last.kind == TK_NEWLINE) {
      p->replay[p->nreplay++] = p->tok;
      p->tok = last;
      return TK_NEWLINE;
    }
    last = p->tok;
  }
  p->lx.mute = 0;
  return lex_next(&p->lx, &p->tok);
}

/* Hands the next token to Bison, keeping the context the error reporter
 * needs: the two tokens before it and whether a train block is open. */
static int yylex(YYSTYPE *val, Loc *loc, Parser *p) {
  if (is_end(p->tok.kind)) p->quiet = 0;
  p->prev2 = p->prev;
  p->prev = p->tok;
  int kind;
  if (p->nreplay > 0) {
    p->tok = p->replay[--p->nreplay];
    kind = p->tok.kind;
  } else {
    int errors = diag_errors(p->diag);
    if (p->skip_block) {
      kind = drop_block(p);
    } else {
      kind = lex_next(&p->lx, &p->tok);
      if (p->recovering && kind == '{' && !p->in_block) kind = drop_block(p);
    }
    if (diag_errors(p->diag) > errors) p->quiet = 1;
  }
  if (is_end(kind)) p->recovering = 0;
  if (kind == '{' && (p->prev.kind == TK_TRAIN || (p->prev.kind == TK_NEWLINE && p->prev2.kind == TK_TRAIN))) {
    p->in_block = 1;
    p->block_loc = p->prev.kind == TK_TRAIN ? p->prev.loc : p->prev2.loc;
  } else if (kind == '}') {
    p->in_block = 0;
  }
  *loc = p->tok.loc;
  if (kind == TK_NUMBER) val->TK_NUMBER = p->tok.num;
  if (kind == TK_NAME) val->TK_NAME = p->tok.str;
  if (kind == TK_STRING) val->TK_STRING = p->tok.str;
  return kind;
}

/* With parse.error custom, Bison calls yyerror only when its stack is full
 * ("memory exhausted"), which takes thousands of pending operators such as
 * - - - ... or 2^2^2^...; parsing stops there. */
static void yyerror(const Loc *loc, Parser *p, const char *msg) {
  (void)msg;
  diag_error(p->diag, *loc, "expression nested too deeply");
}

/* How the error message names the token it stopped at. */
static const char *describe(Parser *p, const Token *t) {
  enum { SHOW = 32 };
  switch (t->kind) {
  case TK_YYEOF: return "end of file";
  case TK_NEWLINE: return t->synthetic ? "end of file" : "end of line";
  case TK_STRING: return "a string";
  default:
    if (t->len > SHOW) return arena_printf(p->arena, "'%.*s...'", SHOW, t->text);
    return arena_printf(p->arena, "'%.*s'", (int)t->len, t->text);
  }
}

/* Is token `kind` (a TK_ value or a character) among the n expected symbols? */
static int has(const yysymbol_kind_t *exp, int n, int kind) {
  for (int i = 0; i < n; i++)
    if (exp[i] == YYTRANSLATE(kind)) return 1;
  return 0;
}

/* A statement keyword starting a line inside a train block means its '}' is
 * missing: after the error, the parser is handed a made-up '}' and end of
 * line, and then the keyword again, so the statement it starts is parsed as
 * usual.  If a '}' does come later, it is dropped without a second error. */
static void close_block(Parser *p) {
  Token t = {.loc = p->tok.loc};
  p->replay[0] = p->tok;
  t.kind = TK_NEWLINE;
  p->replay[1] = t;
  t.kind = '}';
  p->replay[2] = t;
  p->nreplay = 3;
  p->forced_close = 1;
  p->lx.mute = 0;
}

/* The statement keyword a misspelled name was probably meant to be: a close
 * one by edit distance, or one that differs by two swapped neighbours
 * (inptu -> input), which Levenshtein distance counts as two edits. */
static const char *keyword_guess(Parser *p, const char *name) {
  enum { LONGEST = 16 };   /* no keyword is within a third of the length of a longer name */
  if (strlen(name) > LONGEST) return NULL;
  const char *words[16];
  int nwords = 0;
  for (int k = 0; k < lex_nkeywords && nwords < (int)COUNT_OF(words); k++) words[nwords++] = lex_keywords[k].text;
  const char *guess = closest_name(name, words, nwords);
  size_t n = strlen(name);
  char *swapped = arena_strdup(p->arena, name);
  for (size_t i = 0; !guess && i + 1 < n; i++) {
    swapped[i] = name[i + 1];
    swapped[i + 1] = name[i];
    for (int k = 0; k < nwords; k++)
      if (strcmp(swapped, words[k]) == 0) guess = words[k];
    swapped[i] = name[i];
    swapped[i + 1] = name[i + 1];
  }
  return guess;
}

/* "expected ')' to close '(' opened at 3:14", or NULL when the expected set
 * is not about closing a bracket. */
static const char *closing(Parser *p, const yysymbol_kind_t *exp, int n) {
  if (has(exp, n, TK_NUMBER)) return NULL;
  char want = has(exp, n, ')') ? ')' : has(exp, n, ']') ? ']' : 0;
  if (!want) return NULL;
  LexBracket open = p->tok.opener;
  if (!open.c && p->lx.depth > 0) open = p->lx.open[p->lx.depth - 1];
  const char *comma = has(exp, n, ',') ? "',' or " : "";
  if (open.c != (want == ')' ? '(' : '['))
    return arena_printf(p->arena, "expected %s'%c'", comma, want);
  return arena_printf(p->arena, "expected %s'%c' to close '%c' opened at %d:%d", comma, want, open.c,
                      open.loc.line, open.loc.col);
}

/* The message for an error at the lookahead p->tok, in words, and where it
 * points (*at).  *with_got says whether to append ", got TOKEN". */
static const char *expectation(Parser *p, const yysymbol_kind_t *exp, int n, int *with_got, Loc *at) {
  const Token *prev = &p->prev;
  const char *close = closing(p, exp, n);
  int la = p->tok.kind;
  *with_got = 1;
  *at = p->tok.loc;
  if ((la == ')' || la == ']') && !p->tok.opener.c && !has(exp, n, la) && !has(exp, n, TK_NUMBER)) {
    *with_got = 0;
    return la == ')' ? "unmatched ')'" : "unmatched ']'";
  }
  if (p->in_block && (la == TK_YYEOF || (lex_keyword_text(la) && is_end(prev->kind))))
    return arena_printf(p->arena, "expected '}' to close 'train' block opened at %d:%d", p->block_loc.line,
                        p->block_loc.col);
  if (close) return close;
  if (la == '=' && (prev->kind == TK_LOSS || prev->kind == TK_OPTIMIZER)) {
    *with_got = 0;
    return arena_printf(p->arena, "'%s' takes no '=': drop it (`%s %s`)", lex_keyword_text(prev->kind),
                        lex_keyword_text(prev->kind),
                        prev->kind == TK_LOSS ? "cross_entropy(logits, y)" : "adam(lr = 0.001)");
  }
  if (la == '=' && lex_keyword_text(prev->kind) && is_end(p->prev2.kind)) {
    *with_got = 0;
    *at = prev->loc;
    p->misused_keyword = prev->kind;
    const char *all = "";
    for (int k = 0; k < lex_nkeywords; k++) all = arena_printf(p->arena, "%s%s%s", all, k ? " " : "", lex_keywords[k].text);
    return arena_printf(p->arena, "'%s' is a keyword and cannot name a value; choose another name (keywords: %s)",
                        lex_keyword_text(prev->kind), all);
  }
  if (la == '*' && prev->kind == '*') {
    *with_got = 0;
    return "'**' is not an operator: powers are written with '^' (a^2)";
  }
  if (has(exp, n, TK_NUMBER) && lex_keyword_text(la)) {
    *with_got = 0;
    return arena_printf(p->arena, "expected an expression, got '%s', a keyword, which cannot name a value",
                        lex_keyword_text(la));
  }
  if (has(exp, n, TK_NUMBER)) {
    if (has(exp, n, ')')) return "expected an expression or ')'";
    if (has(exp, n, ']')) return "expected an expression or ']'";
    return "expected an expression";
  }
  if (n == 1 && has(exp, n, '=') && prev->kind == TK_NAME) {
    if (p->prev2.kind == ',')
      return arena_printf(p->arena, "expected '=' after '%s' (positional arguments come before named ones)",
                          prev->str);
    if (p->in_block) return arena_printf(p->arena, "expected '=' after setting name '%s'", prev->str);
    const char *guess = keyword_guess(p, prev->str);
    *with_got = 0;
    *at = prev->loc;
    if (guess) return arena_printf(p->arena, "unknown statement '%s'; did you mean '%s'?", prev->str, guess);
    return arena_printf(p->arena, "expected '=' or a statement keyword after '%s'", prev->str);
  }
  if (has(exp, n, TK_NAME) && prev->kind == TK_OPTIMIZER)
    return "expected an optimizer call such as adam(lr = 0.001) after 'optimizer'";
  if (has(exp, n, TK_NAME) && lex_keyword_text(prev->kind))
    return arena_printf(p->arena, "expected a name after '%s'", lex_keyword_text(prev->kind));
  if (n == 1 && has(exp, n, TK_NAME) && prev->kind == ',')
    return "expected a named argument (name = value) after named arguments";
  if (has(exp, n, TK_NAME) && has(exp, n, '}'))
    return "expected a setting (name = value) or '}'";
  if (prev->kind == TK_NAME && has(exp, n, ':')) {
    switch (p->prev2.kind) {
    case TK_INPUT: return "expected ':' and a shape after input name";
    case TK_TARGET: return "expected ':' and a shape or class(N) after target name";
    default: return "expected ':' and a shape, '=' and a value, or end of line after param name";
    }
  }
  if (prev->kind == ':') return "expected a shape such as [784] or a type such as class(10) after ':'";
  if (has(exp, n, '{')) return "expected '{' after 'train'";
  if (n == 1 && has(exp, n, '('))
    return arena_printf(p->arena, "expected '(' and arguments after '%s'", prev->str ? prev->str : "");
  if (has(exp, n, TK_MODEL)) return "expected a statement";
  if (has(exp, n, TK_NEWLINE))
    return has(exp, n, '+') ? "expected an operator or end of line" : "expected end of line";
  const char *msg = "expected";
  for (int i = 0; i < n; i++)
    msg = arena_printf(p->arena, "%s%s %s", msg, i == 0 ? "" : i + 1 == n ? " or" : ",", yysymbol_name(exp[i]));
  return msg;
}

static int yyreport_syntax_error(const yypcontext_t *ctx, Parser *p) {
  int la = p->tok.kind;
  if (la == '}' && p->forced_close && is_end(p->prev.kind)) {
    p->forced_close = 0;
    p->quiet = 1;
  }
  if (la == p->misused_keyword && la) p->quiet = 1;   /* reported where it was defined */
  if (!p->quiet && la == TK_TOODEEP) {
    diag_error(p->diag, p->tok.loc, "expression nested too deeply");
  } else if (!p->quiet) {
    yysymbol_kind_t exp[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, exp, YYNTOKENS);
    int with_got;
    Loc at;
    const char *msg = expectation(p, exp, n < 0 ? 0 : n, &with_got, &at);
    if (with_got)
      diag_error(p->diag, at, "%s, got %s", msg, describe(p, &p->tok));
    else
      diag_error(p->diag, at, "%s", msg);
  }
  lex_recover(&p->lx);
  p->recovering = !is_end(la);
  if (la == '{' && !p->in_block) p->skip_block = 1;
  if (p->in_block && lex_keyword_text(la) && is_end(p->prev.kind)) close_block(p);
  return 0;
}

AstProgram *parse_program(const Source *src, Arena *a, Diag *d) {
  Parser p = {.arena = a, .diag = d};
  int errors = diag_errors(d);
  lex_init(&p.lx, src, a, d);
  yyparse(&p);
  AstProgram *prog = NULL;
  if (p.stmts.len > 0 || diag_errors(d) == errors) {
    prog = NEW(a, AstProgram);
    prog->file = src->name;
    prog->nstmts = p.stmts.len;
    prog->stmts = NEW_ARRAY(a, Stmt, p.stmts.len);
    for (int i = 0; i < p.stmts.len; i++) prog->stmts[i] = *(Stmt *)p.stmts.items[i];
  }
  vec_free(&p.stmts);
  return prog;
}
