/*
 * rf_chunk.h - large payloads (models, updates) as streams of radfed.Chunk
 * messages: at most RF_CHUNK_DATA bytes of data each, the position of the
 * data in `offset`, and in the last message `last`, the total length and
 * the SHA-256 of the whole stream. Memory stays bounded by one chunk
 * whatever the payload's size: the sender reads a file (or memory) chunk
 * by chunk, the receiver writes to a file as chunks arrive and hashes
 * incrementally.
 *
 * Sender: rf_chunk_out_file / rf_chunk_out_mem, then rf_chunk_out_next
 * until it reports the last message; each message may be wrapped as field
 * `wrap` of an outer message (radfed.UpdatePart.chunk = 2) by prefixing
 * its tag and length, which is exactly protobuf's encoding of that field.
 *
 * Receiver: rf_chunk_in_file / rf_chunk_in_mem, then rf_chunk_in_add for
 * every decoded Chunk (rf_chunk_in_feed decodes one first), then
 * rf_chunk_in_finish. Every chunk is checked before it is used: offset
 * equal to the bytes received so far, data at most RF_CHUNK_DATA bytes,
 * the running total at most the receiver's max, nothing after the last;
 * the last one's total_bytes and sha256 must match what arrived
 * (RF_EINTEGRITY otherwise). A file receiver writes to a temporary file
 * beside the destination and renames it into place only in
 * rf_chunk_in_finish, after fsync: a failed or abandoned transfer leaves
 * nothing at the destination.
 *
 * With rf_rpc: rf_chunk_send (a server-streaming handler sends a whole
 * payload) and rf_chunk_download (a client receives one).
 *
 * Thread safety: one struct rf_chunk_out / rf_chunk_in per transfer, used
 * by one thread at a time.
 *
 * Must not use: printing, global state.
 */
#ifndef RF_CHUNK_H
#define RF_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "rf_buf.h"
#include "rf_crypto.h"
#include "rf_err.h"
#include "rf_rpc.h"

/* Data bytes per chunk. */
#define RF_CHUNK_DATA RF_RPC_CHUNK
/* The largest encoded Chunk (data, offset, flags, length, hash, wrapper). */
#define RF_CHUNK_MSG_MAX (RF_CHUNK_DATA + 256)

/* ---- sending ------------------------------------------------------------ */

struct rf_chunk_out {
	int fd;               /* source file, or -1 */
	const uint8_t *mem;   /* source memory when fd < 0 */
	uint64_t total;       /* bytes of the payload */
	uint64_t offset;      /* bytes already sent */
	unsigned wrap;        /* outer field number, 0: bare Chunk */
	int done;             /* the last message was produced */
	int known;            /* 1: sha256 was announced, not computed */
	struct rf_sha256_ctx h;
	uint8_t sha256[RF_SHA256_LEN]; /* of the whole, once done */
	struct rf_buf msg;    /* the message being sent: the file is read
			       * straight into its data field */
};

/* Prepares to send the file at path (opened now; its size at this moment
 * is the payload, a file that changes meanwhile fails with RF_EINTEGRITY
 * at the end). wrap: 0, or the field number of an outer message.
 * RF_ENOTFOUND / RF_EIO naming path, RF_ENOMEM. On failure o holds nothing
 * to release (rf_chunk_out_release is still safe). */
enum rf_rc rf_chunk_out_file(struct rf_chunk_out *o, const char *path,
			     unsigned wrap, struct rf_err *e) RF_WUR;

/* Prepares to send the n bytes at p (borrowed until the last message). */
enum rf_rc rf_chunk_out_mem(struct rf_chunk_out *o, const void *p, size_t n,
			    unsigned wrap, struct rf_err *e) RF_WUR;

/* For a sender that already knows the payload's SHA-256 (the node's
 * update, hashed for the header that announces it; a model, hashed when
 * written and kept in the registry): o sends sha256 in its last message
 * instead of hashing the payload again while sending it, which halves the
 * hashing of a transfer. Call after rf_chunk_out_file / rf_chunk_out_mem,
 * before the first message. Safe because the receiver always hashes what
 * arrives and compares: a payload that is not the one announced (a file
 * changed after it was hashed) fails the transfer there with
 * RF_EINTEGRITY; the size is still checked here. o->sha256 holds the
 * announced hash from now on. */
void rf_chunk_out_announce(struct rf_chunk_out *o,
			   const uint8_t sha256[RF_SHA256_LEN]);

/* Produces the next message into *p, *n (valid until the next call or the
 * release): a payload of n bytes gives max(1, ceil(n / RF_CHUNK_DATA))
 * messages, the last with *last set. After the last one: *p NULL, *n 0.
 * RF_EIO when the file cannot be read or got shorter. */
enum rf_rc rf_chunk_out_next(struct rf_chunk_out *o, const uint8_t **p,
			     size_t *n, int *last, struct rf_err *e) RF_WUR;

/* The SHA-256 of a payload, computed by reading it once (a file: chunk by
 * chunk), for headers that announce it before the stream (UpdateHeader).
 * out (optional) receives the 32 bytes, hex (optional) 64 lowercase
 * digits and a NUL, *bytes (optional) the size. */
enum rf_rc rf_chunk_hash_file(const char *path, uint8_t out[RF_SHA256_LEN],
			      char hex[2 * RF_SHA256_LEN + 1], uint64_t *bytes,
			      struct rf_err *e) RF_WUR;

/* Closes the file, frees the buffers. Accepts a zeroed or released o. */
void rf_chunk_out_release(struct rf_chunk_out *o);

/* ---- receiving ---------------------------------------------------------- */

struct rf_chunk_in {
	uint64_t max;        /* largest payload accepted */
	uint64_t received;   /* bytes so far */
	int done;            /* 1: the last chunk arrived and checked out;
			      * -1: the transfer failed */
	int fd;              /* temporary file, or -1 */
	char *path;          /* destination (file receivers) */
	char *tmp;           /* temporary file beside it */
	struct rf_buf *out;  /* memory receivers: the payload, appended */
	struct rf_sha256_ctx h;
	uint8_t sha256[RF_SHA256_LEN]; /* of the whole, once done */
};

/* Receives into the file path (mode 0600), at most max bytes. The
 * temporary file is created now (RF_EIO naming it on failure). */
enum rf_rc rf_chunk_in_file(struct rf_chunk_in *in, const char *path,
			    uint64_t max, struct rf_err *e) RF_WUR;

/* Receives into out (reset now), at most max bytes (and out's cap). */
enum rf_rc rf_chunk_in_mem(struct rf_chunk_in *in, struct rf_buf *out,
			   uint64_t max, struct rf_err *e) RF_WUR;

/* One decoded chunk (a Radfed__Chunk, passed as its ProtobufCMessage base
 * so that this header needs no generated code). RF_EPROTO for a chunk out
 * of order, too large, or after the last; RF_ETOOBIG past max;
 * RF_EINTEGRITY when the last one's total or hash disagree; RF_EIO when
 * the file cannot be written. After a failure the transfer is dead: only
 * release remains. */
struct ProtobufCMessage;
enum rf_rc rf_chunk_in_add(struct rf_chunk_in *in,
			   const struct ProtobufCMessage *chunk,
			   struct rf_err *e) RF_WUR;

/* Decodes the n bytes at p (at most RF_CHUNK_MSG_MAX, RF_ETOOBIG beyond)
 * as a bare Chunk, with protobuf's rules (unknown fields skipped; RF_EPROTO
 * for a malformed encoding), without copying its data, and adds it. */
enum rf_rc rf_chunk_in_feed(struct rf_chunk_in *in, const uint8_t *p,
			    size_t n, struct rf_err *e) RF_WUR;

/* Ends the transfer: RF_EPROTO "stream ended before its last chunk" when
 * the last one never came; for a file receiver, fsyncs and renames the
 * temporary file to the destination. hex (optional) receives the hash,
 * *bytes (optional) the size. */
enum rf_rc rf_chunk_in_finish(struct rf_chunk_in *in,
			      char hex[2 * RF_SHA256_LEN + 1],
			      uint64_t *bytes, struct rf_err *e) RF_WUR;

/* Removes the temporary file of an unfinished transfer, frees the rest.
 * Accepts a zeroed or released in. */
void rf_chunk_in_release(struct rf_chunk_in *in);

/* ---- with rf_rpc -------------------------------------------------------- */

/* Server-streaming handler: sends every message of o (prepared, wrap 0). */
enum rf_rc rf_chunk_send(struct rf_rpc_call *call, struct rf_chunk_out *o,
			 struct rf_err *e) RF_WUR;

/* Client: a server-streaming call whose response messages are bare Chunk
 * messages, received into in (prepared), then rf_chunk_in_finish. */
enum rf_rc rf_chunk_download(struct rf_rpc_client *c, const char *method,
			     const void *req, size_t req_len,
			     int64_t deadline_ms, struct rf_chunk_in *in,
			     char hex[2 * RF_SHA256_LEN + 1], uint64_t *bytes,
			     struct rf_err *e) RF_WUR;

#endif
