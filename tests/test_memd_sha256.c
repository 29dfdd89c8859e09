/*
 * test_memd_sha256.c - SHA-256 against FIPS 180-4 examples and HMAC-SHA256 against
 * RFC 4231: the memd handshake is only as good as these.
 */
#include "testlib.h"
#include "common/sha256.h"

static void hex(const unsigned char *d, char *out)
{
	for (int i = 0; i < FS_SHA256_LEN; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void check_sha(const char *msg, size_t len, const char *want)
{
	unsigned char d[FS_SHA256_LEN];
	char h[65];
	fs_sha256(msg, len, d);
	hex(d, h);
	CHECK(!strcmp(h, want));
}

TEST(sha256_fips180_vectors)
{
	check_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	check_sha(two, strlen(two),
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* One million 'a', fed in odd-sized pieces to exercise the block buffering. */
	fs_sha256_ctx c;
	fs_sha256_init(&c);
	char a[997];
	memset(a, 'a', sizeof(a));
	size_t left = 1000000;
	while (left) {
		size_t n = left < sizeof(a) ? left : sizeof(a);
		fs_sha256_update(&c, a, n);
		left -= n;
	}
	unsigned char d[FS_SHA256_LEN];
	char h[65];
	fs_sha256_final(&c, d);
	hex(d, h);
	CHECK(!strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
}

TEST(hmac_sha256_rfc4231_vectors)
{
	unsigned char d[FS_SHA256_LEN];
	char h[65];
	/* Test case 1 */
	unsigned char key1[20];
	memset(key1, 0x0b, sizeof(key1));
	const void *p1[] = { "Hi There" };
	size_t l1[] = { 8 };
	fs_hmac_sha256(key1, sizeof(key1), p1, l1, 1, d);
	hex(d, h);
	CHECK(!strcmp(h, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"));
	/* Test case 2, message split in two parts */
	const void *p2[] = { "what do ya want ", "for nothing?" };
	size_t l2[] = { 16, 12 };
	fs_hmac_sha256("Jefe", 4, p2, l2, 2, d);
	hex(d, h);
	CHECK(!strcmp(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
	/* Test case 6: a key longer than the block is hashed first */
	unsigned char key6[131];
	memset(key6, 0xaa, sizeof(key6));
	const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
	const void *p6[] = { m6 };
	size_t l6[] = { strlen(m6) };
	fs_hmac_sha256(key6, sizeof(key6), p6, l6, 1, d);
	hex(d, h);
	CHECK(!strcmp(h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"));
	CHECK(fs_ct_memcmp("abc", "abc", 3) == 0);
	CHECK(fs_ct_memcmp("abc", "abd", 3) != 0);
}

int main(void)
{
	RUN(sha256_fips180_vectors);
	RUN(hmac_sha256_rfc4231_vectors);
	return TEST_EXIT();
}
