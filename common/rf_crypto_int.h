/*
 * rf_crypto_int.h - what rf_crypto.c shares with rf_x509.c, and nobody else.
 *
 * Must not use: anything outside common/ and OpenSSL 3.
 */
#ifndef RF_CRYPTO_INT_H
#define RF_CRYPTO_INT_H

#include <stddef.h>

#include <openssl/evp.h>

#include "rf_buf.h"
#include "rf_crypto.h"
#include "rf_err.h"

/* rf_err_set(e, rc, fmt, ...) with ": <OpenSSL reason>" appended when
 * OpenSSL queued an error; always leaves the thread's OpenSSL error queue
 * empty. Returns rc. */
enum rf_rc rf__crypto_fail(struct rf_err *e, enum rf_rc rc, const char *fmt,
			   ...) RF_PRINTF(3, 4);

/* The EVP_PKEY inside k (borrowed, valid while k lives). */
EVP_PKEY *rf__key_pkey(const struct rf_key *k);

/* Wraps pkey (ownership taken, also on failure) in a new struct rf_key of
 * the type OpenSSL reports; RF_EUNSUPPORTED for another algorithm. */
enum rf_rc rf__key_wrap(EVP_PKEY *pkey, struct rf_key **out, struct rf_err *e);

#endif
