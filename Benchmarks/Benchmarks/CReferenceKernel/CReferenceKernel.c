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
//
// The two-pass kernel (the hard-pixel objective's logit passes, weights given) runs the same
// tiles without the gradient, keeping each pixel's maximum, log Σe and ce, then a second pass
// over the logits in tiles of GRADIENT_TILE pixels, row by row: per pixel a = W/(N n_k Σe),
// b and d in L1, then one exp and one FMA per logit, streamed.
#include "CReferenceKernel.h"

#include "VectorMath.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TILE 1024
#define RUN 16

/// Pixels per tile of the two-pass kernel's gradient pass: row by row, so each class row is
/// one run of 16 KiB, which the hardware prefetcher follows at the memory's speed.
#define GRADIENT_TILE 4096

typedef struct {
    const float *logits;
    const int32_t *labels;
    float *gradient;      // the cross-entropy's, or the two-pass kernel's second pass's
    const double *scale;  // 1 / (N n_k), 0 when n_k = 0
    double *tile_sums;    // each tile's Σ ce (Σ W ce in the gradient pass) over labelled pixels
    int *tile_finite;
    int classes, tiles_per_image, items, tile_pixels;
    ptrdiff_t plane;
    float on, off;
    int32_t ignore;
    // The two-pass kernel: each pixel's maximum, log Σe and ce (0 if ignored), N·plane each,
    // written by the statistics pass (`gradient` NULL) and read by the gradient pass, with the
    // weights W.
    float *maximum, *log_sum, *loss;
    const float *weights;
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
    float *g = job->gradient ? job->gradient + (ptrdiff_t)k * C * plane + p0 : NULL;
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
        const int lanes = count - i < LANES ? count - i : LANES;
        if (!g) {
            // The two-pass kernel's statistics pass: each pixel's state instead of a gradient.
            const ptrdiff_t at = (ptrdiff_t)k * plane + p0 + i;
            if (lanes == LANES) {
                store(job->maximum + at, m); store(job->log_sum + at, ls); store(job->loss + at, counted);
            } else {
                for (int l = 0; l < lanes; l++) {
                    job->maximum[at + l] = m[l]; job->log_sum[at + l] = ls[l]; job->loss[at + l] = counted[l];
                }
            }
            continue;
        }
        const v16f k2 = vselect(valid, splat(scale), splat(0)), inv = k2 / s;
        const v16f koff = k2 * splat(off), kdelta = k2 * splat(on - off);
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

/// The two-pass kernel's gradient pass over one tile: pixels [p0, p0 + count) of image k,
/// given each pixel's maximum m, log Σe and weight W. Per pixel, k = W / (N n_k) (0 if
/// ignored), a = k / Σe = k exp(−log Σe), b = k off, d = k (on − off), in L1; then row by row,
/// each class row one contiguous run fetched ahead by software prefetch:
/// g = a exp(x − m) − b − [y = c] d, streamed. Returns the tile's Σ W ce.
static double gradient_tile(const Job *job, int k, ptrdiff_t p0, int count, float *work) {
    const int C = job->classes;
    const ptrdiff_t plane = job->plane, first = (ptrdiff_t)k * plane + p0;
    const float *x = job->logits + (ptrdiff_t)k * C * plane + p0;
    float *g = job->gradient + (ptrdiff_t)k * C * plane + p0;
    const float on = job->on, off = job->off, scale = (float)job->scale[k];
    float *mm = work, *a = mm + GRADIENT_TILE, *b = a + GRADIENT_TILE, *d = b + GRADIENT_TILE;
    int32_t *yl = (int32_t *)(d + GRADIENT_TILE);
    const int full = count / LANES * LANES;
    v8d total0 = (v8d)0.0, total1 = (v8d)0.0;
    for (int p = 0; p < full; p += LANES) {
        const v16i yv = *(const v16iu *)(job->labels + first + p);
        const v16f w = load(job->weights + first + p);
        const v16f kv = vselect(yv != job->ignore, w * splat(scale), splat(0));
        store(mm + p, load(job->maximum + first + p));
        store(a + p, kv * vexp(-load(job->log_sum + first + p)));
        store(b + p, kv * splat(off));
        store(d + p, kv * splat(on - off));
        *(v16iu *)(yl + p) = yv;
        const v16f counted = w * load(job->loss + first + p);
        total0 += __builtin_convertvector(counted.lo, v8d);
        total1 += __builtin_convertvector(counted.hi, v8d);
    }
    double total = 0;
    for (int l = 0; l < 8; l++) total += total0[l] + total1[l];
    for (int p = full; p < count; p++) {
        const int32_t y = job->labels[first + p];
        const float w = job->weights[first + p], kv = y != job->ignore ? w * scale : 0;
        mm[p] = job->maximum[first + p];
        a[p] = kv * expf(-job->log_sum[first + p]);
        b[p] = kv * off;
        d[p] = kv * (on - off);
        yl[p] = y;
        total += (double)(w * job->loss[first + p]);
    }
    for (int c = 0; c < C; c++) {
        const float *row = x + (ptrdiff_t)c * plane;
        float *out = g + (ptrdiff_t)c * plane;
        for (int p = 0; p < full; p += LANES) {
            // 4 KiB ahead in the row (past its end, the next tile's row): the hardware prefetcher
            // starts afresh at each 4 KiB page (without this the two passes took 2.0× the
            // cross-entropy natively, with it 1.5×).
            __builtin_prefetch(row + p + 1024, 0, 3);
            const v16i yv = *(const v16iu *)(yl + p);
            const v16f e = vexp(load(row + p) - load(mm + p));
            stream(out + p, e * load(a + p) - load(b + p) - vselect(yv == c, load(d + p), splat(0)));
        }
        for (int p = full; p < count; p++) {
            out[p] = expf(row[p] - mm[p]) * a[p] - b[p] - (yl[p] == c ? d[p] : 0);
        }
    }
    return total;
}

static void *worker(void *argument) {
    Job *job = argument;
    const int C = job->classes;
    const int two_pass_gradient = job->weights != NULL;
    const int T = job->tile_pixels;
    float *work = aligned_alloc(
        64, sizeof(float) * (two_pass_gradient ? 5 * (size_t)GRADIENT_TILE + 64
                                               : (size_t)C * TILE + 2 * TILE + (size_t)C * LANES + 64));
    for (;;) {
        long first = __atomic_fetch_add(&job->next, RUN, __ATOMIC_RELAXED);
        if (first >= job->items) break;
        long last = first + RUN < job->items ? first + RUN : job->items;
        for (long item = first; item < last; item++) {
            int k = (int)(item / job->tiles_per_image);
            ptrdiff_t p0 = (ptrdiff_t)(item % job->tiles_per_image) * T;
            int count = job->plane - p0 < T ? (int)(job->plane - p0) : T;
            if (two_pass_gradient) {
                job->tile_sums[item] = gradient_tile(job, k, p0, count, work);
                continue;
            }
            const float *next = NULL;
            if (item + 1 < last) {
                int k1 = (int)((item + 1) / job->tiles_per_image);
                ptrdiff_t q0 = (ptrdiff_t)((item + 1) % job->tiles_per_image) * T;
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

/// Each image's 1 / (N n_k), 0 when it has no labelled pixel (the label pass).
static double *per_image_scale(const int32_t *labels, int images, ptrdiff_t plane, int32_t ignore_label) {
    double *scale = malloc(sizeof(double) * (size_t)images);
    for (int k = 0; k < images; k++) {
        long n = 0;
        const int32_t *y = labels + (ptrdiff_t)k * plane;
        for (ptrdiff_t i = 0; i < plane; i++) n += y[i] != ignore_label;
        scale[k] = n > 0 ? 1.0 / ((double)images * (double)n) : 0;
    }
    return scale;
}

/// Runs `job`'s tiles of `tile_pixels` on `threads` threads and returns
/// Σ_k scale_k Σ_{tiles of k} tile sum, added in tile order, or NaN if a tile saw a non-finite
/// logit.
static double run(Job *job, int images, int tile_pixels, int threads) {
    job->tile_pixels = tile_pixels;
    job->tiles_per_image = (int)((job->plane + tile_pixels - 1) / tile_pixels);
    job->items = images * job->tiles_per_image;
    job->next = 0;
    job->tile_sums = calloc((size_t)job->items, sizeof(double));
    job->tile_finite = calloc((size_t)job->items, sizeof(int));
    for (int i = 0; i < job->items; i++) job->tile_finite[i] = 1;
    if (threads <= 1) {
        worker(job);
    } else {
        pthread_t *pool = malloc(sizeof(pthread_t) * (size_t)threads);
        for (int t = 0; t < threads; t++) pthread_create(&pool[t], NULL, worker, job);
        for (int t = 0; t < threads; t++) pthread_join(pool[t], NULL);
        free(pool);
    }
    double value = 0;
    int finite = 1;
    for (int k = 0; k < images; k++) {
        double sum = 0;
        for (int t = 0; t < job->tiles_per_image; t++) {
            sum += job->tile_sums[k * job->tiles_per_image + t];
            finite &= job->tile_finite[k * job->tiles_per_image + t];
        }
        value += sum * job->scale[k];
    }
    free(job->tile_sums);
    free(job->tile_finite);
    return finite ? value : NAN;
}

/// The work both kernels share: the logits, labels, targets and each image's 1 / (N n_k) (the
/// caller frees `scale`).
static Job job_for(
    const float *logits, const int32_t *labels, int images, int classes, ptrdiff_t plane, float on, float off,
    int32_t ignore_label) {
    return (Job){
        .logits = logits, .labels = labels, .classes = classes, .plane = plane, .on = on, .off = off,
        .ignore = ignore_label, .scale = per_image_scale(labels, images, plane, ignore_label)};
}

double cref_cross_entropy(
    const float *logits, const int32_t *labels, int images, int classes, ptrdiff_t plane, float on, float off,
    int32_t ignore_label, float *gradient, int threads) {
    Job job = job_for(logits, labels, images, classes, plane, on, off, ignore_label);
    job.gradient = gradient;
    const double value = run(&job, images, TILE, threads);
    free((void *)job.scale);
    return value;
}

double cref_two_pass(
    const float *logits, const int32_t *labels, const float *weights, int images, int classes, ptrdiff_t plane,
    float on, float off, int32_t ignore_label, float *gradient, float *state, int threads) {
    Job job = job_for(logits, labels, images, classes, plane, on, off, ignore_label);
    const ptrdiff_t pixels = (ptrdiff_t)images * plane;
    job.maximum = state;
    job.log_sum = state + pixels;
    job.loss = state + 2 * pixels;
    // The statistics pass: no gradient, each pixel's state.
    double value = run(&job, images, TILE, threads);
    if (!isnan(value)) {
        // The gradient pass, with the weights.
        job.gradient = gradient;
        job.weights = weights;
        value = run(&job, images, GRADIENT_TILE, threads);
    }
    free((void *)job.scale);
    return value;
}
