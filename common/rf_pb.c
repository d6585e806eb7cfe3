/* rf_pb.c - protobuf-c allocator bridge and bounded decoding. The only
 * global is the allocator, const in all but the type protobuf-c wants. */
#include "rf_pb.h"

#include "rf_alloc.h"

/* Per-call allocator state: protobuf-c reports both a malformed input and a
 * failed allocation as NULL, so the allocator remembers which it was. */
struct unpack_state {
	int alloc_failed;
};

static void *pb_alloc(void *data, size_t size)
{
	(void)data;
	return rf_malloc(size);
}

static void pb_free(void *data, void *p)
{
	(void)data;
	rf_free(p);
}

static void *pb_alloc_tracked(void *data, size_t size)
{
	struct unpack_state *st = data;
	void *p = rf_malloc(size);

	if (!p)
		st->alloc_failed = 1;
	return p;
}

static ProtobufCAllocator allocator = {pb_alloc, pb_free, NULL};

ProtobufCAllocator *rf_pb_allocator(void)
{
	return &allocator;
}

/* Nonzero when m or a message inside it kept an unknown field numbered 0:
 * protobuf-c 1.4 refuses field 0 in a one-byte key but keeps it from a
 * longer one, and would then encode it back in a form it refuses itself.
 * Field 0 does not exist in protobuf: such an encoding is malformed. */
static int has_field0(const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	if (depth > 64)
		return 1;
	for (size_t i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return 1;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(const void *)(base +
						      f->quantifier_offset) !=
			    f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(const void *)(
				base + f->quantifier_offset);
			ProtobufCMessage *const *v =
				*(ProtobufCMessage *const *const *)(
					const void *)(base + f->offset);

			for (size_t j = 0; j < n; j++)
				if (v[j] && has_field0(v[j], depth + 1))
					return 1;
		} else {
			const ProtobufCMessage *sub =
				*(const ProtobufCMessage *const *)(
					const void *)(base + f->offset);

			if (sub && has_field0(sub, depth + 1))
				return 1;
		}
	}
	return 0;
}

enum rf_rc rf_pb_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *p,
			size_t n, size_t max, ProtobufCMessage **out,
			struct rf_err *e)
{
	struct unpack_state st = {0};
	ProtobufCAllocator a = {pb_alloc_tracked, pb_free, &st};
	ProtobufCMessage *m;

	if (out)
		*out = NULL;
	if (!d || !out || (!p && n > 0))
		return rf_err_set(e, RF_EINVAL, "cannot decode: no %s",
				  !d ? "descriptor" : !out ? "output" : "data");
	if (n > max)
		return rf_err_set(e, RF_ETOOBIG,
				  "%s message of %zu bytes exceeds the limit "
				  "of %zu bytes",
				  d->name, n, max);
	m = protobuf_c_message_unpack(d, &a, n, p ? p : (const uint8_t *)"");
	if (!m) {
		if (st.alloc_failed)
			return rf_err_set(e, RF_ENOMEM,
					  "cannot decode %s message (%zu "
					  "bytes): out of memory",
					  d->name, n);
		return rf_err_set(e, RF_EPROTO, "malformed %s message (%zu "
				  "bytes)", d->name, n);
	}
	if (has_field0(m, 0)) {
		protobuf_c_message_free_unpacked(m, &a);
		return rf_err_set(e, RF_EPROTO, "malformed %s message (%zu "
				  "bytes): field number 0",
				  d->name, n);
	}
	*out = m;
	return RF_OK;
}

enum rf_rc rf_pb_pack(const ProtobufCMessage *m, struct rf_buf *b,
		      struct rf_err *e)
{
	size_t n, done;
	enum rf_rc rc;

	if (!m || !b)
		return rf_err_set(e, RF_EINVAL, "cannot encode: no %s",
				  !m ? "message" : "buffer");
	n = protobuf_c_message_get_packed_size(m);
	rc = rf_buf_reserve(b, n, e);
	if (rc) {
		rf_err_prefix(e, "cannot encode %s message",
			      m->descriptor->name);
		return rc;
	}
	done = protobuf_c_message_pack(m, b->data + b->len);
	if (done != n)
		return rf_err_set(e, RF_EINTERNAL,
				  "%s message packed to %zu bytes, not %zu",
				  m->descriptor->name, done, n);
	b->len += n;
	b->data[b->len] = 0;
	return RF_OK;
}

void rf_pb_free(ProtobufCMessage *m)
{
	if (m)
		protobuf_c_message_free_unpacked(m, &allocator);
}
