/*
 * yaml_tree.c -- a YAML document tree built from libyaml events (see
 * yaml_tree.h for the contracts).
 *
 *   int fg_yaml_parse(const char *text, size_t len, const char *file,
 *                     fg_ynode **root, fg_error *err)
 *     One document into a tree; syntax errors, duplicate keys, non-scalar
 *     keys, aliases and extra documents are FG_ERR_INPUT "file:line: ...".
 *   void fg_yaml_free(fg_ynode *root)
 *   const fg_ynode *fg_yaml_get(const fg_ynode *map, const char *key)
 *   int fg_yaml_is_null(const fg_ynode *n)
 *   const char *fg_yaml_describe(const fg_ynode *n)
 *
 * All functions are local and keep no state. The builder recurses once per
 * nesting level, which FG_YAML_MAX_DEPTH bounds, so hostile input cannot
 * exhaust the stack.
 */
#include "yaml_tree.h"

#include <string.h>
#include <yaml.h>

static const char where[] = "fg_yaml_parse [yaml_tree.c]";

typedef struct {
  yaml_parser_t parser;
  const char *text; /* to turn a byte offset into a line */
  size_t len;
  const char *file;
  fg_error *err;
  char path[256]; /* dotted key of the node being built, for messages */
} builder;

/* The dotted key for messages: "" at the top, then "a", "a.b", "a.b[2]". */
static size_t push_key(builder *b, const char *key)
{
  size_t n = strlen(b->path);
  snprintf(b->path + n, sizeof b->path - n, "%s%s", n ? "." : "", key);
  return n;
}

static size_t push_index(builder *b, size_t i)
{
  size_t n = strlen(b->path);
  snprintf(b->path + n, sizeof b->path - n, "[%zu]", i);
  return n;
}

static int line_of_offset(const builder *b, size_t offset)
{
  int line = 1;
  for (size_t i = 0; i < offset && i < b->len; ++i)
    line += b->text[i] == '\n';
  return line;
}

static int syntax_error(builder *b)
{
  const yaml_parser_t *p = &b->parser;
  const char *problem = p->problem ? p->problem : "malformed input";
  if (p->error == YAML_MEMORY_ERROR)
    return fg_fail(b->err, FG_ERR_RUNTIME, where, "%s: out of memory in libyaml", b->file);
  if (p->error == YAML_READER_ERROR) /* bad encoding: libyaml only knows the byte offset */
    return fg_fail(b->err, FG_ERR_INPUT, where, "%s:%d: YAML syntax error: %s (byte %zu)",
                   b->file, line_of_offset(b, p->problem_offset), problem, p->problem_offset);
  int line = (int)p->problem_mark.line + 1;
  if (p->context != NULL)
    return fg_fail(b->err, FG_ERR_INPUT, where, "%s:%d: YAML syntax error: %s (%s at line %d)",
                   b->file, line, problem, p->context, (int)p->context_mark.line + 1);
  return fg_fail(b->err, FG_ERR_INPUT, where, "%s:%d: YAML syntax error: %s", b->file, line,
                 problem);
}

static int next_event(builder *b, yaml_event_t *ev)
{
  if (!yaml_parser_parse(&b->parser, ev))
    return syntax_error(b);
  return FG_OK;
}

static fg_ynode *new_node(builder *b, fg_ynode_kind kind, const yaml_event_t *ev)
{
  fg_ynode *n = fg_alloc(sizeof *n, b->err, where);
  if (n != NULL) {
    n->kind = kind;
    n->line = (int)ev->start_mark.line + 1;
  }
  return n;
}

static char *copy_text(builder *b, const unsigned char *s, size_t len)
{
  char *t = fg_alloc(len + 1, b->err, where);
  if (t != NULL)
    memcpy(t, s, len);
  return t;
}

static int build_scalar(builder *b, const yaml_event_t *ev, fg_ynode **out)
{
  size_t len = ev->data.scalar.length;
  if (memchr(ev->data.scalar.value, '\0', len) != NULL)
    return fg_fail(b->err, FG_ERR_INPUT, where, "%s:%d: %s: a scalar holds a NUL character",
                   b->file, (int)ev->start_mark.line + 1, b->path);
  fg_ynode *n = new_node(b, FG_YNODE_SCALAR, ev);
  if (n == NULL)
    return FG_ERR_RUNTIME;
  n->plain = ev->data.scalar.plain_implicit != 0;
  n->text = copy_text(b, ev->data.scalar.value, len);
  if (n->text == NULL) {
    fg_free(n);
    return FG_ERR_RUNTIME;
  }
  *out = n;
  return FG_OK;
}

static void append_child(fg_ynode *parent, fg_ynode **tail, fg_ynode *child)
{
  if (*tail == NULL)
    parent->first = child;
  else
    (*tail)->next = child;
  *tail = child;
  parent->n_children++;
}

static int build_node(builder *b, const yaml_event_t *ev, int depth, fg_ynode **out);

/* Reads the next event and builds the node it starts (its key already on the path). */
static int build_next(builder *b, int depth, fg_ynode **out)
{
  yaml_event_t ev;
  int rc = next_event(b, &ev);
  if (rc != FG_OK)
    return rc;
  rc = build_node(b, &ev, depth, out);
  yaml_event_delete(&ev);
  return rc;
}

static int build_sequence(builder *b, fg_ynode *seq, int depth)
{
  fg_ynode *tail = NULL;
  for (;;) {
    yaml_event_t ev;
    int rc = next_event(b, &ev);
    if (rc != FG_OK)
      return rc;
    if (ev.type == YAML_SEQUENCE_END_EVENT) {
      yaml_event_delete(&ev);
      return FG_OK;
    }
    size_t mark = push_index(b, seq->n_children);
    fg_ynode *item = NULL;
    rc = build_node(b, &ev, depth + 1, &item);
    yaml_event_delete(&ev);
    b->path[mark] = '\0';
    if (rc != FG_OK)
      return rc;
    append_child(seq, &tail, item);
  }
}

/* The key event of a mapping entry: must be a scalar not seen before. */
static int check_key(builder *b, const fg_ynode *map, const yaml_event_t *ev)
{
  int line = (int)ev->start_mark.line + 1;
  if (ev->type != YAML_SCALAR_EVENT)
    return fg_fail(b->err, FG_ERR_INPUT, where,
                   "%s:%d: %s: mapping keys must be scalars, not %s", b->file, line,
                   b->path[0] ? b->path : "(top level)",
                   ev->type == YAML_ALIAS_EVENT ? "aliases" : "mappings or sequences");
  const char *key = (const char *)ev->data.scalar.value;
  const fg_ynode *seen = fg_yaml_get(map, key);
  if (seen != NULL) {
    size_t mark = push_key(b, key);
    int rc = fg_fail(b->err, FG_ERR_INPUT, where,
                     "%s:%d: %s: duplicate key '%s' (first at line %d, again at line %d)",
                     b->file, line, b->path, key, seen->key_line, line);
    b->path[mark] = '\0';
    return rc;
  }
  return FG_OK;
}

static int build_entry(builder *b, fg_ynode *map, fg_ynode **tail, const yaml_event_t *kev,
                       int depth)
{
  int rc = check_key(b, map, kev);
  if (rc != FG_OK)
    return rc;
  fg_ynode *key = NULL;
  rc = build_scalar(b, kev, &key); /* rejects NUL bytes in the key too */
  if (rc != FG_OK)
    return rc;
  size_t mark = push_key(b, key->text);
  fg_ynode *value = NULL;
  rc = build_next(b, depth + 1, &value);
  b->path[mark] = '\0';
  if (rc == FG_OK) {
    value->key = key->text; /* the value takes over the key's text */
    value->key_line = key->line;
    key->text = NULL;
    append_child(map, tail, value);
  }
  fg_yaml_free(key);
  return rc;
}

static int build_mapping(builder *b, fg_ynode *map, int depth)
{
  fg_ynode *tail = NULL;
  for (;;) {
    yaml_event_t ev;
    int rc = next_event(b, &ev);
    if (rc != FG_OK)
      return rc;
    if (ev.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&ev);
      return FG_OK;
    }
    rc = build_entry(b, map, &tail, &ev, depth);
    yaml_event_delete(&ev);
    if (rc != FG_OK)
      return rc;
  }
}

static int build_node(builder *b, const yaml_event_t *ev, int depth, fg_ynode **out)
{
  int line = (int)ev->start_mark.line + 1;
  const char *at = b->path[0] ? b->path : "(top level)";
  *out = NULL;
  if (ev->type == YAML_SCALAR_EVENT)
    return build_scalar(b, ev, out);
  if (ev->type == YAML_ALIAS_EVENT) /* configs stay literal: what you read is what runs */
    return fg_fail(b->err, FG_ERR_INPUT, where, "%s:%d: %s: alias *%s: aliases are not allowed",
                   b->file, line, at, (const char *)ev->data.alias.anchor);
  if (ev->type != YAML_SEQUENCE_START_EVENT && ev->type != YAML_MAPPING_START_EVENT)
    return fg_fail(b->err, FG_ERR_INPUT, where, "%s:%d: %s: unexpected YAML event %d", b->file,
                   line, at, (int)ev->type);
  if (depth >= FG_YAML_MAX_DEPTH)
    return fg_fail(b->err, FG_ERR_INPUT, where, "%s:%d: %s: nested deeper than %d levels",
                   b->file, line, at, FG_YAML_MAX_DEPTH);
  int is_map = ev->type == YAML_MAPPING_START_EVENT;
  fg_ynode *n = new_node(b, is_map ? FG_YNODE_MAPPING : FG_YNODE_SEQUENCE, ev);
  if (n == NULL)
    return FG_ERR_RUNTIME;
  int rc = is_map ? build_mapping(b, n, depth) : build_sequence(b, n, depth);
  if (rc != FG_OK) {
    fg_yaml_free(n);
    return rc;
  }
  *out = n;
  return FG_OK;
}

/* Stream start, document start, the root node, document end, stream end. */
static int build_stream(builder *b, fg_ynode **root)
{
  int documents = 0;
  for (;;) {
    yaml_event_t ev;
    int rc = next_event(b, &ev);
    if (rc != FG_OK)
      return rc;
    yaml_event_type_t type = ev.type;
    int line = (int)ev.start_mark.line + 1;
    if (type == YAML_DOCUMENT_START_EVENT && documents++ > 0)
      rc = fg_fail(b->err, FG_ERR_INPUT, where,
                   "%s:%d: a second YAML document: a config is one document", b->file, line);
    else if (type == YAML_SCALAR_EVENT || type == YAML_SEQUENCE_START_EVENT ||
             type == YAML_MAPPING_START_EVENT || type == YAML_ALIAS_EVENT)
      rc = build_node(b, &ev, 0, root);
    yaml_event_delete(&ev);
    if (rc != FG_OK || type == YAML_STREAM_END_EVENT)
      return rc;
  }
}

int fg_yaml_parse(const char *text, size_t len, const char *file, fg_ynode **root,
                  fg_error *err)
{
  builder b;
  memset(&b, 0, sizeof b);
  b.text = text;
  b.len = len;
  b.file = file != NULL ? file : FG_YAML_NO_FILE;
  b.err = err;
  *root = NULL;
  if (!yaml_parser_initialize(&b.parser))
    return fg_fail(err, FG_ERR_RUNTIME, where, "%s: cannot initialise libyaml", b.file);
  yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
  int rc = build_stream(&b, root);
  yaml_parser_delete(&b.parser);
  if (rc != FG_OK) {
    fg_yaml_free(*root);
    *root = NULL;
  }
  return rc;
}

void fg_yaml_free(fg_ynode *root)
{
  while (root != NULL) {
    fg_ynode *next = root->next;
    fg_yaml_free(root->first);
    fg_free(root->text);
    fg_free(root->key);
    fg_free(root);
    root = next;
  }
}

const fg_ynode *fg_yaml_get(const fg_ynode *map, const char *key)
{
  if (map == NULL || map->kind != FG_YNODE_MAPPING)
    return NULL;
  for (const fg_ynode *c = map->first; c != NULL; c = c->next)
    if (strcmp(c->key, key) == 0)
      return c;
  return NULL;
}

int fg_yaml_is_null(const fg_ynode *n)
{
  static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
  if (n == NULL || n->kind != FG_YNODE_SCALAR || !n->plain)
    return 0;
  for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; ++i)
    if (strcmp(n->text, nulls[i]) == 0)
      return 1;
  return 0;
}

const char *fg_yaml_describe(const fg_ynode *n)
{
  if (n->kind == FG_YNODE_MAPPING)
    return "a mapping";
  if (n->kind == FG_YNODE_SEQUENCE)
    return "a sequence";
  if (fg_yaml_is_null(n))
    return "null";
  return n->plain ? "a scalar" : "a quoted string";
}
