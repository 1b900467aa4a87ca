/* token: the lexer's interface: lex_next turns a Source into tokens for the parser (compiler/lex.re).
 *
 * In: a NUL-terminated Source.  Out: one Token per lex_next call, its kind a
 * TK_ value from the generated parse.h (or a punctuation character such as
 * '(' or ':'), TK_YYEOF at the end, forever after.
 *
 * Invariants and decisions:
 *  - No globals: all state is in the Lexer, so several files can be lexed at once.
 *  - Statements end at newlines, except inside ( ) and [ ]: the lexer keeps the
 *    stack of open brackets and drops newlines while it is not empty.  Runs of
 *    newlines come out as one TK_NEWLINE, and the input always ends with one
 *    before TK_YYEOF unless the last token already ended a statement.
 *  - Bad input is reported through the Diag (unexpected characters, bad
 *    strings and numbers) and then skipped or repaired, so the parser always
 *    sees a well-formed token stream and lexing never stops early.
 *  - Reads never go past src->text[src->len] (the NUL sentinel).
 */
#ifndef NNC_TOKEN_H
#define NNC_TOKEN_H

#include <stddef.h>

#include "diag.h"
#include "util.h"

/* Brackets open deeper than this come out as TK_TOODEEP (bounds parser stack). */
enum { LEX_MAX_NESTING = 256 };

typedef struct {
  char c;             /* '(' or '[' */
  Loc loc;            /* where it was opened, for "expected ')' to close ..." */
} LexBracket;

typedef struct {
  int kind;           /* TK_ value from parse.h, or the character for punctuation */
  Loc loc;            /* first byte of the token */
  const char *text;   /* the token's bytes in the source (not NUL-terminated) */
  size_t len;         /* number of bytes at text */
  double num;         /* TK_NUMBER: the value */
  const char *str;    /* TK_NAME: identifier; TK_STRING: contents, escapes resolved (arena) */
  int synthetic;      /* TK_NEWLINE made up at end of file, not present in the text */
  LexBracket opener;  /* ')' and ']': the bracket this one closes (c == 0 if none) */
} Token;

typedef struct {
  const Source *src;  /* the text being lexed */
  Arena *arena;       /* for identifier and string contents */
  Diag *diag;         /* where lexical errors go */
  const char *cur;    /* next byte to look at */
  const char *lim;    /* src->text + src->len, where the NUL sentinel is */
  const char *bol;    /* first byte of the current line, for columns */
  int line;           /* 1-based line of cur */
  int last;           /* kind of the previous token, 0 before the first */
  int depth;          /* open brackets; newlines are dropped while > 0 */
  int mute;           /* set by lex_recover: no lexical errors until the statement ends */
  LexBracket open[LEX_MAX_NESTING]; /* the innermost `depth` open brackets */
} Lexer;

void lex_init(Lexer *lx, const Source *src, Arena *a, Diag *d);
/* Fills *t with the next token and returns its kind. */
int lex_next(Lexer *lx, Token *t);
/* After a syntax error: forgets the open brackets, so that the next newline
 * ends the broken statement and the parser can recover there, and reports no
 * lexical errors until then unless the error struck at the statement's end. */
void lex_recover(Lexer *lx);
/* The reserved words (the statement keywords) and their token kinds. */
typedef struct {
  const char *text;   /* spelling */
  int kind;           /* TK_ value */
} LexKeyword;
extern const LexKeyword lex_keywords[];
extern const int lex_nkeywords;
/* The spelling of keyword token `kind`, or NULL if kind is not a keyword. */
const char *lex_keyword_text(int kind);

#endif
