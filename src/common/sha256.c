/*
 * sha256.c - SHA-256 and HMAC-SHA256 through libsodium (sha256.h).
 *
 * libsodium's functions need sodium_init() once per process (it picks the CPU's
 * implementations and is safe to call from several threads and more than once).
 */
#include "common/sha256.h"

static void init_once(void)
{
	static _Atomic int done;
	if (!done) {
		if (sodium_init() < 0)
			return; /* hashing works without it; only the CPU dispatch is skipped */
		done = 1;
	}
}

void fs_sha256_init(fs_sha256_ctx *c)
{
	init_once();
	crypto_hash_sha256_init(c);
}

void fs_sha256_update(fs_sha256_ctx *c, const void *data, size_t len)
{
	crypto_hash_sha256_update(c, data, len);
}

void fs_sha256_final(fs_sha256_ctx *c, unsigned char out[FS_SHA256_LEN])
{
	crypto_hash_sha256_final(c, out);
}

void fs_sha256(const void *data, size_t len, unsigned char out[FS_SHA256_LEN])
{
	init_once();
	crypto_hash_sha256(out, data, len);
}

void fs_hmac_sha256(const void *key, size_t keylen, const void *const *parts,
		    const size_t *lens, int n, unsigned char out[FS_SHA256_LEN])
{
	init_once();
	/* Any key length: longer than a block, libsodium hashes it first (RFC 2104). */
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, keylen);
	for (int i = 0; i < n; i++)
		crypto_auth_hmacsha256_update(&st, parts[i], lens[i]);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

int fs_ct_memcmp(const void *a, const void *b, size_t n)
{
	return sodium_memcmp(a, b, n) != 0;
}
