/*
 * fastexp.h - the model's exp(x), scalar (internal; retnet.c's generic step and the
 * portable kernel of kernels.c; the vector kernels use the same constants).
 *
 * Branch-free so loops over it vectorise (libm's expf/tanhf are calls, and were most of
 * a step's time): Cody-Waite range reduction x = n ln2 + r, then Cephes' degree-6
 * polynomial for e^r on |r| <= ln2/2 (about 1 ulp), times 2^n built in the exponent
 * bits.  Inputs are clamped to [-87, 88], where float is finite.
 */
#ifndef FS_FASTEXP_H
#define FS_FASTEXP_H

#include <stdint.h>

#define FS_EXP_LOG2E 1.44269504088896341f
#define FS_EXP_LN2_HI 0.693359375f
#define FS_EXP_LN2_LO 2.12194440e-4f
/* e^r = 1 + r + r^2 (P0 + P1 r + ... + P5 r^5) */
#define FS_EXP_P0 5.0000001201e-1f
#define FS_EXP_P1 1.6666665459e-1f
#define FS_EXP_P2 4.1665795894e-2f
#define FS_EXP_P3 8.3334519073e-3f
#define FS_EXP_P4 1.3981999507e-3f
#define FS_EXP_P5 1.9875691500e-4f

static inline __attribute__((always_inline)) float fs_fast_expf(float x)
{
	x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
	float fx = __builtin_floorf(x * FS_EXP_LOG2E + 0.5f);
	float r = x - fx * FS_EXP_LN2_HI + fx * FS_EXP_LN2_LO;
	float z = r * r;
	float y = ((((FS_EXP_P5 * r + FS_EXP_P4) * r + FS_EXP_P3) * r + FS_EXP_P2) * r +
		   FS_EXP_P1) * r + FS_EXP_P0;
	y = y * z + r + 1.0f;
	union { uint32_t u; float f; } b = { .u = (uint32_t)((int32_t)fx + 127) << 23 };
	return y * b.f;
}

#endif
