/* lex: the re2c lexer for .nn files (see token.h for the contract).
 *
 * re2c turns the rules below into a state machine over bytes.  It runs in
 * "eof rule" mode: the source's terminating NUL is a sentinel, and only when
 * the cursor has reached lx->lim does a NUL mean end of input, so NUL bytes
 * inside the file are ordinary (bad) characters and nothing is read past the
 * sentinel.  All state lives in the Lexer; the cursor is copied to a local
 * for the generated code and written back after every token.
 */
#include "token.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "parse.h"

/*!re2c
  re2c:define:YYCTYPE = "unsigned char";
  re2c:define:YYCURSOR = cur;
  re2c:define:YYLIMIT = lim;
  re2c:yyfill:enable = 0;
  re2c:eof = 0;
  re2c:indent:string = "  ";

  dig   = [0-9];
  ident = [A-Za-z_][A-Za-z0-9_]*;
  mant  = dig+ ("." dig*)? | "." dig+;
  num   = mant ([eE] [+-]? dig+)?;
*/

const LexKeyword lex_keywords[] = {
    {"model", TK_MODEL}, {"input", TK_INPUT},   {"target", TK_TARGET},       {"param", TK_PARAM},
    {"loss", TK_LOSS},   {"output", TK_OUTPUT}, {"optimizer", TK_OPTIMIZER}, {"train", TK_TRAIN},
};
const int lex_nkeywords = (int)COUNT_OF(lex_keywords);

static int keyword_kind(const char *s, size_t n) {
  for (int i = 0; i < lex_nkeywords; i++)
    if (strlen(lex_keywords[i].text) == n && memcmp(lex_keywords[i].text, s, n) == 0) return lex_keywords[i].kind;
  return 0;
}

const char *lex_keyword_text(int kind) {
  for (int i = 0; i < lex_nkeywords; i++)
    if (lex_keywords[i].kind == kind) return lex_keywords[i].text;
  return NULL;
}

void lex_init(Lexer *lx, const Source *src, Arena *a, Diag *d) {
  *lx = (Lexer){.src = src, .arena = a, .diag = d, .cur = src->text, .lim = src->text + src->len,
                .bol = src->text, .line = 1};
}

static int ends_statement(int kind) { return kind == 0 || kind == TK_NEWLINE || kind == ';'; }

void lex_recover(Lexer *lx) {
  lx->depth = 0;
  if (!ends_statement(lx->last)) lx->mute = 1;
}

/* Reports a lexical error, unless the statement already has a syntax error
 * (then anything more on it would be noise). */
static void lex_error(Lexer *lx, Loc at, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void lex_error(Lexer *lx, Loc at, const char *fmt, ...) {
  if (lx->mute) return;
  va_list ap;
  va_start(ap, fmt);
  diag_verror(lx->diag, at, fmt, ap);
  va_end(ap);
}

static Loc loc_at(const Lexer *lx, const char *p) {
  return (Loc){lx->src->name, lx->line, (int)(p - lx->bol) + 1};
}

/* Appends byte c to msg as it should appear in a quote: printable ASCII as is,
 * everything else as \xNN so the message stays one clean line. */
static size_t put_byte(char *msg, size_t n, unsigned char c) {
  if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
    msg[n++] = (char)c;
    return n;
  }
  return n + (size_t)sprintf(msg + n, "\\x%02x", c);
}

static void bad_chars(Lexer *lx, const char *from, const char *to) {
  enum { SHOW = 8 };
  char msg[SHOW * 4 + 8];
  size_t n = 0;
  for (const char *p = from; p < to && p < from + SHOW; p++) n = put_byte(msg, n, (unsigned char)*p);
  if (to - from > SHOW) n += (size_t)sprintf(msg + n, "...");
  msg[n] = '\0';
  lex_error(lx, loc_at(lx, from), "unexpected character '%s'", msg);
}

/* After a newline inside brackets: does the next line start with a statement
 * keyword?  Keywords never appear inside expressions, so the brackets must
 * have been left open by mistake, and the statement ends here. */
static int line_starts_statement(const Lexer *lx) {
  const char *p = lx->cur;
  while (*p == ' ' || *p == '\t' || *p == '\r') p++;
  const char *s = p;
  while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_') p++;
  return p > s && keyword_kind(s, (size_t)(p - s)) != 0;
}

/* A string's contents while they are being unescaped. */
typedef struct {
  char *data;         /* heap; moved to the arena when the string ends */
  size_t len;         /* bytes used */
  size_t cap;         /* bytes allocated */
} StrBuf;

static void strbuf_add(StrBuf *b, const void *bytes, size_t n) {
  while (b->len + n + 1 > b->cap) b->data = xrealloc(b->data, b->cap = b->cap ? 2 * b->cap : 32);
  memcpy(b->data + b->len, bytes, n);
  b->len += n;
}

/* Scans the body of a string literal; lx->cur is just past the opening quote.
 * (Rule actions leave the loop with goto, not break: re2c may place an
 * action inside a switch.)
 * Resolves escapes into t->str.  A missing closing quote is reported and the
 * string ends at the end of the line (or file), so parsing can go on. */
static void lex_string(Lexer *lx, Token *t) {
  const unsigned char *cur = (const unsigned char *)lx->cur;
  const unsigned char *lim = (const unsigned char *)lx->lim;
  StrBuf b = {0};
  for (;;) {
    const unsigned char *tok = cur;
    /*!re2c
      ["]          { goto done; }
      "\\\\"       { strbuf_add(&b, "\\", 1); continue; }
      "\\\""       { strbuf_add(&b, "\"", 1); continue; }
      "\\n"        { strbuf_add(&b, "\n", 1); continue; }
      "\\t"        { strbuf_add(&b, "\t", 1); continue; }
      "\\" [^\n]   {
        char esc[8];
        esc[put_byte(esc, 0, tok[1])] = '\0';
        lex_error(lx, loc_at(lx, (const char *)tok), "unknown escape sequence '\\%s' in string", esc);
        continue;
      }
      [^"\\\n\x00]+ { strbuf_add(&b, tok, (size_t)(cur - tok)); continue; }
      "\n"         {
        cur = tok;
        lex_error(lx, loc_at(lx, (const char *)tok), "newline in string (missing closing '\"')");
        goto done;
      }
      $            {
        lex_error(lx, t->loc, "unterminated string (missing closing '\"' before end of file)");
        goto done;
      }
      *            { bad_chars(lx, (const char *)tok, (const char *)cur); continue; }
    */
  }
done:
  t->str = arena_strndup(lx->arena, b.data ? b.data : "", b.len);
  free(b.data);
  lx->cur = (const char *)cur;
}

/* Converts a number token.  The token is copied because strtod alone would
 * also accept forms the language does not have (hex, inf) past its end. */
static double number_value(Lexer *lx, Token *t, size_t len) {
  char *s = arena_strndup(lx->arena, t->text, len);
  errno = 0;
  double v = strtod(s, NULL);
  if (errno == ERANGE && fabs(v) > 1.0) {
    lex_error(lx, t->loc, "number too large: %.*s", len > 40 ? 40 : (int)len, s);
    return 0;
  }
  return v;
}

/* The location an end-of-file error points at: just after the last character,
 * on the last line that has one. */
static Loc eof_loc(const Lexer *lx) {
  const char *text = lx->src->text, *end = lx->lim;
  if (end == text || end[-1] != '\n') return loc_at(lx, end);
  const char *bol = end - 1;
  while (bol > text && bol[-1] != '\n') bol--;
  return (Loc){lx->src->name, lx->line - 1, (int)(end - 1 - bol) + 1};
}

static int scan(Lexer *lx, Token *t) {
  for (;;) {
    const unsigned char *cur = (const unsigned char *)lx->cur;
    const unsigned char *lim = (const unsigned char *)lx->lim;
    const unsigned char *tok = cur;
    t->loc = loc_at(lx, (const char *)tok);
    t->text = (const char *)tok;
    /*!re2c
      [ \t\r]+       { lx->cur = (const char *)cur; continue; }
      "#" [^\n]*     { lx->cur = (const char *)cur; continue; }
      "\n"           {
        lx->cur = (const char *)cur;
        lx->line++;
        lx->bol = lx->cur;
        if (lx->depth > 0) {
          if (!line_starts_statement(lx)) continue;
          t->opener = lx->open[lx->depth - 1];
          lx->depth = 0;
        }
        if (ends_statement(lx->last)) continue;
        return TK_NEWLINE;
      }
      ident          {
        lx->cur = (const char *)cur;
        size_t n = (size_t)(cur - tok);
        int kw = keyword_kind((const char *)tok, n);
        if (kw) return kw;
        t->str = arena_strndup(lx->arena, (const char *)tok, n);
        return TK_NAME;
      }
      num            {
        lx->cur = (const char *)cur;
        t->num = number_value(lx, t, (size_t)(cur - tok));
        return TK_NUMBER;
      }
      /* "1e" or "2.5e+": report, and still give the parser a number. */
      mant [eE] [+-]? {
        lx->cur = (const char *)cur;
        lex_error(lx, t->loc, "malformed number: exponent has no digits");
        return TK_NUMBER;
      }
      ["]            { lx->cur = (const char *)cur; lex_string(lx, t); return TK_STRING; }
      [([]           {
        lx->cur = (const char *)cur;
        if (lx->depth == LEX_MAX_NESTING) return TK_TOODEEP;
        lx->open[lx->depth++] = (LexBracket){(char)*tok, t->loc};
        return *tok;
      }
      [)\]]          {
        lx->cur = (const char *)cur;
        if (lx->depth > 0) t->opener = lx->open[--lx->depth];
        return *tok;
      }
      [{},:;=+\-*/^@] { lx->cur = (const char *)cur; return *tok; }
      /* End of input ends the last statement even without a newline. */
      $              {
        t->loc = eof_loc(lx);
        if (ends_statement(lx->last)) return TK_YYEOF;
        t->synthetic = 1;
        return TK_NEWLINE;
      }
      /* Control bytes and non-ASCII (a UTF-8 character is several bytes)
       * come as one error per run; any other stray byte on its own. */
      [\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\xff]+ {
        lx->cur = (const char *)cur;
        bad_chars(lx, (const char *)tok, lx->cur);
        continue;
      }
      *              { lx->cur = (const char *)cur; bad_chars(lx, (const char *)tok, lx->cur); continue; }
    */
  }
}

int lex_next(Lexer *lx, Token *t) {
  *t = (Token){0};
  t->kind = scan(lx, t);
  if (ends_statement(t->kind)) lx->mute = 0;
  t->len = (size_t)(lx->cur - t->text);
  if (t->kind == TK_NEWLINE || t->kind == TK_YYEOF) t->len = 0;
  lx->last = t->kind;
  return t->kind;
}
