// The cross-entropy as a C programmer would write it for speed, from the equations alone:
//
// - a label pass counts each image's labelled pixels (the per-image mean's divisor);
// - each image is cut into tiles of up to TILE pixels (a work item); a tile is swept one
//   column of 16 pixels at a time (one AVX-512 register in a native build, four SSE
//   registers in a baseline one, through Clang's vector extensions):
//   1. the maximum over the column's C vectors, four rows at a time, each row's line eight
//      columns ahead prefetched (the only read from memory),
//   2. e = exp(x − m) into a C-vector buffer in L1, with Σe and Σ(x − m),
//   3. per pixel log Σe (a vector log), the loss from the label's logit, the coefficient,
//   4. per class the gradient k (e / Σe − t), written with non-temporal stores;
// - exp: round-to-nearest range reduction in two steps, a degree-6 polynomial, the exponent
//   added to the bits; log: exponent and mantissa in [√½, √2), an odd series in
//   (m − 1)/(m + 1) to the 9th power;
// - threads take runs of tiles from an atomic counter; each tile's loss sum is kept and the
//   sums are added in tile order, so the value does not depend on the thread count.
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
#define RUN 4

typedef float v16f __attribute__((ext_vector_type(16), aligned(64)));
typedef float v16fu __attribute__((ext_vector_type(16), aligned(4)));
typedef int32_t v16i __attribute__((ext_vector_type(16), aligned(64)));
typedef float v4f __attribute__((ext_vector_type(4), aligned(16)));

static inline v16f splat(float x) { return (v16f)x; }
static inline v16f vmax(v16f a, v16f b) { return __builtin_elementwise_max(a, b); }
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

/// One tile: pixels [p0, p0 + count) of image k, one column of 16 pixels at a time: the
/// column's C vectors are read from memory once (the maximum, prefetching the next columns),
/// then from L1 (the exponentials, kept in a C-vector buffer), and its gradient is written
/// with non-temporal stores before the next column.
static void tile(const Job *job, int k, ptrdiff_t p0, int count, float *e, float *state, double *sum, int *finite) {
    const int C = job->classes;
    const ptrdiff_t plane = job->plane;
    const float *x = job->logits + (ptrdiff_t)k * C * plane + p0;
    float *g = job->gradient + (ptrdiff_t)k * C * plane + p0;
    const int32_t *y = job->labels + (ptrdiff_t)k * plane + p0;
    const float on = job->on, off = job->off, scale = (float)job->scale[k];
    float *column = state;  // a partial column's logits, C × 16
    double total = 0;
    v16f nonfinite = splat(0);
    // Columns start where the gradient's rows are 64-byte aligned, so that each column's
    // gradient vector is one whole-line non-temporal store; the pixels before are a partial
    // column.
    const int head = (int)(((64 - ((uintptr_t)g & 63)) & 63) / sizeof(float));
    for (int i = 0, lanes; i < count; i += lanes) {
        lanes = i == 0 && head > 0 ? head : LANES;
        if (lanes > count - i) lanes = count - i;
        // The column's rows: in place, or copied (a partial column at the plane's end).
        const float *base = x + i;
        ptrdiff_t stride = plane;
        if (lanes < LANES) {
            for (int c = 0; c < C; c++) {
                for (int l = 0; l < LANES; l++) column[c * LANES + l] = l < lanes ? x[(ptrdiff_t)c * plane + i + l] : 0;
            }
            base = column;
            stride = LANES;
        }
        // 1. The maximum, four rows at a time, prefetching the column 8 ahead.
        v16f m0 = splat(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
        int c = 0;
        for (; c + 4 <= C; c += 4) {
            __builtin_prefetch(x + (ptrdiff_t)c * plane + i + 8 * LANES);
            __builtin_prefetch(x + (ptrdiff_t)(c + 1) * plane + i + 8 * LANES);
            __builtin_prefetch(x + (ptrdiff_t)(c + 2) * plane + i + 8 * LANES);
            __builtin_prefetch(x + (ptrdiff_t)(c + 3) * plane + i + 8 * LANES);
            m0 = vmax(m0, load(base + c * stride));
            m1 = vmax(m1, load(base + (c + 1) * stride));
            m2 = vmax(m2, load(base + (c + 2) * stride));
            m3 = vmax(m3, load(base + (c + 3) * stride));
        }
        for (; c < C; c++) {
            __builtin_prefetch(x + (ptrdiff_t)c * plane + i + 8 * LANES);
            m0 = vmax(m0, load(base + c * stride));
        }
        const v16f m = vmax(vmax(m0, m1), vmax(m2, m3));
        // 2. e = exp(x − m) into the L1 buffer, Σe, Σ(x − m); finiteness through x · 0.
        v16f s = splat(0), dsum = splat(0);
        for (c = 0; c < C; c++) {
            v16f xv = load(base + c * stride);
            v16f dv = xv - m;
            v16f ev = vexp(dv);
            store(e + c * LANES, ev);
            s += ev;
            dsum += dv;
            nonfinite += xv * splat(0);
        }
        // 3. Per pixel: log Σe, the loss, the coefficients.
        const v16f ls = vlog(s);
        float kk[LANES], target[LANES];
        for (int l = 0; l < LANES; l++) {
            int label = l < lanes ? y[i + l] : job->ignore;
            int valid = label != job->ignore;
            float logp = valid ? (base[(ptrdiff_t)label * stride + l] - m[l]) - ls[l] : 0;
            float ce = -((on - off) * logp + off * (dsum[l] - (float)C * ls[l]));
            if (valid) total += ce;
            kk[l] = valid ? scale : 0;
            target[l] = valid ? (float)label : -1;
        }
        const v16f k2 = load(kk), inv = k2 / s, tv = load(target);
        // 4. The gradient k (e / Σe − t), t = off + (on − off)[c = label], streamed.
        for (c = 0; c < C; c++) {
            v16i hit = tv == splat((float)c);
            v16f gv = inv * load(e + c * LANES) - k2 * vselect(hit, splat(on), splat(off));
            float *gc = g + (ptrdiff_t)c * plane + i;
            if (lanes == LANES) {
                stream(gc, gv);
            } else {
                for (int l = 0; l < lanes; l++) gc[l] = gv[l];
            }
        }
    }
    for (int l = 0; l < LANES; l++) if (nonfinite[l] != 0) *finite = 0;
    *sum = total;
}

static void *worker(void *argument) {
    Job *job = argument;
    const int C = job->classes;
    float *e = aligned_alloc(64, sizeof(float) * ((size_t)C * LANES * 2 + 64));
    float *state = e + (size_t)C * LANES;
    for (;;) {
        long first = __atomic_fetch_add(&job->next, RUN, __ATOMIC_RELAXED);
        if (first >= job->items) break;
        long last = first + RUN < job->items ? first + RUN : job->items;
        for (long item = first; item < last; item++) {
            int k = (int)(item / job->tiles_per_image);
            ptrdiff_t p0 = (ptrdiff_t)(item % job->tiles_per_image) * TILE;
            int count = job->plane - p0 < TILE ? (int)(job->plane - p0) : TILE;
            job->tile_finite[item] = 1;
            tile(job, k, p0, count, e, state, &job->tile_sums[item], &job->tile_finite[item]);
        }
    }
#if defined(__x86_64__)
    __builtin_ia32_sfence();
#endif
    free(e);
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
