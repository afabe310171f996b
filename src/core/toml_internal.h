/* Internals of the TOML parser shared by toml_lex.c (characters, strings,
 * keys, numbers, dates; the arena and error reporting) and toml_parse.c
 * (values, tables, headers, conversion to px_val). Not part of the API.
 * Hand-written on purpose; see toml_parse.c. */
#ifndef PX_CORE_TOML_INTERNAL_H
#define PX_CORE_TOML_INTERNAL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plexspaces/toml.h"

#define MAX_NEST 128  /* inline array / table nesting */
#define MAX_PARTS 128 /* parts of one dotted key */

/* ---- arena -------------------------------------------------------------- */

typedef struct chunk {
  struct chunk *next;
  size_t used, cap;
  max_align_t data[];
} chunk;

/* ---- nodes -------------------------------------------------------------- */

enum { N_TABLE, N_ARRAY, N_STR, N_INT, N_FLOAT, N_BOOL, N_DT };

/* Table flags. */
enum {
  F_DEFINED = 1,  /* named by a [header] or an [[array]] element */
  F_IMPLICIT = 2, /* created as a prefix of a longer header */
  F_DOTTED = 4,   /* created by a dotted key */
  F_FROZEN = 8,   /* an inline table or array: closed for additions */
  F_AOT = 16,     /* an array of tables built by [[headers]] */
};


typedef struct node node;
struct node {
  int kind;
  int flags;
  size_t pos;        /* byte offset where it was written (px_toml_parse_ex) */
  size_t n, cap;
  const char **keys; /* tables */
  size_t *klens;     /* tables */
  node **kids;       /* table values or array items */
  uint32_t *idx;     /* tables past a few keys: slots hold index + 1 */
  size_t mask;       /* slots - 1 of idx */
  union {
    int64_t i;
    double d;
    bool b;
    struct {
      const char *s;
      size_t len;
      int dt; /* index into dt_tag for N_DT */
    } s;
  } u;
};

typedef struct parser {
  const char *s;
  size_t len, pos;
  chunk *arena;
  char *sb; /* scratch buffer for strings and numbers (malloc'd) */
  size_t sblen, sbcap;
  jmp_buf jb;
  px_toml_error *err;
  const char *parts[MAX_PARTS];
  size_t plens[MAX_PARTS];
  size_t nparts;
} parser;

static inline int peek(parser *p, size_t off) {
  return p->pos + off < p->len ? (unsigned char)p->s[p->pos + off] : -1;
}

static inline bool is_digit(int c) { return c >= '0' && c <= '9'; }

static inline bool is_bare(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
         c == '_' || c == '-';
}

/* Reports a syntax error at byte `pos` and longjmps out of the parse. */
_Noreturn void px__toml_fail_at(parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reports an allocation failure and longjmps out of the parse. */
_Noreturn void px__toml_fail_nomem(parser *p);
/* Arena memory (16-byte aligned) that lives until px__toml_arena_free. */
void *px__toml_arena_alloc(parser *p, size_t size);
void px__toml_arena_free(chunk *c);
/* A zeroed node in the arena. */
node *px__toml_new_node(parser *p, int kind, int flags);

void px__toml_skip_ws(parser *p);
/* Skips whitespace, comments and newlines (inside arrays). */
void px__toml_skip_ws_nl(parser *p);
/* Requires the end of a line (after optional whitespace and a comment). */
void px__toml_expect_eol(parser *p, const char *after);
/* Checks the whole text is well-formed UTF-8. */
void px__toml_check_utf8(parser *p);
void px__toml_expect_char(parser *p, char c, const char *what);
/* A string of any kind at p->pos, copied into the arena. */
const char *px__toml_parse_string(parser *p, size_t *len, bool ml_ok);
/* A dotted key into p->parts / p->plens / p->nparts. */
void px__toml_parse_key(parser *p);
/* A number (integer or float) or a date/time value at p->pos. */
node *px__toml_parse_number(parser *p);
node *px__toml_parse_datetime(parser *p);

#endif
