// The cross-entropy as a C programmer would write it for speed, from the equations alone:
//
// - a label pass counts each image's labelled pixels (the per-image mean's divisor);
// - each image is cut into tiles of TILE pixels (a work item); threads take runs of RUN tiles
//   from an atomic counter;
// - a tile is gone through twice (16 pixels make one AVX-512 register natively, four SSE
//   registers in a baseline build, through Clang's vector extensions):
//   A. row by row, four class rows at a time: the only read from memory, copied into a
//      C × TILE buffer (in L2) while the per-pixel maximum is taken; each row is TILE
//      contiguous pixels;
//   B. column by column (16 pixels, all C classes) from that buffer: e = exp(x − m) into a
//      C × 16 buffer in L1, with Σe, Σ(x − m) and the label's x − m (a compare and blend);
//      the loss and the coefficients 16 pixels at a time (one vector log); the column's
//      gradient k (e / Σe − t), one non-temporal store per class; meanwhile the next tile's
//      lines are prefetched into L2, one per class and column;
// - exp: round-to-nearest range reduction in two steps, a degree-6 polynomial, the exponent
//   added to the bits; log: exponent and mantissa in [√½, √2), an odd series in
//   (m − 1)/(m + 1) to the 9th power;
// - each tile's loss sum is kept (in double, per lane) and the sums are added in tile order,
//   so the value does not depend on the thread count.
#include "CReferenceKernel.h"

// The helpers pass 16-float vectors by value; they are static inline, so the calling convention
// of a baseline (non-AVX-512) build, which -Wpsabi warns about, never crosses a boundary.
#pragma clang diagnostic ignored "-Wpsabi"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TILE 1024
#define LANES 16
#define RUN 16

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

typedef struct {
    const float *logits;
    const int32_t *labels;
    float *gradient;
    const double *scale;  // 1 / (N n_k), 0 when n_k = 0
    double *tile_sums;    // each tile's Σ ce over labelled pixels
    int *tile_finite;
    int classes, tiles_per_image, items;
    ptrdiff_t plane;
    float on, off;
    int32_t ignore;
    long next;  // the atomic work counter
} Job;

/// One tile: pixels [p0, p0 + count) of image k, in two sweeps.
/// A. Row by row, four class rows at a time (TILE contiguous pixels each, streams the hardware
///    prefetcher follows): the only read from memory, copied into the tile (in L2) while the
///    per-pixel maximum is taken.
/// B. Column by column (16 pixels, all C classes), from the tile: e = exp(x − m) into a C × 16
///    buffer in L1, Σe, Σ(x − m), the label's x − m (compare and blend); the loss and the
///    coefficients, 16 pixels at a time; then the column's gradient k (e / Σe − t), one
///    non-temporal store per class.
static void tile(const Job *job, int k, ptrdiff_t p0, int count, const float *next, float *work, double *sum, int *finite) {
    const int C = job->classes;
    const ptrdiff_t plane = job->plane;
    const float *x = job->logits + (ptrdiff_t)k * C * plane + p0;
    float *g = job->gradient + (ptrdiff_t)k * C * plane + p0;
    const int32_t *y = job->labels + (ptrdiff_t)k * plane + p0;
    const float on = job->on, off = job->off, scale = (float)job->scale[k];
    float *t = work;                        // the tile: C rows of TILE pixels
    float *mx = t + (size_t)C * TILE;       // TILE maxima
    float *e = mx + TILE;                   // C × 16 exponentials of one column
    int32_t *yl = (int32_t *)(e + (size_t)C * LANES);  // TILE labels (ignore past count)
    const int full = count / LANES * LANES;
    const int padded = full < count ? full + LANES : full;
    // A. Copy and maximum.
    int c = 0;
    for (; c + 4 <= C; c += 4) {
        const float *r0 = x + (ptrdiff_t)c * plane, *r1 = r0 + plane, *r2 = r1 + plane, *r3 = r2 + plane;
        float *t0 = t + (size_t)c * TILE, *t1 = t0 + TILE, *t2 = t1 + TILE, *t3 = t2 + TILE;
        for (int p = 0; p < full; p += LANES) {
            v16f a0 = load(r0 + p), a1 = load(r1 + p), a2 = load(r2 + p), a3 = load(r3 + p);
            store(t0 + p, a0); store(t1 + p, a1); store(t2 + p, a2); store(t3 + p, a3);
            v16f mm = vmax(vmax(a0, a1), vmax(a2, a3));
            store(mx + p, c == 0 ? mm : vmax(load(mx + p), mm));
        }
        for (int p = full; p < count; p++) {
            float v = c == 0 ? r0[p] : (r0[p] > mx[p] ? r0[p] : mx[p]);
            v = r1[p] > v ? r1[p] : v; v = r2[p] > v ? r2[p] : v; v = r3[p] > v ? r3[p] : v;
            mx[p] = v;
            t0[p] = r0[p]; t1[p] = r1[p]; t2[p] = r2[p]; t3[p] = r3[p];
        }
    }
    for (; c < C; c++) {
        const float *r0 = x + (ptrdiff_t)c * plane;
        float *t0 = t + (size_t)c * TILE;
        for (int p = 0; p < full; p += LANES) {
            v16f a0 = load(r0 + p);
            store(t0 + p, a0);
            store(mx + p, c == 0 ? a0 : vmax(load(mx + p), a0));
        }
        for (int p = full; p < count; p++) {
            mx[p] = c == 0 || r0[p] > mx[p] ? r0[p] : mx[p];
            t0[p] = r0[p];
        }
    }
    // A partial column's padding: x = 0, m = 0 (e = 1), ignored.
    for (int p = count; p < padded; p++) {
        mx[p] = 0;
        for (c = 0; c < C; c++) t[(size_t)c * TILE + p] = 0;
    }
    for (int p = 0; p < count; p++) yl[p] = y[p];
    for (int p = count; p < padded; p++) yl[p] = job->ignore;
    // B. Column by column.
    v8d total0 = (v8d)0.0, total1 = (v8d)0.0;
    v16f nonfinite = splat(0);
    for (int i = 0; i < padded; i += LANES) {
        const v16f m = load(mx + i);
        const v16i yv = *(const v16iu *)(yl + i);
        v16f s = splat(0), dsum = splat(0), xl = splat(0);
        if (next) {
            // The next tile's column i, one line per class, into L2: its copy then finds it there.
            for (c = 0; c < C; c++) __builtin_prefetch(next + (ptrdiff_t)c * plane + i, 0, 2);
        }
        for (c = 0; c < C; c++) {
            v16f xv = load(t + (size_t)c * TILE + i);
            v16f dv = xv - m;
            v16f ev = vexp(dv);
            store(e + c * LANES, ev);
            s += ev;
            dsum += dv;
            xl = vselect(yv == c, dv, xl);
            nonfinite += xv * splat(0);
        }
        const v16f ls = vlog(s);
        const v16i valid = yv != job->ignore;
        const v16f ce = -(splat(on - off) * (xl - ls) + splat(off) * (dsum - splat((float)C) * ls));
        const v16f counted = vselect(valid, ce, splat(0));
        total0 += __builtin_convertvector(counted.lo, v8d);
        total1 += __builtin_convertvector(counted.hi, v8d);
        const v16f k2 = vselect(valid, splat(scale), splat(0)), inv = k2 / s;
        const v16f koff = k2 * splat(off), kdelta = k2 * splat(on - off);
        const int lanes = count - i < LANES ? count - i : LANES;
        for (c = 0; c < C; c++) {
            v16f gv = inv * load(e + c * LANES) - koff - vselect(yv == c, kdelta, splat(0));
            float *gc = g + (ptrdiff_t)c * plane + i;
            if (lanes == LANES) {
                stream(gc, gv);
            } else {
                for (int l = 0; l < lanes; l++) gc[l] = gv[l];
            }
        }
    }
    double total = 0;
    for (int l = 0; l < 8; l++) total += total0[l] + total1[l];
    for (int l = 0; l < LANES; l++) if (nonfinite[l] != 0) *finite = 0;
    *sum = total;
}

static void *worker(void *argument) {
    Job *job = argument;
    const int C = job->classes;
    float *work = aligned_alloc(64, sizeof(float) * ((size_t)C * TILE + 2 * TILE + (size_t)C * LANES + 64));
    for (;;) {
        long first = __atomic_fetch_add(&job->next, RUN, __ATOMIC_RELAXED);
        if (first >= job->items) break;
        long last = first + RUN < job->items ? first + RUN : job->items;
        for (long item = first; item < last; item++) {
            int k = (int)(item / job->tiles_per_image);
            ptrdiff_t p0 = (ptrdiff_t)(item % job->tiles_per_image) * TILE;
            int count = job->plane - p0 < TILE ? (int)(job->plane - p0) : TILE;
            job->tile_finite[item] = 1;
            const float *next = NULL;
            if (item + 1 < last) {
                int k1 = (int)((item + 1) / job->tiles_per_image);
                ptrdiff_t q0 = (ptrdiff_t)((item + 1) % job->tiles_per_image) * TILE;
                next = job->logits + (ptrdiff_t)k1 * C * job->plane + q0;
            }
            tile(job, k, p0, count, next, work, &job->tile_sums[item], &job->tile_finite[item]);
        }
    }
#if defined(__x86_64__)
    __builtin_ia32_sfence();
#endif
    free(work);
    return NULL;
}

double cref_cross_entropy(
    const float *logits, const int32_t *labels, int images, int classes, ptrdiff_t plane, float on, float off,
    int32_t ignore_label, float *gradient, int threads) {
    Job job = {0};
    job.logits = logits;
    job.labels = labels;
    job.gradient = gradient;
    job.classes = classes;
    job.plane = plane;
    job.on = on;
    job.off = off;
    job.ignore = ignore_label;
    job.tiles_per_image = (int)((plane + TILE - 1) / TILE);
    job.items = images * job.tiles_per_image;
    double *scale = malloc(sizeof(double) * (size_t)images);
    for (int k = 0; k < images; k++) {
        long n = 0;
        const int32_t *y = labels + (ptrdiff_t)k * plane;
        for (ptrdiff_t i = 0; i < plane; i++) n += y[i] != ignore_label;
        scale[k] = n > 0 ? 1.0 / ((double)images * (double)n) : 0;
    }
    job.scale = scale;
    job.tile_sums = calloc((size_t)job.items, sizeof(double));
    job.tile_finite = calloc((size_t)job.items, sizeof(int));
    if (threads <= 1) {
        worker(&job);
    } else {
        pthread_t *pool = malloc(sizeof(pthread_t) * (size_t)threads);
        for (int t = 0; t < threads; t++) pthread_create(&pool[t], NULL, worker, &job);
        for (int t = 0; t < threads; t++) pthread_join(pool[t], NULL);
        free(pool);
    }
    double value = 0;
    int finite = 1;
    for (int k = 0; k < images; k++) {
        double sum = 0;
        for (int t = 0; t < job.tiles_per_image; t++) {
            sum += job.tile_sums[k * job.tiles_per_image + t];
            finite &= job.tile_finite[k * job.tiles_per_image + t];
        }
        value += sum * scale[k];
    }
    free(scale);
    free(job.tile_sums);
    free(job.tile_finite);
    return finite ? value : NAN;
}
