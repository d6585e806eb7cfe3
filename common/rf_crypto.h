/*
 * rf_crypto.h - radfed's cryptographic primitives, as thin wrappers over the
 * OpenSSL 3 EVP interfaces: SHA-256, HMAC-SHA-256, HKDF-SHA-256,
 * AES-256-GCM, AES-256-CTR and the secure-aggregation PRG, X25519, Ed25519,
 * key files, randomness and constant-time comparison.
 *
 * Every OpenSSL failure becomes RF_ECRYPTO (RF_EIO for files) with OpenSSL's
 * reason appended to the message, and OpenSSL's thread-local error queue is
 * left empty. Bad lengths are RF_EINVAL. Keys held by radfed's own buffers
 * are zeroized before they are released; callers zeroize the raw keys they
 * export (rf_zeroize in rf_alloc.h).
 *
 * Thread safety: the functions are safe to call from several threads at once
 * on different objects; one object (context, key, PRG) has one user at a
 * time, except that a struct rf_key may be shared read-only (sign, verify,
 * derive, export) by several threads.
 *
 * Must not use: OpenSSL's deprecated low-level interfaces (AES_*, SHA256_*,
 * HMAC_*, EC_KEY, ...), nor any allocator but rf_alloc for radfed's memory.
 */
#ifndef RF_CRYPTO_H
#define RF_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "rf_err.h"

#define RF_SHA256_LEN      32
#define RF_HMAC_SHA256_LEN 32
#define RF_HKDF_SHA256_MAX (255 * 32)
#define RF_HKDF_INFO_MAX   1024
#define RF_AES256_KEY_LEN  32
#define RF_GCM_NONCE_LEN   12
#define RF_GCM_TAG_LEN     16
#define RF_CTR_IV_LEN      16
#define RF_PRG_SEED_LEN    32
#define RF_X25519_LEN      32
#define RF_ED25519_LEN     32
#define RF_ED25519_SIG_LEN 64

/* ---- hashing ------------------------------------------------------------ */

/* SHA-256 of n bytes at p (p may be NULL when n is 0) into out.
 * Failure: RF_ECRYPTO, out unspecified. */
enum rf_rc rf_sha256(const void *p, size_t n, uint8_t out[RF_SHA256_LEN],
		     struct rf_err *e) RF_WUR;

/* Incremental SHA-256 for data that arrives in chunks:
 *
 *     struct rf_sha256_ctx h;
 *     if (rf_sha256_init(&h, e)) return e->rc;
 *     while (...) if (rf_sha256_update(&h, p, n, e)) goto out;
 *     if (rf_sha256_final(&h, digest, e)) goto out;
 *   out:
 *     rf_sha256_release(&h);
 *
 * The context holds OpenSSL state: it is not copyable, and one thread uses
 * it at a time. */
struct evp_md_ctx_st;
struct rf_sha256_ctx {
	struct evp_md_ctx_st *md;
};

/* Starts a hash. On failure h is left released (rf_sha256_release is still
 * allowed). */
enum rf_rc rf_sha256_init(struct rf_sha256_ctx *h, struct rf_err *e) RF_WUR;

/* Hashes n more bytes (p may be NULL when n is 0). */
enum rf_rc rf_sha256_update(struct rf_sha256_ctx *h, const void *p, size_t n,
			    struct rf_err *e) RF_WUR;

/* Writes the digest of everything hashed since init (or since the previous
 * final) and restarts the context on an empty message, so it can hash
 * another stream. */
enum rf_rc rf_sha256_final(struct rf_sha256_ctx *h, uint8_t out[RF_SHA256_LEN],
			   struct rf_err *e) RF_WUR;

/* Frees the OpenSSL state. Accepts NULL and a released context. */
void rf_sha256_release(struct rf_sha256_ctx *h);

/* ---- hex ---------------------------------------------------------------- */

/* Writes the 2n lowercase hex digits of p[0..n) and a NUL into out, which
 * must hold out_size >= 2n + 1 bytes; RF_EINVAL otherwise (out untouched). */
enum rf_rc rf_hex_encode(const void *p, size_t n, char *out, size_t out_size,
			 struct rf_err *e) RF_WUR;

/* Decodes hex_len hex digits (either case, no separators) into out, which
 * must hold out_size >= hex_len / 2 bytes; *out_len receives hex_len / 2.
 * RF_EINVAL for an odd length, a non-hex character or a short out; out is
 * then zeroed up to out_size. */
enum rf_rc rf_hex_decode(const char *hex, size_t hex_len, uint8_t *out,
			 size_t out_size, size_t *out_len,
			 struct rf_err *e) RF_WUR;

/* ---- MAC and key derivation --------------------------------------------- */

/* HMAC-SHA-256 (RFC 2104) of msg under key, through EVP_MAC. key may be
 * empty. */
enum rf_rc rf_hmac_sha256(const void *key, size_t key_len, const void *msg,
			  size_t msg_len, uint8_t out[RF_HMAC_SHA256_LEN],
			  struct rf_err *e) RF_WUR;

/* HKDF-SHA-256 (RFC 5869, extract then expand) through EVP_KDF "HKDF".
 * salt and info may be empty (an empty salt means HashLen zero bytes, as in
 * the RFC). out_len must be 1..RF_HKDF_SHA256_MAX and info_len at most
 * RF_HKDF_INFO_MAX (OpenSSL 3.0's limit), else RF_EINVAL. On failure out is
 * zeroed. */
enum rf_rc rf_hkdf_sha256(const void *salt, size_t salt_len, const void *ikm,
			  size_t ikm_len, const void *info, size_t info_len,
			  uint8_t *out, size_t out_len,
			  struct rf_err *e) RF_WUR;

/* ---- AES-256-GCM -------------------------------------------------------- */

/* Encrypts n bytes of pt into ct (n bytes; ct may equal pt) and writes the
 * 16-byte tag, authenticating aad too (aad may be NULL when aad_len is 0).
 * A nonce must never be used twice with one key: draw it from
 * rf_random_bytes or a counter. On failure ct and tag are zeroed. */
enum rf_rc rf_aes256gcm_seal(const uint8_t key[RF_AES256_KEY_LEN],
			     const uint8_t nonce[RF_GCM_NONCE_LEN],
			     const void *aad, size_t aad_len, const void *pt,
			     size_t n, void *ct, uint8_t tag[RF_GCM_TAG_LEN],
			     struct rf_err *e) RF_WUR;

/* Decrypts and authenticates. RF_ECRYPTO when the tag does not match the
 * key, nonce, aad and ciphertext; pt (n bytes, may equal ct) is then zeroed,
 * so nothing unauthenticated is ever left for the caller to use. */
enum rf_rc rf_aes256gcm_open(const uint8_t key[RF_AES256_KEY_LEN],
			     const uint8_t nonce[RF_GCM_NONCE_LEN],
			     const void *aad, size_t aad_len, const void *ct,
			     size_t n, const uint8_t tag[RF_GCM_TAG_LEN],
			     void *pt, struct rf_err *e) RF_WUR;

/* ---- AES-256-CTR and the PRG -------------------------------------------- */

/* out = in XOR AES-256-CTR keystream (NIST SP 800-38A; the 16-byte iv is the
 * initial counter block, incremented as one 128-bit big-endian integer).
 * in and out may be the same buffer. Encrypts and decrypts alike. On failure
 * out is zeroed. */
enum rf_rc rf_aes256ctr_xor(const uint8_t key[RF_AES256_KEY_LEN],
			    const uint8_t iv[RF_CTR_IV_LEN], const void *in,
			    void *out, size_t n, struct rf_err *e) RF_WUR;

/* The secure-aggregation pseudo-random generator:
 *
 *     PRG(seed) = AES-256-CTR(key = seed, IV = 16 zero bytes) applied to an
 *                 endless stream of zero bytes,
 *
 * i.e. the keystream blocks AES(seed, 0), AES(seed, 1), ... with the counter
 * as a 128-bit big-endian integer. The stream is the same however it is cut
 * into reads. One OpenSSL cipher context is kept for the PRG's lifetime, so
 * expanding millions of masks costs one AES pass over them. Heap object; one
 * thread at a time. */
struct rf_prg;

/* Creates a PRG positioned at the start of the stream of seed (copied; the
 * caller may zeroize its copy). *out is NULL on failure (RF_ENOMEM,
 * RF_ECRYPTO). */
enum rf_rc rf_prg_create(const uint8_t seed[RF_PRG_SEED_LEN],
			 struct rf_prg **out, struct rf_err *e) RF_WUR;

/* Writes the next n bytes of the stream into out. On failure out is zeroed
 * and the PRG must not be used again. */
enum rf_rc rf_prg_read(struct rf_prg *g, void *out, size_t n,
		       struct rf_err *e) RF_WUR;

/* Writes the next 4*count bytes of the stream as count uint32 masks, each
 * read as a little-endian integer (so results agree across machines). */
enum rf_rc rf_prg_u32(struct rf_prg *g, uint32_t *out, size_t count,
		      struct rf_err *e) RF_WUR;

/* Zeroizes and frees. Accepts NULL. */
void rf_prg_destroy(struct rf_prg *g);

/* ---- asymmetric keys: X25519, Ed25519, ECDSA P-256 ---------------------- */

enum rf_key_type {
	RF_KEY_X25519 = 1, /* key agreement (secure aggregation) */
	RF_KEY_ED25519,    /* signatures (audit checkpoints, key lists) */
	RF_KEY_P256        /* ECDSA P-256, TLS certificates (rf_x509.h) */
};

/* An opaque key (OpenSSL EVP_PKEY), private or public only. Heap object;
 * after creation it is read-only and may be shared between threads. */
struct rf_key;

/* A fresh private key of type t from OpenSSL's CSPRNG. *out is NULL on
 * failure (RF_ENOMEM, RF_ECRYPTO, RF_EINVAL for an unknown type). */
enum rf_rc rf_key_generate(enum rf_key_type t, struct rf_key **out,
			   struct rf_err *e) RF_WUR;

/* Imports a raw private key: the 32-byte X25519 scalar (RFC 7748) or the
 * 32-byte Ed25519 seed (RFC 8032). len must be 32 and t one of those two,
 * else RF_EINVAL. The caller keeps and zeroizes raw. */
enum rf_rc rf_key_from_raw_private(enum rf_key_type t, const uint8_t *raw,
				   size_t len, struct rf_key **out,
				   struct rf_err *e) RF_WUR;

/* Imports a raw 32-byte X25519 or Ed25519 public key (RF_EINVAL as above). */
enum rf_rc rf_key_from_raw_public(enum rf_key_type t, const uint8_t *raw,
				  size_t len, struct rf_key **out,
				  struct rf_err *e) RF_WUR;

/* Exports the raw 32-byte private key (X25519/Ed25519) into out, which must
 * hold out_size >= 32 bytes. RF_EINVAL for a P-256 or public-only key or a
 * short buffer. The caller zeroizes out when done. */
enum rf_rc rf_key_raw_private(const struct rf_key *k, uint8_t *out,
			      size_t out_size, struct rf_err *e) RF_WUR;

/* Exports the raw 32-byte public key (X25519/Ed25519), as above. */
enum rf_rc rf_key_raw_public(const struct rf_key *k, uint8_t *out,
			     size_t out_size, struct rf_err *e) RF_WUR;

/* The type of k. */
enum rf_key_type rf_key_type(const struct rf_key *k);

/* 1 when k holds a private key, 0 when it is public only. */
int rf_key_has_private(const struct rf_key *k);

/* Frees k (OpenSSL clears the private key). Accepts NULL. */
void rf_key_destroy(struct rf_key *k);

/* Writes the private key as unencrypted PKCS#8 PEM to path, atomically
 * (a mode-0600 temporary file in the same directory, fsync, rename): path
 * either keeps its old contents or holds the whole new key. RF_EIO on a
 * filesystem error, RF_EINVAL for a public-only key. */
enum rf_rc rf_key_save_private_pem(const struct rf_key *k, const char *path,
				   struct rf_err *e) RF_WUR;

/* Writes the public key as SubjectPublicKeyInfo PEM, atomically, mode
 * 0644. */
enum rf_rc rf_key_save_public_pem(const struct rf_key *k, const char *path,
				  struct rf_err *e) RF_WUR;

/* Loads a PEM private key (PKCS#8 or traditional, unencrypted) of an
 * X25519, Ed25519 or P-256 type. Files over 64 KiB are refused
 * (RF_ETOOBIG). RF_EIO when the file cannot be read, RF_ECRYPTO when it
 * holds no usable key, RF_EUNSUPPORTED for another key type. The bytes read
 * are zeroized. */
enum rf_rc rf_key_load_private_pem(const char *path, struct rf_key **out,
				   struct rf_err *e) RF_WUR;

/* Loads a PEM public key (SubjectPublicKeyInfo), as above. */
enum rf_rc rf_key_load_public_pem(const char *path, struct rf_key **out,
				  struct rf_err *e) RF_WUR;

/* X25519 (RFC 7748): the shared secret of our private key and the peer's
 * public key. RF_EINVAL unless both are X25519 and priv holds a private
 * key; RF_ECRYPTO when the result is all zeros (a low-order peer key). On
 * failure out is zeroed. Hash the secret (rf_hkdf_sha256) before use. */
enum rf_rc rf_x25519_derive(const struct rf_key *priv,
			    const struct rf_key *peer,
			    uint8_t out[RF_X25519_LEN],
			    struct rf_err *e) RF_WUR;

/* Ed25519 (RFC 8032, pure) signature of msg. RF_EINVAL unless k is a
 * private Ed25519 key. */
enum rf_rc rf_ed25519_sign(const struct rf_key *k, const void *msg,
			   size_t msg_len, uint8_t sig[RF_ED25519_SIG_LEN],
			   struct rf_err *e) RF_WUR;

/* RF_OK when sig is k's valid signature of msg, RF_ECRYPTO when it is not;
 * RF_EINVAL unless k is an Ed25519 key (public or private). */
enum rf_rc rf_ed25519_verify(const struct rf_key *k, const void *msg,
			     size_t msg_len,
			     const uint8_t sig[RF_ED25519_SIG_LEN],
			     struct rf_err *e) RF_WUR;

/* ---- misc --------------------------------------------------------------- */

/* n bytes from OpenSSL's CSPRNG (RAND_bytes). On failure out is zeroed. */
enum rf_rc rf_random_bytes(void *out, size_t n, struct rf_err *e) RF_WUR;

/* 1 when the n bytes at a and b are equal, else 0, in time that depends
 * only on n (CRYPTO_memcmp): use it for tags, MACs and tokens. */
int rf_ct_equal(const void *a, const void *b, size_t n);

#endif
