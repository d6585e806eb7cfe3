/*
 * rf_hmac.h - HMAC-SHA-256 under one key, many times: the key schedule
 * (OpenSSL's algorithm fetch and the inner and outer pads) is done once
 * when the key is made, and each MAC then starts from a copy of it. For
 * code that MACs many short messages under a few long-lived keys (the
 * pseudonyms of the anonymizer: about ten per DICOM file), where
 * rf_hmac_sha256() would spend most of its time on the key schedule.
 *
 * Results are those of rf_hmac_sha256() (RFC 2104 with SHA-256).
 *
 * Thread safety: a struct rf_hmac_key is read-only once made and may be
 * shared by any number of threads calling rf_hmac_key_mac() at once.
 *
 * Must not use: OpenSSL's deprecated low-level interfaces (HMAC_*,
 * SHA256_*), nor any allocator but rf_alloc for radfed's memory.
 */
#ifndef RF_HMAC_H
#define RF_HMAC_H

#include <stddef.h>
#include <stdint.h>

#include "rf_crypto.h"
#include "rf_err.h"

struct rf_hmac_key;

/* Makes an HMAC-SHA-256 key from key[0..len) (any length; len 0 is the
 * empty key). The bytes are not kept by radfed; OpenSSL keeps the padded
 * key state, cleansed by rf_hmac_key_destroy(). On success *out is the
 * caller's. On failure (RF_EINVAL NULL key with a length, RF_ENOMEM,
 * RF_ECRYPTO) *out is NULL. */
enum rf_rc rf_hmac_key_create(const void *key, size_t len,
			      struct rf_hmac_key **out, struct rf_err *e)
	RF_WUR;

/* Destroys k (NULL: nothing), cleansing its key state. */
void rf_hmac_key_destroy(struct rf_hmac_key *k);

/* HMAC-SHA-256 under k of msg[0..n) followed by msg2[0..n2) (msg2 may be
 * NULL with n2 0): the MAC of their concatenation, without copying them.
 * out is written only on success. RF_EINVAL for NULL data with a length,
 * RF_ECRYPTO when OpenSSL fails. */
enum rf_rc rf_hmac_key_mac(const struct rf_hmac_key *k, const void *msg,
			   size_t n, const void *msg2, size_t n2,
			   uint8_t out[RF_HMAC_SHA256_LEN], struct rf_err *e)
	RF_WUR;

#endif
