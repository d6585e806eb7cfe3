/*
 * rf_config.c - YAML configuration: bounded loading with libyaml's event
 * parser, navigation, typed getters and the key schema check.
 */
#include "rf_config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "rf_alloc.h"
#include "rf_buf.h"

#define PATH_MAX_SHOWN 128 /* key paths in messages */
#define VALUE_MAX_SHOWN 40 /* bytes of a value quoted in messages */

struct rf_cfg {
	char *name;
	struct rf_cfg_node *root;
};

/* A collection being built: its node, and the arrays the node points to
 * (kept in step with node->count at every moment, so that freeing the root
 * frees everything built so far). */
struct frame {
	struct rf_cfg_node *node;
	struct rf_cfg_node **keys;
	struct rf_cfg_node **values;
	size_t cap;
};

struct loader {
	struct rf_cfg *cfg;
	const char *name;
	const unsigned char *input;
	size_t input_len;
	size_t max_nodes;
	unsigned max_depth;
	size_t nodes;
	unsigned depth; /* frames in use */
	struct frame *frames;
	unsigned documents;
};

/* ---- freeing ------------------------------------------------------------ */

static void node_free(struct rf_cfg_node *n)
{
	if (!n)
		return;
	if (n->kind == RF_CFG_SCALAR) {
		rf_free((void *)n->text);
	} else {
		for (size_t i = 0; i < n->count; i++) {
			if (n->keys)
				node_free((struct rf_cfg_node *)n->keys[i]);
			node_free((struct rf_cfg_node *)n->values[i]);
		}
		rf_free((void *)n->keys);
		rf_free((void *)n->values);
	}
	rf_free(n);
}

void rf_cfg_destroy(struct rf_cfg *cfg)
{
	if (!cfg)
		return;
	node_free(cfg->root);
	rf_free(cfg->name);
	rf_free(cfg);
}

const struct rf_cfg_node *rf_cfg_root(const struct rf_cfg *cfg)
{
	return cfg ? cfg->root : NULL;
}

const char *rf_cfg_name(const struct rf_cfg *cfg)
{
	return cfg ? cfg->name : NULL;
}

/* ---- message helpers ---------------------------------------------------- */

/* Appends len bytes of s at dst + at as far as they fit in n bytes (with
 * the NUL). Returns at + len, the length it would have without the limit:
 * a result over n - 1 means the text was cut. */
static size_t cpy_trunc(char *dst, size_t at, size_t n, const char *s,
			size_t len)
{
	size_t room = at < n - 1 ? n - 1 - at : 0;
	size_t k = len < room ? len : room;

	if (room) {
		memcpy(dst + at, s, k);
		dst[at + k] = '\0';
	}
	return at + len;
}

static size_t path_build(const struct rf_cfg_node *node, char *buf, size_t n,
			 size_t at, unsigned guard)
{
	char idx[32];

	if (!node || !node->parent || guard > 64)
		return at;
	at = path_build(node->parent, buf, n, at, guard + 1);
	if (node->key) {
		if (at > 0)
			at = cpy_trunc(buf, at, n, ".", 1);
		at = cpy_trunc(buf, at, n, node->key, strlen(node->key));
	} else {
		snprintf(idx, sizeof idx, "[%zu]", node->index);
		at = cpy_trunc(buf, at, n, idx, strlen(idx));
	}
	return at;
}

char *rf_cfg_node_path(const struct rf_cfg_node *node, char *buf, size_t n)
{
	size_t at;

	if (!buf || n == 0)
		return buf;
	buf[0] = '\0';
	at = path_build(node, buf, n, 0, 0);
	if (at > n - 1 && n > 4)
		memcpy(buf + n - 4, "...", 4);
	return buf;
}

/* Appends ".child" to a parent path (or just child at the top level). */
static void path_join(char *buf, size_t n, const char *parent,
		      const char *child, size_t child_len)
{
	size_t at = 0;

	buf[0] = '\0';
	at = cpy_trunc(buf, at, n, parent, strlen(parent));
	if (at > 0 && child_len > 0 && child[0] != '[')
		at = cpy_trunc(buf, at, n, ".", 1);
	at = cpy_trunc(buf, at, n, child, child_len);
	if (at > n - 1 && n > 4)
		memcpy(buf + n - 4, "...", 4);
}

/* What a node holds, for "got ...": 'ten', nothing, a mapping. */
static const char *describe(const struct rf_cfg_node *n, char *buf, size_t sz)
{
	size_t i, o = 0;

	if (n->kind == RF_CFG_MAP)
		return "a mapping";
	if (n->kind == RF_CFG_SEQ)
		return "a sequence";
	if (n->plain && n->len == 0)
		return "nothing";
	buf[o++] = '\'';
	for (i = 0; i < n->len && i < VALUE_MAX_SHOWN && o + 5 < sz; i++) {
		unsigned char c = (unsigned char)n->text[i];

		buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (i < n->len && o + 5 < sz) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

static enum rf_rc type_error(const struct rf_cfg_node *n, const char *want,
			     struct rf_err *e)
{
	char path[PATH_MAX_SHOWN], got[VALUE_MAX_SHOWN + 8];

	return rf_err_set(e, RF_ECONFIG, "%s:%u:%u: '%s' must be %s, got %s",
			  n->file, n->line, n->column,
			  rf_cfg_node_path(n, path, sizeof path), want,
			  describe(n, got, sizeof got));
}

/* ---- loading ------------------------------------------------------------ */

static enum rf_rc at_mark(struct loader *ld, yaml_mark_t m, struct rf_err *e,
			  enum rf_rc rc, const char *what)
{
	return rf_err_set(e, rc, "%s:%zu:%zu: %s", ld->name, m.line + 1,
			  m.column + 1, what);
}

static enum rf_rc syntax_error(struct loader *ld, yaml_parser_t *p,
			       struct rf_err *e)
{
	const char *problem = p->problem ? p->problem : "invalid yaml";
	size_t line = 1, col = 1, off;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		return rf_err_set(e, RF_ENOMEM, "%s: out of memory", ld->name);
	case YAML_READER_ERROR:
		/* the reader reports a byte offset, not a mark */
		off = p->problem_offset;
		if (off > ld->input_len)
			off = ld->input_len;
		for (size_t i = 0; i < off; i++) {
			if (ld->input[i] == '\n') {
				line++;
				col = 1;
			} else if ((ld->input[i] & 0xc0) != 0x80) {
				col++;
			}
		}
		return rf_err_set(e, RF_ECONFIG, "%s:%zu:%zu: %s", ld->name,
				  line, col, problem);
	default:
		break;
	}
	if (p->context)
		return rf_err_set(e, RF_ECONFIG,
				  "%s:%zu:%zu: %s (%s at %zu:%zu)", ld->name,
				  p->problem_mark.line + 1,
				  p->problem_mark.column + 1, problem,
				  p->context, p->context_mark.line + 1,
				  p->context_mark.column + 1);
	return rf_err_set(e, RF_ECONFIG, "%s:%zu:%zu: %s", ld->name,
			  p->problem_mark.line + 1, p->problem_mark.column + 1,
			  problem);
}

static enum rf_rc node_new(struct loader *ld, enum rf_cfg_kind kind,
			   yaml_mark_t m, struct rf_cfg_node **out,
			   struct rf_err *e)
{
	struct rf_cfg_node *n;

	if (ld->nodes >= ld->max_nodes)
		return rf_err_set(e, RF_ETOOBIG,
				  "%s:%zu:%zu: more than %zu nodes", ld->name,
				  m.line + 1, m.column + 1, ld->max_nodes);
	n = rf_calloc(1, sizeof *n);
	if (!n)
		return rf_err_set(e, RF_ENOMEM, "%s: out of memory", ld->name);
	ld->nodes++;
	n->kind = kind;
	n->line = m.line + 1 > UINT32_MAX ? UINT32_MAX : (unsigned)m.line + 1;
	n->column = m.column + 1 > UINT32_MAX ? UINT32_MAX :
						(unsigned)m.column + 1;
	n->file = ld->cfg->name;
	*out = n;
	return RF_OK;
}

/* Attaches n (owned by the caller until this succeeds) to the collection on
 * top of the stack, or makes it the top level. */
static enum rf_rc attach(struct loader *ld, struct rf_cfg_node *n,
			 struct rf_err *e)
{
	struct frame *f;
	struct rf_cfg_node *parent;

	if (ld->depth == 0) {
		if (ld->cfg->root)
			return rf_err_set(e, RF_EINTERNAL, "%s: two roots",
					  ld->name);
		if (n->kind != RF_CFG_MAP) {
			char got[VALUE_MAX_SHOWN + 8];

			if (n->kind == RF_CFG_SCALAR && rf_cfg_is_null(n))
				return rf_err_set(e, RF_ECONFIG,
						  "%s:%u:%u: configuration is "
						  "empty", ld->name, n->line,
						  n->column);
			return rf_err_set(e, RF_ECONFIG,
					  "%s:%u:%u: the top level must be a "
					  "mapping, got %s", ld->name, n->line,
					  n->column, describe(n, got,
							      sizeof got));
		}
		ld->cfg->root = n;
		return RF_OK;
	}
	f = &ld->frames[ld->depth - 1];
	parent = f->node;
	/* a mapping whose last key still waits for its value */
	if (parent->kind == RF_CFG_MAP && parent->count > 0 &&
	    !f->values[parent->count - 1]) {
		f->values[parent->count - 1] = n;
		n->parent = parent;
		n->key = f->keys[parent->count - 1]->text;
		return RF_OK;
	}
	if (parent->kind == RF_CFG_MAP && n->kind != RF_CFG_SCALAR)
		return rf_err_set(e, RF_ECONFIG,
				  "%s:%u:%u: mapping keys must be scalars",
				  ld->name, n->line, n->column);
	if (parent->count == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 8;
		struct rf_cfg_node **nv, **nk;

		nv = rf_realloc(f->values, ncap * sizeof *nv);
		if (!nv)
			return rf_err_set(e, RF_ENOMEM, "%s: out of memory",
					  ld->name);
		f->values = nv;
		parent->values = (const struct rf_cfg_node *const *)nv;
		if (parent->kind == RF_CFG_MAP) {
			nk = rf_realloc(f->keys, ncap * sizeof *nk);
			if (!nk)
				return rf_err_set(e, RF_ENOMEM,
						  "%s: out of memory",
						  ld->name);
			f->keys = nk;
			parent->keys = (const struct rf_cfg_node *const *)nk;
		}
		f->cap = ncap;
	}
	n->parent = parent;
	if (parent->kind == RF_CFG_MAP) {
		n->key = n->text;
		f->keys[parent->count] = n;
		f->values[parent->count] = NULL;
	} else {
		n->index = parent->count;
		f->values[parent->count] = n;
	}
	parent->count++;
	return RF_OK;
}

static int key_cmp(const void *a, const void *b)
{
	const struct rf_cfg_node *x = *(const struct rf_cfg_node *const *)a;
	const struct rf_cfg_node *y = *(const struct rf_cfg_node *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->text, y->text, n);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return 0;
}

static bool pos_before(const struct rf_cfg_node *a,
		       const struct rf_cfg_node *b)
{
	return a->line < b->line || (a->line == b->line &&
				     a->column < b->column);
}

/* Refuses a mapping with two equal keys, naming the first repetition in
 * file order and where the key was first defined. */
static enum rf_rc check_duplicates(struct loader *ld,
				   const struct rf_cfg_node *map,
				   struct rf_err *e)
{
	const struct rf_cfg_node **v, *dup = NULL, *first = NULL;
	char path[PATH_MAX_SHOWN];

	if (map->count < 2)
		return RF_OK;
	v = rf_mallocarray(map->count, sizeof *v);
	if (!v)
		return rf_err_set(e, RF_ENOMEM, "%s: out of memory", ld->name);
	memcpy(v, map->keys, map->count * sizeof *v);
	qsort(v, map->count, sizeof *v, key_cmp);
	for (size_t i = 1, run = 0; i < map->count; i++) {
		if (v[i]->len != v[run]->len ||
		    memcmp(v[i]->text, v[run]->text, v[i]->len) != 0) {
			run = i;
			continue;
		}
		if (!dup || pos_before(v[i], dup)) {
			dup = v[i];
			first = v[run];
		}
	}
	rf_free(v);
	if (!dup)
		return RF_OK;
	return rf_err_set(e, RF_ECONFIG,
			  "%s:%u:%u: duplicate key '%s' (first defined at "
			  "%u:%u)", ld->name, dup->line, dup->column,
			  rf_cfg_node_path(dup, path, sizeof path),
			  first->line, first->column);
}

static enum rf_rc on_scalar(struct loader *ld, yaml_event_t *ev,
			    struct rf_err *e)
{
	struct rf_cfg_node *n = NULL;
	char *text;
	enum rf_rc rc;

	rc = node_new(ld, RF_CFG_SCALAR, ev->start_mark, &n, e);
	if (rc)
		return rc;
	text = rf_malloc(ev->data.scalar.length + 1);
	if (!text) {
		rf_free(n);
		return rf_err_set(e, RF_ENOMEM, "%s: out of memory", ld->name);
	}
	memcpy(text, ev->data.scalar.value, ev->data.scalar.length);
	text[ev->data.scalar.length] = '\0';
	n->text = text;
	n->len = ev->data.scalar.length;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	rc = attach(ld, n, e);
	if (rc)
		node_free(n);
	return rc;
}

static enum rf_rc on_start(struct loader *ld, yaml_event_t *ev,
			   enum rf_cfg_kind kind, struct rf_err *e)
{
	struct rf_cfg_node *n = NULL;
	enum rf_rc rc;

	if (ld->depth >= ld->max_depth)
		return rf_err_set(e, RF_ETOOBIG,
				  "%s:%zu:%zu: nesting deeper than %u levels",
				  ld->name, ev->start_mark.line + 1,
				  ev->start_mark.column + 1, ld->max_depth);
	rc = node_new(ld, kind, ev->start_mark, &n, e);
	if (rc)
		return rc;
	rc = attach(ld, n, e);
	if (rc) {
		node_free(n);
		return rc;
	}
	ld->frames[ld->depth].node = n;
	ld->frames[ld->depth].keys = NULL;
	ld->frames[ld->depth].values = NULL;
	ld->frames[ld->depth].cap = 0;
	ld->depth++;
	return RF_OK;
}

static enum rf_rc on_end(struct loader *ld, struct rf_err *e)
{
	struct frame *f;

	if (ld->depth == 0)
		return rf_err_set(e, RF_EINTERNAL, "%s: unbalanced events",
				  ld->name);
	f = &ld->frames[--ld->depth];
	if (f->node->kind == RF_CFG_MAP)
		return check_duplicates(ld, f->node, e);
	return RF_OK;
}

static enum rf_rc on_event(struct loader *ld, yaml_event_t *ev,
			   struct rf_err *e)
{
	const yaml_char_t *anchor = NULL, *tag = NULL;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	default:
		break;
	}
	if (anchor)
		return at_mark(ld, ev->start_mark, e, RF_ECONFIG,
			       "anchors and aliases are not allowed");
	if (tag)
		return at_mark(ld, ev->start_mark, e, RF_ECONFIG,
			       "tags are not allowed");
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		return at_mark(ld, ev->start_mark, e, RF_ECONFIG,
			       "anchors and aliases are not allowed");
	case YAML_DOCUMENT_START_EVENT:
		if (++ld->documents > 1)
			return at_mark(ld, ev->start_mark, e, RF_ECONFIG,
				       "only one document is allowed");
		return RF_OK;
	case YAML_SCALAR_EVENT:
		return on_scalar(ld, ev, e);
	case YAML_SEQUENCE_START_EVENT:
		return on_start(ld, ev, RF_CFG_SEQ, e);
	case YAML_MAPPING_START_EVENT:
		return on_start(ld, ev, RF_CFG_MAP, e);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return on_end(ld, e);
	default:
		return RF_OK;
	}
}

static enum rf_rc parse(struct loader *ld, struct rf_err *e)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	enum rf_rc rc = RF_OK;
	bool done = false;

	if (!yaml_parser_initialize(&parser))
		return rf_err_set(e, RF_ENOMEM, "%s: out of memory", ld->name);
	yaml_parser_set_input_string(&parser, ld->input, ld->input_len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			rc = syntax_error(ld, &parser, e);
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = on_event(ld, &ev, e);
		yaml_event_delete(&ev);
		if (rc)
			break;
	}
	yaml_parser_delete(&parser);
	if (rc == RF_OK && !ld->cfg->root)
		rc = rf_err_set(e, RF_ECONFIG, "%s:1:1: configuration is empty",
				ld->name);
	return rc;
}

enum rf_rc rf_cfg_load_string(struct rf_cfg **out, const char *name,
			      const char *text, size_t len,
			      const struct rf_cfg_limits *lim, struct rf_err *e)
{
	struct loader ld;
	enum rf_rc rc;
	size_t max_bytes = RF_CFG_MAX_BYTES;

	if (!out)
		return rf_err_set(e, RF_EINVAL, "no output for configuration");
	*out = NULL;
	if (!name)
		name = "<string>";
	if (!text && len)
		return rf_err_set(e, RF_EINVAL, "%s: no text", name);
	memset(&ld, 0, sizeof ld);
	ld.max_depth = RF_CFG_MAX_DEPTH;
	ld.max_nodes = RF_CFG_MAX_NODES;
	if (lim) {
		if (lim->max_bytes)
			max_bytes = lim->max_bytes;
		if (lim->max_depth)
			ld.max_depth = lim->max_depth;
		if (lim->max_nodes)
			ld.max_nodes = lim->max_nodes;
	}
	if (len > max_bytes)
		return rf_err_set(e, RF_ETOOBIG,
				  "'%s' is larger than %zu bytes", name,
				  max_bytes);
	ld.input = (const unsigned char *)(text ? text : "");
	ld.input_len = len;
	ld.cfg = rf_calloc(1, sizeof *ld.cfg);
	if (!ld.cfg)
		return rf_err_set(e, RF_ENOMEM, "%s: out of memory", name);
	ld.cfg->name = rf_strdup(name);
	ld.frames = rf_calloc(ld.max_depth, sizeof *ld.frames);
	if (!ld.cfg->name || !ld.frames) {
		rc = rf_err_set(e, RF_ENOMEM, "%s: out of memory", name);
		goto out;
	}
	ld.name = ld.cfg->name;
	rc = parse(&ld, e);
out:
	rf_free(ld.frames);
	if (rc) {
		rf_cfg_destroy(ld.cfg);
		return rc;
	}
	*out = ld.cfg;
	return RF_OK;
}

/* Reads at most max bytes of path into b; RF_ETOOBIG beyond. */
static enum rf_rc read_file(const char *path, size_t max, struct rf_buf *b,
			    struct rf_err *e)
{
	struct stat st;
	enum rf_rc rc = RF_OK;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rf_err_set(e, errno == ENOENT ? RF_ENOTFOUND : RF_EIO,
				  "cannot open '%s': %s", path,
				  strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (uint64_t)st.st_size > max) {
		rc = rf_err_set(e, RF_ETOOBIG, "'%s' is larger than %zu bytes",
				path, max);
		goto out;
	}
	for (;;) {
		ssize_t n;

		rc = rf_buf_reserve(b, 4096, NULL);
		if (rc == RF_ETOOBIG) {
			rc = rf_err_set(e, RF_ETOOBIG,
					"'%s' is larger than %zu bytes", path,
					max);
			goto out;
		}
		if (rc) {
			rc = rf_err_set(e, rc, "%s: out of memory", path);
			goto out;
		}
		n = read(fd, b->data + b->len, 4096);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = rf_err_set(e, RF_EIO, "cannot read '%s': %s",
					path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		b->len += (size_t)n;
		if (b->len > max) {
			rc = rf_err_set(e, RF_ETOOBIG,
					"'%s' is larger than %zu bytes", path,
					max);
			goto out;
		}
	}
out:
	close(fd);
	return rc;
}

enum rf_rc rf_cfg_load_file(struct rf_cfg **out, const char *path,
			    const struct rf_cfg_limits *lim, struct rf_err *e)
{
	struct rf_buf b;
	size_t max = lim && lim->max_bytes ? lim->max_bytes : RF_CFG_MAX_BYTES;
	enum rf_rc rc;

	if (!out || !path)
		return rf_err_set(e, RF_EINVAL, "no configuration path");
	*out = NULL;
	/* room for max bytes, one 4 KiB read beyond to see that it is over */
	rf_buf_init(&b, max + 4096);
	rc = read_file(path, max, &b, e);
	if (rc == RF_OK)
		rc = rf_cfg_load_string(out, path, (const char *)b.data, b.len,
					lim, e);
	rf_buf_release(&b);
	return rc;
}

/* ---- navigation --------------------------------------------------------- */

static const struct rf_cfg_node *child_n(const struct rf_cfg_node *map,
					 const char *key, size_t len)
{
	if (!map || map->kind != RF_CFG_MAP)
		return NULL;
	for (size_t i = 0; i < map->count; i++) {
		const struct rf_cfg_node *k = map->keys[i];

		if (k->len == len && memcmp(k->text, key, len) == 0)
			return map->values[i];
	}
	return NULL;
}

const struct rf_cfg_node *rf_cfg_child(const struct rf_cfg_node *map,
				       const char *key)
{
	if (!key)
		return NULL;
	return child_n(map, key, strlen(key));
}

bool rf_cfg_is_null(const struct rf_cfg_node *n)
{
	if (!n || n->kind != RF_CFG_SCALAR || !n->plain)
		return false;
	return n->len == 0 || strcmp(n->text, "~") == 0 ||
	       strcmp(n->text, "null") == 0 || strcmp(n->text, "Null") == 0 ||
	       strcmp(n->text, "NULL") == 0;
}

/* Path syntax: segments "key" (no '.' or '['), joined by '.', each
 * optionally followed by indexes "[digits]"; may start with an index. */
static bool path_ok(const char *p)
{
	bool first = true;

	while (*p) {
		if (*p == '[') {
			size_t d = strspn(p + 1, "0123456789");

			if (d == 0 || p[1 + d] != ']')
				return false;
			p += d + 2;
		} else {
			size_t len;

			if (!first) {
				if (*p != '.')
					return false;
				p++;
			}
			len = strcspn(p, ".[]");
			if (len == 0 || p[len] == ']')
				return false;
			p += len;
		}
		first = false;
	}
	return true;
}

/*
 * Walks path below base. Returns RF_OK with *found set (NULL when a step is
 * missing, *deepest then being the last node reached), or RF_ECONFIG when a
 * step goes through a node of the wrong kind, or RF_EINVAL for a malformed
 * path.
 */
static enum rf_rc walk(const struct rf_cfg_node *base, const char *path,
		       const struct rf_cfg_node **found,
		       const struct rf_cfg_node **deepest, struct rf_err *e)
{
	const struct rf_cfg_node *n = base;
	const char *p = path;

	*found = NULL;
	*deepest = base;
	if (!base)
		return rf_err_set(e, RF_EINVAL, "no configuration node");
	if (!path_ok(path))
		goto bad;
	while (*p) {
		if (*p == '[') {
			char *end;
			unsigned long long i;

			if (p[1] < '0' || p[1] > '9')
				goto bad;
			errno = 0;
			i = strtoull(p + 1, &end, 10);
			if (errno || *end != ']')
				goto bad;
			if (n->kind != RF_CFG_SEQ)
				return type_error(n, "a sequence", e);
			if (i >= n->count)
				return RF_OK;
			n = n->values[i];
			p = end + 1;
		} else {
			size_t len;

			if (p != path) {
				if (*p != '.')
					goto bad;
				p++;
			}
			len = strcspn(p, ".[");
			if (len == 0)
				goto bad;
			if (n->kind != RF_CFG_MAP)
				return type_error(n, "a mapping", e);
			n = child_n(n, p, len);
			if (!n)
				return RF_OK;
			p += len;
		}
		*deepest = n;
	}
	*found = n;
	return RF_OK;
bad:
	return rf_err_set(e, RF_EINVAL, "malformed key path '%.80s'", path);
}

const struct rf_cfg_node *rf_cfg_find(const struct rf_cfg_node *base,
				      const char *path)
{
	const struct rf_cfg_node *n, *deepest;

	if (!path || walk(base, path, &n, &deepest, NULL) != RF_OK)
		return NULL;
	return n;
}

/* ---- typed getters ------------------------------------------------------ */

/* Finds the node at path. *n is NULL (and RF_OK returned) when an
 * optional key is absent; a required one is an error. */
static enum rf_rc lookup(const struct rf_cfg_node *base, const char *path,
			 unsigned flags, const struct rf_cfg_node **n,
			 struct rf_err *e)
{
	const struct rf_cfg_node *deepest;
	char bpath[PATH_MAX_SHOWN], full[PATH_MAX_SHOWN];
	enum rf_rc rc;

	*n = NULL;
	if (!path)
		return rf_err_set(e, RF_EINVAL, "no key path");
	rc = walk(base, path, n, &deepest, e);
	if (rc || *n || !(flags & RF_CFG_REQUIRED))
		return rc;
	rf_cfg_node_path(base, bpath, sizeof bpath);
	path_join(full, sizeof full, bpath, path, strlen(path));
	return rf_err_set(e, RF_ECONFIG, "%s:%u:%u: missing required key '%s'",
			  deepest->file, deepest->line, deepest->column, full);
}

/* Finds the non-null scalar at path, like lookup(). */
static enum rf_rc get_scalar(const struct rf_cfg_node *base, const char *path,
			     unsigned flags, const char *want,
			     const struct rf_cfg_node **n, struct rf_err *e)
{
	enum rf_rc rc = lookup(base, path, flags, n, e);

	if (rc || !*n)
		return rc;
	if ((*n)->kind != RF_CFG_SCALAR || rf_cfg_is_null(*n)) {
		rc = type_error(*n, want, e);
		*n = NULL;
		return rc;
	}
	return RF_OK;
}

enum rf_rc rf_cfg_get_node(const struct rf_cfg_node *base, const char *path,
			   enum rf_cfg_kind kind, unsigned flags,
			   const struct rf_cfg_node **out, struct rf_err *e)
{
	static const char *const names[] = {
		[RF_CFG_SCALAR] = "a scalar",
		[RF_CFG_MAP] = "a mapping",
		[RF_CFG_SEQ] = "a sequence",
	};
	const struct rf_cfg_node *n;
	enum rf_rc rc;

	if (kind && (kind < RF_CFG_SCALAR || kind > RF_CFG_SEQ))
		return rf_err_set(e, RF_EINVAL, "bad node kind %d", (int)kind);
	rc = lookup(base, path, flags, &n, e);
	if (rc || !n)
		return rc;
	if (kind && n->kind != kind)
		return type_error(n, names[kind], e);
	*out = n;
	return RF_OK;
}

enum rf_rc rf_cfg_get_str(const struct rf_cfg_node *base, const char *path,
			  unsigned flags, const char **out, struct rf_err *e)
{
	const struct rf_cfg_node *n;
	enum rf_rc rc = get_scalar(base, path, flags, "a string", &n, e);

	if (rc == RF_OK && n)
		*out = n->text;
	return rc;
}

/* Strict integer syntax: [+-]digits or [+-]0x hexdigits, nothing else. */
static bool parse_i64(const struct rf_cfg_node *n, int64_t *v, bool *range)
{
	const char *s = n->text, *d;
	char *end;
	long long x;
	int base = 10;

	*range = false;
	if (n->len == 0 || strlen(s) != n->len)
		return false;
	d = s + (*s == '+' || *s == '-');
	if (d[0] == '0' && (d[1] == 'x' || d[1] == 'X')) {
		base = 16;
		if (strspn(d + 2, "0123456789abcdefABCDEF") != strlen(d + 2) ||
		    !d[2])
			return false;
	} else if (!*d || strspn(d, "0123456789") != strlen(d)) {
		return false;
	}
	errno = 0;
	x = strtoll(s, &end, base);
	if (*end)
		return false;
	if (errno == ERANGE) {
		*range = true;
		return true;
	}
	*v = x;
	return true;
}

enum rf_rc rf_cfg_get_int(const struct rf_cfg_node *base, const char *path,
			  int64_t min, int64_t max, unsigned flags,
			  int64_t *out, struct rf_err *e)
{
	const struct rf_cfg_node *n;
	char want[96];
	int64_t v = 0;
	bool range;
	enum rf_rc rc;

	snprintf(want, sizeof want, "an integer in [%lld, %lld]",
		 (long long)min, (long long)max);
	rc = get_scalar(base, path, flags, want, &n, e);
	if (rc || !n)
		return rc;
	if (!parse_i64(n, &v, &range) || range || v < min || v > max)
		return type_error(n, want, e);
	*out = v;
	return RF_OK;
}

enum rf_rc rf_cfg_get_double(const struct rf_cfg_node *base, const char *path,
			     double min, double max, unsigned flags,
			     double *out, struct rf_err *e)
{
	const struct rf_cfg_node *n;
	char want[96], *end;
	double v;
	enum rf_rc rc;

	snprintf(want, sizeof want, "a number in [%g, %g]", min, max);
	rc = get_scalar(base, path, flags, want, &n, e);
	if (rc || !n)
		return rc;
	if (n->len == 0 || strlen(n->text) != n->len ||
	    strspn(n->text, "0123456789.eE+-") != n->len ||
	    strcspn(n->text, "0123456789") == n->len)
		return type_error(n, want, e);
	v = strtod(n->text, &end);
	if (*end || !isfinite(v) || v < min || v > max)
		return type_error(n, want, e);
	*out = v;
	return RF_OK;
}

static bool word_is(const struct rf_cfg_node *n, const char *w)
{
	size_t len = strlen(w);

	if (n->len != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = n->text[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != w[i])
			return false;
	}
	return true;
}

enum rf_rc rf_cfg_get_bool(const struct rf_cfg_node *base, const char *path,
			   unsigned flags, bool *out, struct rf_err *e)
{
	static const char want[] = "true, false, yes or no";
	const struct rf_cfg_node *n;
	enum rf_rc rc = get_scalar(base, path, flags, want, &n, e);

	if (rc || !n)
		return rc;
	if (word_is(n, "true") || word_is(n, "yes"))
		*out = true;
	else if (word_is(n, "false") || word_is(n, "no"))
		*out = false;
	else
		return type_error(n, want, e);
	return RF_OK;
}

enum rf_rc rf_cfg_get_enum(const struct rf_cfg_node *base, const char *path,
			   const char *const *allowed, unsigned flags,
			   int *out, struct rf_err *e)
{
	const struct rf_cfg_node *n;
	char want[160];
	size_t at;
	enum rf_rc rc;

	if (!allowed)
		return rf_err_set(e, RF_EINVAL, "no allowed values");
	at = cpy_trunc(want, 0, sizeof want, "one of ", 7);
	for (int i = 0; allowed[i]; i++) {
		if (i)
			at = cpy_trunc(want, at, sizeof want, ", ", 2);
		at = cpy_trunc(want, at, sizeof want, allowed[i],
			       strlen(allowed[i]));
	}
	rc = get_scalar(base, path, flags, want, &n, e);
	if (rc || !n)
		return rc;
	for (int i = 0; allowed[i]; i++) {
		if (strlen(allowed[i]) == n->len &&
		    memcmp(allowed[i], n->text, n->len) == 0) {
			*out = i;
			return RF_OK;
		}
	}
	return type_error(n, want, e);
}

/* Parses leading decimal digits of s into *v; returns the rest, or NULL on
 * no digits or overflow of UINT64 (then *overflow is set). */
static const char *parse_u64(const char *s, uint64_t *v, bool *overflow)
{
	uint64_t x = 0;
	const char *p = s;

	*overflow = false;
	while (*p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');

		if (x > (UINT64_MAX - d) / 10) {
			*overflow = true;
			return NULL;
		}
		x = x * 10 + d;
		p++;
	}
	if (p == s)
		return NULL;
	*v = x;
	return p;
}

static const struct unit {
	const char *name;
	uint64_t mult;
} duration_units[] = {
	{"ms", 1},
	{"s", 1000},
	{"m", 60000},
	{"h", 3600000},
	{"d", 86400000},
	{NULL, 0},
}, size_units[] = {
	{"", 1},          {"B", 1},
	{"k", 1000},      {"K", 1000},
	{"kB", 1000},     {"KB", 1000},
	{"M", 1000000},   {"MB", 1000000},
	{"G", 1000000000}, {"GB", 1000000000},
	{"T", 1000000000000}, {"TB", 1000000000000},
	{"Ki", 1024},     {"KiB", 1024},
	{"Mi", 1048576},  {"MiB", 1048576},
	{"Gi", 1073741824}, {"GiB", 1073741824},
	{"Ti", 1099511627776}, {"TiB", 1099511627776},
	{NULL, 0},
};

static enum rf_rc parse_with_units(const char *s, const struct unit *units,
				   uint64_t limit, const char *what,
				   uint64_t *out, struct rf_err *e)
{
	const char *rest;
	uint64_t v = 0;
	bool overflow;

	if (!s)
		return rf_err_set(e, RF_EINVAL, "invalid %s ''", what);
	rest = parse_u64(s, &v, &overflow);
	if (overflow)
		return rf_err_set(e, RF_ETOOBIG, "%s '%.40s' is too large",
				  what, s);
	if (!rest)
		return rf_err_set(e, RF_EINVAL, "invalid %s '%.40s'", what, s);
	if (!*rest && v == 0) {
		*out = 0;
		return RF_OK;
	}
	for (const struct unit *u = units; u->name; u++) {
		if (strcmp(rest, u->name) != 0)
			continue;
		if (v > limit / u->mult)
			return rf_err_set(e, RF_ETOOBIG,
					  "%s '%.40s' is too large", what, s);
		*out = v * u->mult;
		return RF_OK;
	}
	return rf_err_set(e, RF_EINVAL, "invalid %s '%.40s'", what, s);
}

enum rf_rc rf_cfg_parse_duration(const char *s, int64_t *out_ms,
				 struct rf_err *e)
{
	uint64_t v;
	enum rf_rc rc = parse_with_units(s, duration_units, INT64_MAX,
					 "duration", &v, e);

	if (rc == RF_OK)
		*out_ms = (int64_t)v;
	return rc;
}

enum rf_rc rf_cfg_parse_size(const char *s, uint64_t *out, struct rf_err *e)
{
	return parse_with_units(s, size_units, UINT64_MAX, "size", out, e);
}

/* The largest unit that divides v exactly: 86400000 -> "1d". */
static void fmt_units(char *buf, size_t n, uint64_t v, const struct unit *u,
		      size_t count)
{
	for (size_t i = count; i-- > 0;) {
		if (u[i].mult > 1 && v >= u[i].mult && v % u[i].mult == 0) {
			snprintf(buf, n, "%llu%s",
				 (unsigned long long)(v / u[i].mult),
				 u[i].name);
			return;
		}
	}
	snprintf(buf, n, "%llu%s", (unsigned long long)v, u[0].name);
}

enum rf_rc rf_cfg_get_duration(const struct rf_cfg_node *base,
			       const char *path, int64_t min_ms,
			       int64_t max_ms, unsigned flags, int64_t *out_ms,
			       struct rf_err *e)
{
	const struct rf_cfg_node *n;
	char want[128], lo[32], hi[32];
	int64_t v;
	enum rf_rc rc;

	fmt_units(lo, sizeof lo, min_ms < 0 ? 0 : (uint64_t)min_ms,
		  duration_units, 5);
	fmt_units(hi, sizeof hi, max_ms < 0 ? 0 : (uint64_t)max_ms,
		  duration_units, 5);
	snprintf(want, sizeof want, "a duration (e.g. 30s, 24h) in [%s, %s]",
		 lo, hi);
	rc = get_scalar(base, path, flags, want, &n, e);
	if (rc || !n)
		return rc;
	if (strlen(n->text) != n->len ||
	    rf_cfg_parse_duration(n->text, &v, NULL) != RF_OK || v < min_ms ||
	    v > max_ms)
		return type_error(n, want, e);
	*out_ms = v;
	return RF_OK;
}

enum rf_rc rf_cfg_get_size(const struct rf_cfg_node *base, const char *path,
			   uint64_t min, uint64_t max, unsigned flags,
			   uint64_t *out, struct rf_err *e)
{
	/* binary units read better for limits; shown as KiB, MiB, ... */
	static const struct unit shown[] = {
		{"B", 1}, {"KiB", 1024}, {"MiB", 1048576},
		{"GiB", 1073741824}, {"TiB", 1099511627776},
	};
	const struct rf_cfg_node *n;
	char want[128], lo[32], hi[32];
	uint64_t v;
	enum rf_rc rc;

	fmt_units(lo, sizeof lo, min, shown, 5);
	fmt_units(hi, sizeof hi, max, shown, 5);
	snprintf(want, sizeof want, "a size (e.g. 512k, 1MiB) in [%s, %s]", lo,
		 hi);
	rc = get_scalar(base, path, flags, want, &n, e);
	if (rc || !n)
		return rc;
	if (strlen(n->text) != n->len ||
	    rf_cfg_parse_size(n->text, &v, NULL) != RF_OK || v < min ||
	    v > max)
		return type_error(n, want, e);
	*out = v;
	return RF_OK;
}

/* ---- schema ------------------------------------------------------------- */

#define EDIT_MAX 64

/* Levenshtein distance between a (len la) and b, both <= EDIT_MAX. */
static size_t edit_distance(const char *a, size_t la, const char *b)
{
	size_t lb = strlen(b), prev[EDIT_MAX + 1], cur[EDIT_MAX + 1];

	if (la > EDIT_MAX || lb > EDIT_MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? sub : del;
			if (ins < cur[j])
				cur[j] = ins;
		}
		memcpy(prev, cur, (lb + 1) * sizeof *prev);
	}
	return prev[lb];
}

static enum rf_rc unknown_key(const struct rf_cfg_node *key,
			      const struct rf_cfg_key *table, struct rf_err *e)
{
	char path[PATH_MAX_SHOWN], hint[EDIT_MAX + 32] = "", list[160];
	const char *best = NULL;
	size_t best_d = 3, at = 0;

	for (const struct rf_cfg_key *k = table; k->name; k++) {
		size_t d = edit_distance(key->text, key->len, k->name);

		if (d < best_d && d < strlen(k->name)) {
			best_d = d;
			best = k->name;
		}
		if (k != table)
			at = cpy_trunc(list, at, sizeof list, ", ", 2);
		at = cpy_trunc(list, at, sizeof list, k->name,
			       strlen(k->name));
	}
	if (at == 0)
		cpy_trunc(list, 0, sizeof list, "(none)", 6);
	if (best)
		snprintf(hint, sizeof hint, " (did you mean '%s'?)", best);
	return rf_err_set(e, RF_ECONFIG,
			  "%s:%u:%u: unknown key '%s'%s; expected: %s",
			  key->file, key->line, key->column,
			  rf_cfg_node_path(key, path, sizeof path), hint, list);
}

static enum rf_rc check_map(const struct rf_cfg_node *map,
			    const struct rf_cfg_key *table, unsigned depth,
			    struct rf_err *e);

static enum rf_rc check_sub(const struct rf_cfg_node *v,
			    const struct rf_cfg_key *sub, unsigned depth,
			    struct rf_err *e)
{
	enum rf_rc rc;

	if (v->kind == RF_CFG_MAP)
		return check_map(v, sub, depth + 1, e);
	if (v->kind != RF_CFG_SEQ)
		return type_error(v, "a mapping", e);
	for (size_t i = 0; i < v->count; i++) {
		if (v->values[i]->kind != RF_CFG_MAP)
			return type_error(v->values[i], "a mapping", e);
		rc = check_map(v->values[i], sub, depth + 1, e);
		if (rc)
			return rc;
	}
	return RF_OK;
}

static enum rf_rc check_map(const struct rf_cfg_node *map,
			    const struct rf_cfg_key *table, unsigned depth,
			    struct rf_err *e)
{
	char bpath[PATH_MAX_SHOWN], full[PATH_MAX_SHOWN];
	enum rf_rc rc;

	if (depth > 2 * RF_CFG_MAX_DEPTH)
		return rf_err_set(e, RF_EINVAL, "key table nested too deep");
	for (size_t i = 0; i < map->count; i++) {
		const struct rf_cfg_node *key = map->keys[i];
		const struct rf_cfg_key *k;

		for (k = table; k->name; k++)
			if (strlen(k->name) == key->len &&
			    memcmp(k->name, key->text, key->len) == 0)
				break;
		if (!k->name)
			return unknown_key(key, table, e);
		if (k->sub) {
			rc = check_sub(map->values[i], k->sub, depth, e);
			if (rc)
				return rc;
		}
	}
	for (const struct rf_cfg_key *k = table; k->name; k++) {
		if (!(k->flags & RF_CFG_REQUIRED) || rf_cfg_child(map, k->name))
			continue;
		rf_cfg_node_path(map, bpath, sizeof bpath);
		path_join(full, sizeof full, bpath, k->name, strlen(k->name));
		return rf_err_set(e, RF_ECONFIG,
				  "%s:%u:%u: missing required key '%s'",
				  map->file, map->line, map->column, full);
	}
	return RF_OK;
}

enum rf_rc rf_cfg_check_keys(const struct rf_cfg_node *map,
			     const struct rf_cfg_key *table, struct rf_err *e)
{
	if (!map || !table)
		return rf_err_set(e, RF_EINVAL,
				  "no configuration or key table");
	if (map->kind != RF_CFG_MAP)
		return type_error(map, "a mapping", e);
	return check_map(map, table, 0, e);
}
