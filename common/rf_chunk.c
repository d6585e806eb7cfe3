/*
 * rf_chunk.c - payloads as streams of radfed.Chunk messages.
 *
 * The sender encodes each Chunk by hand, straight into one buffer: the
 * wrapper's tag and length, offset, the data field's tag and length, then
 * the data itself (read from the file into its place, so a chunk is never
 * copied), and in the last message last, total_bytes and sha256. Fields
 * equal to proto3 defaults are left out, as protobuf-c does. The receiver
 * decodes a bare Chunk by hand too (chunk_decode: the data stays where it
 * arrived instead of being copied into a new allocation per chunk, as
 * protobuf-c would), with protobuf's rules (any field order, the last of a
 * repeated scalar wins, unknown fields skipped), and checks every chunk
 * before it writes a byte of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "radfed.pb-c.h"
#include "rf_alloc.h"
#include "rf_chunk.h"
#include "rf_file.h"

/* Chunk's field numbers */
enum {
	F_OFFSET = 1,
	F_DATA = 2,
	F_LAST = 3,
	F_TOTAL = 4,
	F_SHA256 = 5,
};

#define WT_VARINT 0u
#define WT_LEN 2u

/* ---- encoding ----------------------------------------------------------- */

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *varint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *tag_put(uint8_t *p, unsigned field, unsigned wt)
{
	return varint_put(p, ((uint64_t)field << 3) | wt);
}

static void hex_of(const uint8_t d[RF_SHA256_LEN],
		   char hex[2 * RF_SHA256_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < RF_SHA256_LEN; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[2 * RF_SHA256_LEN] = '\0';
}

/* Reads exactly n bytes at the file's current position. */
static enum rf_rc read_full(int fd, uint8_t *p, size_t n, struct rf_err *e)
{
	while (n > 0) {
		ssize_t k = read(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return rf_err_set(e, RF_EIO, "cannot read the payload: "
					  "%s", strerror(errno));
		if (k == 0)
			return rf_err_set(e, RF_EIO, "cannot read the payload: "
					  "the file got shorter");
		p += k;
		n -= (size_t)k;
	}
	return RF_OK;
}

static enum rf_rc write_full(int fd, const uint8_t *p, size_t n,
			     const char *path, struct rf_err *e)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return rf_err_set(e, RF_EIO, "cannot write '%s': %s",
					  path, strerror(errno));
		p += k;
		n -= (size_t)k;
	}
	return RF_OK;
}

/* ---- sending ------------------------------------------------------------ */

static enum rf_rc out_start(struct rf_chunk_out *o, unsigned wrap,
			    struct rf_err *e)
{
	enum rf_rc rc;

	if (wrap >= (1u << 29))
		return rf_err_set(e, RF_EINVAL, "bad field number %u", wrap);
	o->wrap = wrap;
	rf_buf_init(&o->msg, RF_CHUNK_MSG_MAX);
	rc = rf_buf_reserve(&o->msg, RF_CHUNK_MSG_MAX, e);
	if (rc == RF_OK)
		rc = rf_sha256_init(&o->h, e);
	if (rc) {
		rf_sha256_release(&o->h);
		rf_buf_release(&o->msg);
	}
	return rc;
}

enum rf_rc rf_chunk_out_file(struct rf_chunk_out *o, const char *path,
			     unsigned wrap, struct rf_err *e)
{
	struct stat st;
	enum rf_rc rc;

	memset(o, 0, sizeof *o);
	o->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (o->fd < 0) {
		int err = errno;

		return rf_err_set(e, err == ENOENT ? RF_ENOTFOUND : RF_EIO,
				  "cannot open '%s': %s", path,
				  strerror(err));
	}
	if (fstat(o->fd, &st) != 0) {
		rc = rf_err_set(e, RF_EIO, "cannot read '%s': %s", path,
				strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = rf_err_set(e, RF_EIO, "cannot read '%s': not a regular "
				"file", path);
		goto fail;
	}
	o->total = (uint64_t)st.st_size;
	rc = out_start(o, wrap, e);
	if (rc == RF_OK)
		return RF_OK;
	rf_err_prefix(e, "cannot send '%s'", path);
fail:
	close(o->fd);
	memset(o, 0, sizeof *o);
	o->fd = -1;
	return rc;
}

enum rf_rc rf_chunk_out_mem(struct rf_chunk_out *o, const void *p, size_t n,
			    unsigned wrap, struct rf_err *e)
{
	enum rf_rc rc;

	memset(o, 0, sizeof *o);
	o->fd = -1;
	if (!p && n)
		return rf_err_set(e, RF_EINVAL, "cannot send NULL data");
	o->mem = p;
	o->total = n;
	rc = out_start(o, wrap, e);
	if (rc) {
		memset(o, 0, sizeof *o);
		o->fd = -1;
	}
	return rc;
}

void rf_chunk_out_announce(struct rf_chunk_out *o,
			   const uint8_t sha256[RF_SHA256_LEN])
{
	memcpy(o->sha256, sha256, RF_SHA256_LEN);
	o->known = 1;
}

enum rf_rc rf_chunk_out_next(struct rf_chunk_out *o, const uint8_t **p,
			     size_t *n, int *last, struct rf_err *e)
{
	uint64_t left = o->total - o->offset;
	size_t k = left < RF_CHUNK_DATA ? (size_t)left : RF_CHUNK_DATA;
	size_t inner = 0, trailer = 0;
	uint8_t *w, *start, *data;
	int is_last = o->offset + k == o->total;
	enum rf_rc rc;

	*p = NULL;
	*n = 0;
	*last = 0;
	if (o->done)
		return RF_OK;
	if (!o->msg.data)
		return rf_err_set(e, RF_EINVAL, "chunk sender not prepared");
	if (o->offset)
		inner += 1 + varint_len(o->offset);
	if (k)
		inner += 1 + varint_len(k) + k;
	if (is_last) {
		trailer = 2; /* last = true */
		if (o->total)
			trailer += 1 + varint_len(o->total);
		trailer += 2 + RF_SHA256_LEN;
		inner += trailer;
	}
	start = w = o->msg.data;
	if (o->wrap) {
		w = tag_put(w, o->wrap, WT_LEN);
		w = varint_put(w, inner);
	}
	if (o->offset) {
		w = tag_put(w, F_OFFSET, WT_VARINT);
		w = varint_put(w, o->offset);
	}
	if (k) {
		w = tag_put(w, F_DATA, WT_LEN);
		w = varint_put(w, k);
	}
	data = w;
	if (o->fd >= 0) {
		rc = read_full(o->fd, data, k, e);
		if (rc)
			return rc;
	} else if (k) {
		memcpy(data, o->mem + o->offset, k);
	}
	rc = o->known ? RF_OK : rf_sha256_update(&o->h, data, k, e);
	if (rc)
		return rc;
	w += k;
	o->offset += k;
	if (is_last) {
		if (o->fd >= 0) {
			uint8_t extra;
			ssize_t r = read(o->fd, &extra, 1);

			if (r != 0)
				return rf_err_set(e, RF_EINTEGRITY,
						  "the payload changed while "
						  "it was sent");
		}
		rc = o->known ? RF_OK : rf_sha256_final(&o->h, o->sha256, e);
		if (rc)
			return rc;
		w = tag_put(w, F_LAST, WT_VARINT);
		*w++ = 1;
		if (o->total) {
			w = tag_put(w, F_TOTAL, WT_VARINT);
			w = varint_put(w, o->total);
		}
		w = tag_put(w, F_SHA256, WT_LEN);
		*w++ = RF_SHA256_LEN;
		memcpy(w, o->sha256, RF_SHA256_LEN);
		w += RF_SHA256_LEN;
		o->done = 1;
	}
	o->msg.len = (size_t)(w - start);
	*p = start;
	*n = o->msg.len;
	*last = is_last;
	return RF_OK;
}

enum rf_rc rf_chunk_hash_file(const char *path, uint8_t out[RF_SHA256_LEN],
			      char hex[2 * RF_SHA256_LEN + 1], uint64_t *bytes,
			      struct rf_err *e)
{
	struct rf_chunk_out o;
	const uint8_t *p;
	size_t n;
	int last = 0;
	enum rf_rc rc;

	rc = rf_chunk_out_file(&o, path, 0, e);
	if (rc)
		return rc;
	while (!last) {
		rc = rf_chunk_out_next(&o, &p, &n, &last, e);
		if (rc) {
			rf_err_prefix(e, "cannot hash '%s'", path);
			goto out;
		}
	}
	if (out)
		memcpy(out, o.sha256, RF_SHA256_LEN);
	if (hex)
		hex_of(o.sha256, hex);
	if (bytes)
		*bytes = o.total;
out:
	rf_chunk_out_release(&o);
	return rc;
}

void rf_chunk_out_release(struct rf_chunk_out *o)
{
	if (!o)
		return;
	/* a zeroed o has fd 0 but no buffer: only a prepared one owns fd */
	if (o->msg.max && o->fd >= 0)
		close(o->fd);
	rf_sha256_release(&o->h);
	rf_buf_release(&o->msg);
	memset(o, 0, sizeof *o);
	o->fd = -1;
}

/* ---- receiving ---------------------------------------------------------- */

enum rf_rc rf_chunk_in_file(struct rf_chunk_in *in, const char *path,
			    uint64_t max, struct rf_err *e)
{
	static const char suffix[] = ".part.XXXXXX";
	size_t plen = strlen(path);
	enum rf_rc rc;

	memset(in, 0, sizeof *in);
	in->fd = -1;
	in->max = max;
	in->path = rf_strdup(path);
	in->tmp = rf_malloc(plen + sizeof suffix);
	if (!in->path || !in->tmp) {
		rc = rf_err_set(e, RF_ENOMEM, "out of memory receiving '%s'",
				path);
		goto fail;
	}
	memcpy(in->tmp, path, plen);
	memcpy(in->tmp + plen, suffix, sizeof suffix);
	rc = rf_sha256_init(&in->h, e);
	if (rc)
		goto fail;
	in->fd = mkstemp(in->tmp); /* O_EXCL, mode 0600 */
	if (in->fd < 0) {
		rc = rf_err_set(e, RF_EIO, "cannot create '%s': %s", in->tmp,
				strerror(errno));
		goto fail;
	}
	return RF_OK;
fail:
	rf_sha256_release(&in->h);
	rf_free(in->path);
	rf_free(in->tmp);
	memset(in, 0, sizeof *in);
	in->fd = -1;
	return rc;
}

enum rf_rc rf_chunk_in_mem(struct rf_chunk_in *in, struct rf_buf *out,
			   uint64_t max, struct rf_err *e)
{
	enum rf_rc rc;

	memset(in, 0, sizeof *in);
	in->fd = -1;
	rf_buf_reset(out);
	in->out = out;
	in->max = max < out->max ? max : out->max;
	rc = rf_sha256_init(&in->h, e);
	if (rc) {
		memset(in, 0, sizeof *in);
		in->fd = -1;
	}
	return rc;
}

/* Marks the transfer dead and returns rc. */
static enum rf_rc in_fail(struct rf_chunk_in *in, enum rf_rc rc)
{
	in->done = -1;
	return rc;
}

enum rf_rc rf_chunk_in_add(struct rf_chunk_in *in,
			   const struct ProtobufCMessage *chunk,
			   struct rf_err *e)
{
	const Radfed__Chunk *c = (const Radfed__Chunk *)chunk;
	size_t k;
	enum rf_rc rc;

	if (in->done < 0)
		return rf_err_set(e, RF_EPROTO, "chunk after a failed one");
	if (!in->out && !in->tmp)
		return rf_err_set(e, RF_EINVAL, "chunk receiver not prepared");
	if (!chunk || chunk->descriptor != &radfed__chunk__descriptor)
		return in_fail(in, rf_err_set(e, RF_EINVAL,
					      "not a radfed.Chunk message"));
	if (in->done)
		return in_fail(in, rf_err_set(e, RF_EPROTO,
					      "chunk after the last one"));
	if (c->offset != in->received)
		return in_fail(in, rf_err_set(
				e, RF_EPROTO,
				"chunk at offset %llu, expected %llu",
				(unsigned long long)c->offset,
				(unsigned long long)in->received));
	k = c->data.len;
	if (k > RF_CHUNK_DATA)
		return in_fail(in, rf_err_set(e, RF_EPROTO,
					      "chunk of %zu bytes exceeds %u",
					      k, RF_CHUNK_DATA));
	if (k > in->max || in->received > in->max - k)
		return in_fail(in, rf_err_set(e, RF_ETOOBIG,
					      "payload exceeds the limit of "
					      "%llu bytes",
					      (unsigned long long)in->max));
	if (k) {
		if (in->out)
			rc = rf_buf_append(in->out, c->data.data, k, e);
		else
			rc = write_full(in->fd, c->data.data, k, in->tmp, e);
		if (rc == RF_OK)
			rc = rf_sha256_update(&in->h, c->data.data, k, e);
		if (rc)
			return in_fail(in, rc);
	}
	in->received += k;
	if (!c->last)
		return RF_OK;
	if (c->total_bytes != in->received)
		return in_fail(in, rf_err_set(e, RF_EINTEGRITY,
					      "stream of %llu bytes announces "
					      "%llu",
					      (unsigned long long)in->received,
					      (unsigned long long)
						      c->total_bytes));
	rc = rf_sha256_final(&in->h, in->sha256, e);
	if (rc)
		return in_fail(in, rc);
	if (c->sha256.len != RF_SHA256_LEN ||
	    !rf_ct_equal(c->sha256.data, in->sha256, RF_SHA256_LEN))
		return in_fail(in, rf_err_set(e, RF_EINTEGRITY,
					      "SHA-256 of the stream does not "
					      "match the announced one"));
	in->done = 1;
	return RF_OK;
}

/* Reads a varint at *p (before end) into *v. 0 when truncated or longer
 * than 10 bytes. */
static int varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t r = 0;

	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		r |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = r;
			return 1;
		}
	}
	return 0;
}

/* Decodes the n bytes at p as a radfed.Chunk into c, whose bytes fields
 * then point into p. RF_EPROTO naming what is wrong. */
static enum rf_rc chunk_decode(const uint8_t *p, size_t n, Radfed__Chunk *c,
			       struct rf_err *e)
{
	const uint8_t *end;
	Radfed__Chunk init = RADFED__CHUNK__INIT;

	*c = init;
	if (!p)
		return n ? rf_err_set(e, RF_EINVAL, "no chunk data") : RF_OK;
	end = p + n;
	while (p < end) {
		uint64_t key, v, len;
		unsigned wt;

		const uint8_t *k0 = p;

		/* a key is a 32-bit varint: at most 5 bytes, as protobuf-c
		 * reads it; field 0 does not exist */
		if (!varint_get(&p, end, &key) || p - k0 > 5 ||
		    key > UINT32_MAX)
			goto bad;
		wt = (unsigned)(key & 7);
		key >>= 3;
		if (key == 0)
			goto bad;
		switch (wt) {
		case WT_VARINT:
			if (!varint_get(&p, end, &v))
				goto bad;
			if (key == F_OFFSET)
				c->offset = v;
			else if (key == F_LAST)
				c->last = v != 0;
			else if (key == F_TOTAL)
				c->total_bytes = v;
			else if (key == F_DATA || key == F_SHA256)
				goto bad;
			break;
		case WT_LEN:
			if (!varint_get(&p, end, &len) ||
			    len > (uint64_t)(end - p))
				goto bad;
			if (key == F_DATA) {
				c->data.data = (uint8_t *)p;
				c->data.len = (size_t)len;
			} else if (key == F_SHA256) {
				c->sha256.data = (uint8_t *)p;
				c->sha256.len = (size_t)len;
			} else if (key <= F_SHA256) {
				goto bad;
			}
			p += len;
			break;
		case 1: /* 64-bit */
		case 5: /* 32-bit */
			len = wt == 1 ? 8 : 4;
			if (key <= F_SHA256 || len > (uint64_t)(end - p))
				goto bad;
			p += len;
			break;
		default: /* groups: not in proto3 */
			goto bad;
		}
	}
	return RF_OK;
bad:
	return rf_err_set(e, RF_EPROTO, "malformed radfed.Chunk message "
			  "(%zu bytes)", n);
}

enum rf_rc rf_chunk_in_feed(struct rf_chunk_in *in, const uint8_t *p,
			    size_t n, struct rf_err *e)
{
	Radfed__Chunk c;
	enum rf_rc rc;

	if (in->done < 0)
		return rf_err_set(e, RF_EPROTO, "chunk after a failed one");
	if (n > RF_CHUNK_MSG_MAX)
		return in_fail(in, rf_err_set(e, RF_ETOOBIG,
					      "radfed.Chunk message of %zu "
					      "bytes exceeds the limit of %u "
					      "bytes", n, RF_CHUNK_MSG_MAX));
	rc = chunk_decode(p, n, &c, e);
	if (rc)
		return in_fail(in, rc);
	return rf_chunk_in_add(in, &c.base, e);
}

/* The directory part of path ("." when there is none) into out. */
static void dir_of(const char *path, char *out, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(out, size, ".");
	else if (slash == path)
		snprintf(out, size, "/");
	else
		snprintf(out, size, "%.*s", (int)(slash - path), path);
}

enum rf_rc rf_chunk_in_finish(struct rf_chunk_in *in,
			      char hex[2 * RF_SHA256_LEN + 1],
			      uint64_t *bytes, struct rf_err *e)
{
	char dir[PATH_MAX];
	enum rf_rc rc;

	if (in->done < 0)
		return rf_err_set(e, RF_EPROTO, "transfer already failed");
	if (in->done != 1)
		return in_fail(in, rf_err_set(e, RF_EPROTO,
					      "stream ended before its last "
					      "chunk (%llu bytes received)",
					      (unsigned long long)
						      in->received));
	if (in->tmp) {
		if (in->fd < 0)
			return rf_err_set(e, RF_EINVAL,
					  "transfer already finished");
		if (fsync(in->fd) != 0) {
			rc = rf_err_set(e, RF_EIO, "cannot write '%s': %s",
					in->tmp, strerror(errno));
			return in_fail(in, rc);
		}
		close(in->fd);
		in->fd = -1;
		if (rename(in->tmp, in->path) != 0) {
			rc = rf_err_set(e, RF_EIO,
					"cannot rename '%s' to '%s': %s",
					in->tmp, in->path, strerror(errno));
			return in_fail(in, rc);
		}
		rf_free(in->tmp);
		in->tmp = NULL;
		dir_of(in->path, dir, sizeof dir);
		rc = rf_dir_sync(dir, e);
		if (rc)
			return rc;
	}
	if (hex)
		hex_of(in->sha256, hex);
	if (bytes)
		*bytes = in->received;
	return RF_OK;
}

void rf_chunk_in_release(struct rf_chunk_in *in)
{
	if (!in)
		return;
	/* a zeroed in has fd 0 but no temporary file: only a file receiver
	 * owns its fd */
	if (in->tmp) {
		if (in->fd >= 0)
			close(in->fd);
		unlink(in->tmp);
	}
	rf_sha256_release(&in->h);
	rf_free(in->tmp);
	rf_free(in->path);
	memset(in, 0, sizeof *in);
	in->fd = -1;
}

/* ---- with rf_rpc -------------------------------------------------------- */

enum rf_rc rf_chunk_send(struct rf_rpc_call *call, struct rf_chunk_out *o,
			 struct rf_err *e)
{
	const uint8_t *p;
	size_t n;
	int last = 0;
	enum rf_rc rc;

	if (o->wrap)
		return rf_err_set(e, RF_EINVAL,
				  "a server stream sends bare chunks");
	while (!last) {
		rc = rf_chunk_out_next(o, &p, &n, &last, e);
		if (rc == RF_OK)
			rc = rf_rpc_call_send(call, p, n, e);
		if (rc)
			return rc;
	}
	return RF_OK;
}

static enum rf_rc download_feed(const uint8_t *p, size_t n, void *ctx,
				struct rf_err *e)
{
	return rf_chunk_in_feed(ctx, p, n, e);
}

enum rf_rc rf_chunk_download(struct rf_rpc_client *c, const char *method,
			     const void *req, size_t req_len,
			     int64_t deadline_ms, struct rf_chunk_in *in,
			     char hex[2 * RF_SHA256_LEN + 1], uint64_t *bytes,
			     struct rf_err *e)
{
	enum rf_rc rc;

	rc = rf_rpc_client_server_stream(c, method, req, req_len, deadline_ms,
					 download_feed, in, e);
	if (rc)
		return in_fail(in, rc);
	return rf_chunk_in_finish(in, hex, bytes, e);
}
