/*
 * yaml_tree.h -- a small YAML document tree for the config reader.
 *
 * libyaml's own document API keeps neither duplicate-key checks nor a simple
 * way to walk a mapping by key, so the config reader builds this tree from
 * libyaml's event stream instead: mappings, sequences and scalars, each with
 * the 1-based line it starts on, children in file order.
 *
 *   int fg_yaml_parse(const char *text, size_t len, const char *file,
 *                     fg_ynode **root, fg_error *err)
 *     Parses the single YAML document in text[0..len) into a tree; *root is
 *     NULL when the stream holds no document (empty text or only comments).
 *     file only labels messages (NULL -> FG_YAML_NO_FILE). FG_ERR_INPUT, with
 *     a message "file:line: ...", for a syntax error, a duplicate key in a
 *     mapping (naming the dotted key and both lines), a key that is not a
 *     scalar, an alias, a scalar holding a NUL byte, a second document, or
 *     nesting deeper than FG_YAML_MAX_DEPTH; FG_ERR_RUNTIME when memory runs
 *     out. On failure *root is NULL and nothing is left allocated. Local.
 *
 *   void fg_yaml_free(fg_ynode *root)
 *     Releases a tree from fg_yaml_parse; NULL is allowed.
 *
 *   const fg_ynode *fg_yaml_get(const fg_ynode *map, const char *key)
 *     The value stored under key in a mapping, or NULL (also when map is
 *     NULL or not a mapping).
 *
 *   int fg_yaml_is_null(const fg_ynode *n)
 *     1 when n is a YAML null: a plain (unquoted, untagged) scalar that is
 *     empty, "~", "null", "Null" or "NULL"; 0 otherwise.
 *
 *   const char *fg_yaml_describe(const fg_ynode *n)
 *     What n is, for messages: "a mapping", "a sequence", "null", "a quoted
 *     string" or "a scalar".
 */
#ifndef FLOWGEN_YAML_TREE_H
#define FLOWGEN_YAML_TREE_H

#include <stddef.h>

#include "flowgen/error.h"

#define FG_YAML_MAX_DEPTH 64
#define FG_YAML_NO_FILE "<config>"

typedef enum { FG_YNODE_SCALAR, FG_YNODE_SEQUENCE, FG_YNODE_MAPPING } fg_ynode_kind;

typedef struct fg_ynode fg_ynode;
struct fg_ynode {
  fg_ynode_kind kind;
  int line;          /* 1-based line where the node starts */
  int plain;         /* scalar written plain and untagged: null, booleans and
                        numbers are read only from these */
  char *text;        /* scalar: its text, NUL-terminated; NULL otherwise */
  size_t n_children; /* sequence items or mapping entries */
  fg_ynode *first;   /* first child, in file order */
  fg_ynode *next;    /* next sibling */
  char *key;         /* as a mapping value: the key it is stored under */
  int key_line;      /* as a mapping value: the line of that key */
};

int fg_yaml_parse(const char *text, size_t len, const char *file, fg_ynode **root,
                  fg_error *err);
void fg_yaml_free(fg_ynode *root);
const fg_ynode *fg_yaml_get(const fg_ynode *map, const char *key);
int fg_yaml_is_null(const fg_ynode *n);
const char *fg_yaml_describe(const fg_ynode *n);

#endif
