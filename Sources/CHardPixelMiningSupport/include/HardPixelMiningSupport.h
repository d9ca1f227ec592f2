// What Swift cannot express, in a few lines of C: non-temporal stores, and the target's
// vector width and fused multiply-add as compile-time constants (the Swift compiler's
// Clang importer sees the same -target-cpu as the Swift code, so these macros follow
// `-Xswiftc -target-cpu -Xswiftc native`).
#ifndef HARD_PIXEL_MINING_SUPPORT_H
#define HARD_PIXEL_MINING_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

// 16 floats where AVX-512 is enabled, else 8 (two SSE or one AVX register; 4 measured
// slower in a baseline build, see Docs/Performance.md). `-Xcc -DHPM_LANES=4|8|16` overrides.
#if defined(HPM_LANES)
#define HPM_VECTOR_LANES HPM_LANES
#elif defined(__AVX512F__)
#define HPM_VECTOR_LANES 16
#else
#define HPM_VECTOR_LANES 8
#endif

#if defined(__FMA__) || defined(__aarch64__)
#define HPM_FUSED_MULTIPLY_ADD 1
#else
#define HPM_FUSED_MULTIPLY_ADD 0
#endif

/// Copies `count` floats from `source` (in cache) to `destination` with non-temporal stores
/// where `destination` is 16-byte aligned, ordinary stores for an unaligned head and tail, so
/// that the destination's lines are not read before they are written.
void hpm_stream_floats(float *destination, const float *source, ptrdiff_t count);

/// The same for `count` 16-bit elements (half-precision gradients).
void hpm_stream_halves(uint16_t *destination, const uint16_t *source, ptrdiff_t count);

/// Orders the non-temporal stores issued so far before any later store (x86 `sfence`).
void hpm_stream_fence(void);

#endif
