/*
 * rf_rpc.c - the parts of the RPC layer both sides use: gRPC start-up,
 * byte buffers and the status tables.
 */
#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>

#include "rf_rpc.h"
#include "rf_rpc_int.h"

void rf__rpc_grpc_ref(void)
{
	grpc_init();
}

void rf__rpc_grpc_unref(void)
{
	/* blocking: the last user waits for gRPC's threads to end, so that
	 * nothing of gRPC is still running (or allocated) after it */
	grpc_shutdown_blocking();
}

grpc_byte_buffer *rf__rpc_bb_create(const void *p, size_t n)
{
	grpc_slice s = grpc_slice_from_copied_buffer(p ? p : "", n);
	grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);

	grpc_slice_unref(s);
	return bb;
}

enum rf_rc rf__rpc_bb_read(grpc_byte_buffer *bb, struct rf_buf *out,
			   struct rf_err *e)
{
	grpc_byte_buffer_reader r;
	grpc_slice s;
	size_t n = grpc_byte_buffer_length(bb);
	size_t old = out->len;
	enum rf_rc rc;

	if (n > out->max || out->len > out->max - n)
		return rf_err_set(e, RF_ETOOBIG,
				  "message of %zu bytes exceeds the limit of "
				  "%zu bytes", n, out->max - out->len);
	rc = rf_buf_reserve(out, n, e);
	if (rc)
		return rc;
	if (!grpc_byte_buffer_reader_init(&r, bb))
		return rf_err_set(e, RF_EPROTO, "cannot read a message");
	while (grpc_byte_buffer_reader_next(&r, &s)) {
		size_t k = GRPC_SLICE_LENGTH(s);

		/* cannot fail: room was reserved for the whole length */
		if (out->len - old + k > n ||
		    rf_buf_append(out, GRPC_SLICE_START_PTR(s), k, NULL)) {
			grpc_slice_unref(s);
			grpc_byte_buffer_reader_destroy(&r);
			rf_buf_truncate(out, old);
			return rf_err_set(e, RF_EPROTO,
					  "message longer than announced");
		}
		grpc_slice_unref(s);
	}
	grpc_byte_buffer_reader_destroy(&r);
	return RF_OK;
}

grpc_status_code rf__rpc_status_from_rc(enum rf_rc rc)
{
	switch (rc) {
	case RF_OK:
		return GRPC_STATUS_OK;
	case RF_EINVAL:
	case RF_EPROTO:
		return GRPC_STATUS_INVALID_ARGUMENT;
	case RF_ENOTFOUND:
		return GRPC_STATUS_NOT_FOUND;
	case RF_EEXIST:
		return GRPC_STATUS_ALREADY_EXISTS;
	case RF_ETOOBIG:
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	case RF_EAUTH:
		return GRPC_STATUS_PERMISSION_DENIED;
	case RF_ETIMEDOUT:
		return GRPC_STATUS_DEADLINE_EXCEEDED;
	case RF_EUNSUPPORTED:
		return GRPC_STATUS_UNIMPLEMENTED;
	case RF_EPOLICY:
		return GRPC_STATUS_FAILED_PRECONDITION;
	case RF_EINTEGRITY:
		return GRPC_STATUS_DATA_LOSS;
	default:
		return GRPC_STATUS_INTERNAL;
	}
}

enum rf_rc rf__rpc_rc_from_status(grpc_status_code st)
{
	switch (st) {
	case GRPC_STATUS_OK:
		return RF_OK;
	case GRPC_STATUS_INVALID_ARGUMENT:
		return RF_EINVAL;
	case GRPC_STATUS_NOT_FOUND:
		return RF_ENOTFOUND;
	case GRPC_STATUS_ALREADY_EXISTS:
		return RF_EEXIST;
	case GRPC_STATUS_RESOURCE_EXHAUSTED:
		return RF_ETOOBIG;
	case GRPC_STATUS_PERMISSION_DENIED:
	case GRPC_STATUS_UNAUTHENTICATED:
		return RF_EAUTH;
	case GRPC_STATUS_DEADLINE_EXCEEDED:
		return RF_ETIMEDOUT;
	case GRPC_STATUS_UNIMPLEMENTED:
		return RF_EUNSUPPORTED;
	case GRPC_STATUS_FAILED_PRECONDITION:
		return RF_EPOLICY;
	case GRPC_STATUS_DATA_LOSS:
		return RF_EINTEGRITY;
	default:
		return RF_EIO;
	}
}
