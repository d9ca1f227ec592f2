// The vector helpers both C kernels share: 16-float vectors through Clang's vector extensions
// (one AVX-512 register natively, four SSE registers in a baseline build), exp and log as
// polynomials, and a non-temporal store. Private to the CReferenceKernel target.
#ifndef C_REFERENCE_VECTOR_MATH_H
#define C_REFERENCE_VECTOR_MATH_H
// The helpers pass 16-float vectors by value; they are static inline, so the calling convention
// of a baseline (non-AVX-512) build, which -Wpsabi warns about, never crosses a boundary.
#pragma clang diagnostic ignored "-Wpsabi"
#include <stdint.h>

#define LANES 16

typedef float v16f __attribute__((ext_vector_type(16), aligned(64)));
typedef float v16fu __attribute__((ext_vector_type(16), aligned(4)));
typedef int32_t v16i __attribute__((ext_vector_type(16), aligned(64)));
typedef float v4f __attribute__((ext_vector_type(4), aligned(16)));
typedef int32_t v16iu __attribute__((ext_vector_type(16), aligned(4)));
typedef double v8d __attribute__((ext_vector_type(8), aligned(64)));

static inline v16f splat(float x) { return (v16f)x; }
static inline v16f vselect(v16i mask, v16f a, v16f b);
/// max(a, b) as a compare and a blend (one vmaxps natively; NaN is caught separately).
static inline v16f vmax(v16f a, v16f b) { return vselect(a > b, a, b); }
static inline v16f load(const float *p) { return *(const v16fu *)p; }
static inline void store(float *p, v16f v) { *(v16fu *)p = v; }
static inline v16f vselect(v16i mask, v16f a, v16f b) {
    v16i ai = (v16i)a, bi = (v16i)b;
    return (v16f)((ai & mask) | (bi & ~mask));
}

/// exp(x) for x ≤ 0 (x − m), relative error about 2e-7; below −87 it flushes towards 0.
static inline v16f vexp(v16f x) {
    x = vmax(x, splat(-87.0f));
    const v16f magic = splat(12582912.0f);  // 1.5 · 2^23: adding it rounds to an integer
    v16f n = (x * splat(1.44269504088896341f) + magic) - magic;
    v16f r = x - n * splat(0.693359375f);
    r = r - n * splat(-2.12194440e-4f);
    v16f p = splat(1.9875691500e-4f);
    p = p * r + splat(1.3981999507e-3f);
    p = p * r + splat(8.3334519073e-3f);
    p = p * r + splat(4.1665795894e-2f);
    p = p * r + splat(1.6666665459e-1f);
    p = p * r + splat(5.0000001201e-1f);
    p = p * r * r + r + splat(1.0f);
    v16i e = __builtin_convertvector(n, v16i) << 23;
    return (v16f)((v16i)p + e);
}

/// log(s) for 1 ≤ s (a sum of exponentials that includes exp(0)), absolute error about 1e-7.
static inline v16f vlog(v16f s) {
    v16i bits = (v16i)s;
    v16i e = (bits >> 23) - 127;
    v16f m = (v16f)((bits & 0x007FFFFF) | 0x3F800000);  // [1, 2)
    v16i big = m > splat(1.41421356f);                   // to [√½, √2)
    m = vselect(big, m * splat(0.5f), m);
    v16f ef = __builtin_convertvector(e, v16f) + vselect(big, splat(1.0f), splat(0.0f));
    v16f t = (m - splat(1.0f)) / (m + splat(1.0f));
    v16f t2 = t * t;
    v16f q = splat(1.0f / 9.0f);
    q = q * t2 + splat(1.0f / 7.0f);
    q = q * t2 + splat(1.0f / 5.0f);
    q = q * t2 + splat(1.0f / 3.0f);
    q = q * t2 + splat(1.0f);
    return ef * splat(0.693147180559945f) + splat(2.0f) * t * q;
}

/// Writes v to p (16 floats) without reading the line: one 64-byte store when aligned, else
/// four 16-byte ones (p is 16-byte aligned) or plain stores.
static inline void stream(float *p, v16f v) {
    uintptr_t a = (uintptr_t)p;
    if ((a & 63) == 0) {
        __builtin_nontemporal_store(v, (v16f *)p);
    } else if ((a & 15) == 0) {
        __builtin_nontemporal_store(v.s0123, (v4f *)p);
        __builtin_nontemporal_store(v.s4567, (v4f *)(p + 4));
        __builtin_nontemporal_store(v.s89ab, (v4f *)(p + 8));
        __builtin_nontemporal_store(v.scdef, (v4f *)(p + 12));
    } else {
        store(p, v);
    }
}

#endif
