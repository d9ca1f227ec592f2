// What Swift cannot express, in a few lines of C: non-temporal stores, and the target's
// vector width and fused multiply-add as compile-time constants (the Swift compiler's
// Clang importer sees the same -target-cpu as the Swift code, so these macros follow
// `-Xswiftc -target-cpu -Xswiftc native`).
#ifndef HARD_PIXEL_MINING_SUPPORT_H
#define HARD_PIXEL_MINING_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

// 16 floats on x86-64 whatever its vector registers (one AVX-512, two AVX or four SSE
// registers per vector): a 16-lane column's gradient vector fills a cache line, so it streams
// straight to memory, and every x86 build measured faster with 16 than with 8 (baseline SSE2:
// cross-entropy 0.85×, objective 0.80×; AVX2: 1.0× and 0.77×; Docs/Performance.md, session 10).
// 8 elsewhere (not measured there). `-Xcc -DHPM_LANES=4|8|16` overrides.
#if defined(HPM_LANES)
#define HPM_VECTOR_LANES HPM_LANES
#elif defined(__x86_64__) || defined(__AVX512F__)
#define HPM_VECTOR_LANES 16
#else
#define HPM_VECTOR_LANES 8
#endif

#if defined(__FMA__) || defined(__aarch64__)
#define HPM_FUSED_MULTIPLY_ADD 1
#else
#define HPM_FUSED_MULTIPLY_ADD 0
#endif

// Whether the objective's statistics pass keeps exp(x − m) in an overwritten Float gradient
// for the gradient pass to read back, instead of computing every exp twice: where an exp is
// dear, below AVX-512 (the objective's time, kept ÷ computed twice, interleaved, one / two
// threads: baseline SSE2 0.72 / 0.81, AVX2 with FMA 0.91 / 1.00), not where it is cheap
// (AVX-512: 1.00 / 1.09, the extra write of the gradient costing what the second exp saved;
// Docs/Performance.md, session 15). `-Xcc -DHPM_KEEP=0|1` overrides (as `HPM_LANES` does the
// width: a macro Swift sees must be defined in this header).
#if defined(HPM_KEEP)
#define HPM_KEEP_EXPONENTIALS HPM_KEEP
#elif defined(__AVX512F__)
#define HPM_KEEP_EXPONENTIALS 0
#else
#define HPM_KEEP_EXPONENTIALS 1
#endif

/// Copies `count` floats from `source` (in cache) to `destination` with non-temporal stores
/// where `destination` is 16-byte aligned, ordinary stores for an unaligned head and tail, so
/// that the destination's lines are not read before they are written.
void hpm_stream_floats(float *destination, const float *source, ptrdiff_t count);

/// The same for `count` 16-bit elements (half-precision gradients).
void hpm_stream_halves(uint16_t *destination, const uint16_t *source, ptrdiff_t count);

/// Asks for the cache line holding `address` to be brought into cache ahead of its use (x86
/// `prefetcht0`; `prefetcht1`, into L2 only, measured the same); never faults, and is a hint only. Inline, so that a Swift loop calling it
/// compiles to the single instruction.
static inline __attribute__((always_inline)) void hpm_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

/// A task of a parallel region: called once per worker, with the worker's number.
typedef void (*hpm_pool_task)(void *context, long worker);

/// Runs `task(context, w)` for every w in 0 ..< workers, w = 0 on the calling thread and the
/// others on the package's pool of threads (started on first use and kept, so that a region
/// allocates nothing), and returns 0 once all have returned. Returns -1 without calling
/// `task` when the pool is in use (by another thread's region, or by the region this call is
/// made from), when `workers` is outside 2 … 64, when threads cannot be started, or on a
/// platform without POSIX threads: the caller then runs the region another way.
int hpm_pool_run(hpm_pool_task task, void *context, int workers);

/// Adds `value` to `*counter` atomically and returns the value before (relaxed order: the
/// counter only hands out work items; their results are ordered by the threads' join). For
/// the engine's dynamic scheduling: Swift's `Atomic` needs a newer macOS than the package's.
static inline __attribute__((always_inline)) long hpm_fetch_add(long *counter, long value) {
    return __atomic_fetch_add(counter, value, __ATOMIC_RELAXED);
}

typedef float hpm_f32x4 __attribute__((ext_vector_type(4)));
typedef float hpm_f32x8 __attribute__((ext_vector_type(8)));
typedef float hpm_f32x16 __attribute__((ext_vector_type(16)));

/// Stores a vector (SIMD4, SIMD8, SIMD16<Float> in Swift) with non-temporal stores (x86
/// `movntps`), so that the line is written without being read first. Inline, for the Swift
/// kernels.
/// - 4 and 8 floats: at a 16-byte-aligned address, consecutive 16-byte stores in address order
///   (what the SSE2 build measured fastest: a 32-byte store split by the compiler came out in
///   reverse order and ran 1.2× slower).
/// - 16 floats (the AVX-512 build): one 64-byte store of the whole vector at a 64-byte-aligned
///   address, so that the compiler keeps the arithmetic feeding it at full width (stores of
///   its four 16-byte quarters made it narrow that arithmetic to 16-byte registers).
static inline __attribute__((always_inline)) void hpm_stream4(float *address, hpm_f32x4 v) {
    __builtin_nontemporal_store(v, (hpm_f32x4 *)address);
}

static inline __attribute__((always_inline)) void hpm_stream8(float *address, hpm_f32x8 v) {
    __builtin_nontemporal_store(v.s0123, (hpm_f32x4 *)address);
    __builtin_nontemporal_store(v.s4567, (hpm_f32x4 *)(address + 4));
}

static inline __attribute__((always_inline)) void hpm_stream16(float *address, hpm_f32x16 v) {
    __builtin_nontemporal_store(v, (hpm_f32x16 *)address);
}

/// Loads and stores a vector at an address of any alignment. Swift's `loadUnaligned(as:)` and
/// `storeBytes(of:as:)` do the same, but once the kernels became a module of their own the
/// optimizer left them as calls in the cross-entropy's column loop (1.5× its time); these
/// always inline to one unaligned vector move.
static inline __attribute__((always_inline)) hpm_f32x4 hpm_load4(const float *address) {
    hpm_f32x4 v;
    __builtin_memcpy(&v, address, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) hpm_f32x8 hpm_load8(const float *address) {
    hpm_f32x8 v;
    __builtin_memcpy(&v, address, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) hpm_f32x16 hpm_load16(const float *address) {
    hpm_f32x16 v;
    __builtin_memcpy(&v, address, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) void hpm_store4(float *address, hpm_f32x4 v) {
    __builtin_memcpy(address, &v, sizeof v);
}

static inline __attribute__((always_inline)) void hpm_store8(float *address, hpm_f32x8 v) {
    __builtin_memcpy(address, &v, sizeof v);
}

static inline __attribute__((always_inline)) void hpm_store16(float *address, hpm_f32x16 v) {
    __builtin_memcpy(address, &v, sizeof v);
}

typedef double hpm_f64x8 __attribute__((ext_vector_type(8)));
typedef int hpm_i32x8 __attribute__((ext_vector_type(8)));

/// Conversions between eight lanes (SIMD8<Float>, SIMD8<Double>, SIMD8<Int32> in Swift): one
/// vector conversion each (`vcvtps2pd`, `vcvtpd2ps`, `vcvtdq2ps`; two halves in the SSE2
/// build). Swift's generic SIMD initialisers between scalar types are a call and a loop over
/// lanes, and a lane-by-lane initialiser is left to the SLP vectoriser, which in the per-pixel
/// kernels split it into scalar converts and shuffles.
static inline __attribute__((always_inline)) hpm_f64x8 hpm_widen8(hpm_f32x8 v) {
    return __builtin_convertvector(v, hpm_f64x8);
}

static inline __attribute__((always_inline)) hpm_f32x8 hpm_narrow8(hpm_f64x8 v) {
    return __builtin_convertvector(v, hpm_f32x8);
}

static inline __attribute__((always_inline)) hpm_f32x8 hpm_int32_to_float8(hpm_i32x8 v) {
    return __builtin_convertvector(v, hpm_f32x8);
}

/// Each lane of `v` clamped to `lower...upper` (`vminps`/`vmaxps`; not for NaN lanes). Swift's
/// `clamped(lowerBound:upperBound:)` is a call per vector into the standard library's generic
/// `pointwiseMin` and `pointwiseMax`.
static inline __attribute__((always_inline)) hpm_f32x8 hpm_clamp8(hpm_f32x8 v, float lower, float upper) {
    hpm_f32x8 lo = lower, hi = upper;
    return __builtin_elementwise_min(__builtin_elementwise_max(v, lo), hi);
}

/// Orders the non-temporal stores issued so far before any later store (x86 `sfence`).
void hpm_stream_fence(void);

#endif
