/*
 * rf_rpc_int.h - what the files of the RPC layer (rf_rpc*.c) share: gRPC
 * start-up, byte-buffer conversion and the status <-> code tables.
 *
 * Must not be included outside common/rf_rpc*.c.
 */
#ifndef RF_RPC_INT_H
#define RF_RPC_INT_H

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/status.h>

#include "rf_buf.h"
#include "rf_err.h"

/* grpc_init / grpc_shutdown_blocking, one pair per server or client. */
void rf__rpc_grpc_ref(void);
void rf__rpc_grpc_unref(void);

/* A byte buffer holding a copy of the n bytes at p (gRPC aborts rather
 * than fail to allocate). Destroy with grpc_byte_buffer_destroy. */
grpc_byte_buffer *rf__rpc_bb_create(const void *p, size_t n);

/* Appends the contents of bb to out. RF_ETOOBIG past out's max, RF_EPROTO
 * when the buffer cannot be read; out is unchanged on failure. */
enum rf_rc rf__rpc_bb_read(grpc_byte_buffer *bb, struct rf_buf *out,
			   struct rf_err *e) RF_WUR;

/* The status a handler's code is sent as, and the code a received status
 * is reported as (see rf_rpc.h). */
grpc_status_code rf__rpc_status_from_rc(enum rf_rc rc);
enum rf_rc rf__rpc_rc_from_status(grpc_status_code st);

/* Called after a call failed with UNAVAILABLE: connects to target with
 * plain OpenSSL and the client's credentials to tell a refused TLS
 * handshake (RF_EAUTH, with the reason in e) from an unreachable server
 * (RF_EIO) or a handshake that works (RF_OK). *refused_us is set to 1
 * when the server ended the connection after the handshake (it refused
 * our certificate), 0 otherwise. */
enum rf_rc rf__rpc_probe(const char *target, const char *server_name,
			 const char *ca_pem, const char *cert_pem,
			 const char *key_pem, int *refused_us,
			 struct rf_err *e) RF_WUR;

/* RF_OK when ca_pem holds a certificate and, when cert_pem is not NULL,
 * cert_pem a certificate whose private key is key_pem; else RF_ECRYPTO with
 * OpenSSL's reason. gRPC itself only finds out at the first handshake. */
enum rf_rc rf__rpc_pem_check(const char *cert_pem, const char *key_pem,
			     const char *ca_pem, struct rf_err *e) RF_WUR;

#endif
