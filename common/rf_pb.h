/*
 * rf_pb.h - protobuf-c on radfed's terms: every message is decoded through
 * rf_malloc/rf_free (so the allocation hook and the leak accounting of the
 * tests see it), every received size is checked against a caller-given
 * limit before decoding, and every failure becomes an enum rf_rc with a
 * message naming the message type.
 *
 *     ProtobufCMessage *m = NULL;
 *     if (rf_pb_unpack(&radfed__chunk__descriptor, p, n, 2 << 20, &m, e))
 *             goto out;
 *     Radfed__Chunk *c = (Radfed__Chunk *)m;
 *     ...
 *     rf_pb_free(m);
 *
 * Messages are untrusted input: a malformed or truncated encoding is
 * RF_EPROTO, never a crash. All functions are thread-safe (no shared
 * state beyond the allocator hook, see rf_alloc.h).
 *
 * Must not use: anything but libc, protobuf-c, rf_alloc, rf_buf, rf_err.
 */
#ifndef RF_PB_H
#define RF_PB_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "rf_buf.h"
#include "rf_err.h"

/* The allocator to hand protobuf-c for anything radfed frees: allocates
 * with rf_malloc, frees with rf_free. Static storage; never modified, so
 * it may be shared by all threads. */
ProtobufCAllocator *rf_pb_allocator(void);

/* Decodes the n bytes at p as a message of type d. On success returns RF_OK
 * and sets *out to a new message the caller frees with rf_pb_free().
 * Failures, which leave *out NULL and allocate nothing:
 * - RF_ETOOBIG when n > max (checked before any decoding);
 * - RF_EINVAL when p is NULL with n > 0, or d or out is NULL;
 * - RF_ENOMEM when an allocation failed;
 * - RF_EPROTO "malformed <full.Name> message (<n> bytes)" otherwise
 *   (truncated, bad wire type, length past the end, invalid UTF-8...). */
enum rf_rc rf_pb_unpack(const ProtobufCMessageDescriptor *d, const uint8_t *p,
			size_t n, size_t max, ProtobufCMessage **out,
			struct rf_err *e) RF_WUR;

/* Appends the encoding of m to b. RF_ETOOBIG when it would take b past its
 * cap, RF_ENOMEM when growing b fails; b is unchanged on failure. m stays
 * the caller's. */
enum rf_rc rf_pb_pack(const ProtobufCMessage *m, struct rf_buf *b,
		      struct rf_err *e) RF_WUR;

/* Frees a message returned by rf_pb_unpack(). Accepts NULL. */
void rf_pb_free(ProtobufCMessage *m);

#endif
