/*
 * sha256.h - SHA-256 and HMAC-SHA256 for the memd handshake (internal).
 *
 * Thin wrappers over libsodium (crypto_hash_sha256, crypto_auth_hmacsha256): the
 * handshake (challenge-response over the shared secret, see docs/PROTOCOL.md) rests on
 * a well-kept library, not on hand-written crypto.  Checked against the FIPS 180-4 /
 * RFC 4231 test vectors in tests/test_memd_sha256.c.
 */
#ifndef FS_SHA256_H
#define FS_SHA256_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define FS_SHA256_LEN 32

typedef crypto_hash_sha256_state fs_sha256_ctx;

void fs_sha256_init(fs_sha256_ctx *c);
void fs_sha256_update(fs_sha256_ctx *c, const void *data, size_t len);
void fs_sha256_final(fs_sha256_ctx *c, unsigned char out[FS_SHA256_LEN]);
void fs_sha256(const void *data, size_t len, unsigned char out[FS_SHA256_LEN]);

/* HMAC-SHA256 over the concatenation of n parts (saves callers a staging buffer). */
void fs_hmac_sha256(const void *key, size_t keylen, const void *const *parts,
		    const size_t *lens, int n, unsigned char out[FS_SHA256_LEN]);

/* Constant-time comparison: 0 when equal. */
int fs_ct_memcmp(const void *a, const void *b, size_t n);

#endif
