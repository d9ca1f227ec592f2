// The compute floor of the label-smoothed cross-entropy on this machine: the least arithmetic
// a kernel with one exp per logit can do, without any DRAM traffic for the logits.
//
// A tile of 4,096 pixels × 40 classes (NCHW rows, 655 KB: in L2) is swept in columns of 16
// pixels, as the package's kernels do: the running maximum over the classes, then per class
// exp(x − m) (the same Cephes polynomial as VectorMath.exp), Σ exp and Σ (x − m). With `g`,
// also the gradient coef · e / Σ − b of every logit, written with non-temporal stores to 40
// rows a plane (307,200 floats) apart in a 393 MB buffer, as the NYU-v2 gradient is laid out.
// The tile is swept 600 times; the time per 16 logits is scaled to the NYU-v2 batch
// (8 × 40 × 480 × 640 logits). Plain C with vector extensions, so that one file compiles for
// the baseline and for the native CPU:
//
//     clang -O2 Benchmarks/compute_floor.c -o /tmp/compute_floor_baseline
//     clang -O2 -march=native -ffp-contract=fast Benchmarks/compute_floor.c -o /tmp/compute_floor_native
//     /tmp/compute_floor_native        # max, exp, sums
//     /tmp/compute_floor_native g      # and the streamed gradient
//
// (`clang` is the Swift toolchain's.) Docs/Performance.md, session 11, has the figures and
// what they imply for the targets of issue 9.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float v16 __attribute__((vector_size(64)));
typedef int i16 __attribute__((vector_size(64)));

static inline v16 splat(float x) { return (v16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }
static inline i16 splati(int x) { return (i16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }
static inline v16 maximum(v16 a, v16 b) {
    i16 k = a > b;
    return (v16)(((i16)a & k) | ((i16)b & ~k));
}

// e^x for x <= 0, Cephes expf (the package's VectorMath.exp).
static inline v16 exp16(v16 x) {
    x = maximum(x, splat(-87.33f));
    v16 magic = splat(12582912.f);
    v16 t = x * splat(1.44269504f) + magic;
    v16 n = t - magic;
    v16 r = n * splat(-0.693359375f) + x;
    r = n * splat(2.1219444e-4f) + r;
    v16 r2 = r * r;
    v16 p = r * splat(1.98756915e-4f) + splat(1.39819995e-3f);
    p = p * r + splat(8.3334519e-3f);
    p = p * r + splat(4.16657959e-2f);
    p = p * r + splat(1.66666655e-1f);
    p = p * r + splat(5.00000012e-1f);
    p = p * r2 + (r + splat(1.f));
    return p * (v16)(((i16)t - splati(0x4B400000) + splati(127)) << 23);
}

int main(int argc, char **argv) {
    const int classes = 40, pixels = 4096, stride = pixels + 16;
    const size_t plane = 307200, images = 8;
    const long sweeps = 600;
    int gradient = argc > 1 && argv[1][0] == 'g';
    float *tile = aligned_alloc(64, (size_t)classes * stride * 4);
    float *column = aligned_alloc(64, (size_t)classes * 64);
    float *state = aligned_alloc(64, (size_t)pixels * 8);
    for (long i = 0; i < (long)classes * stride; i++) tile[i] = (float)((i * 2654435761u) % 1000) / 125.f - 4;
    float *out = gradient ? aligned_alloc(64, images * plane * classes * 4) : NULL;
    if (out) memset(out, 0, images * plane * classes * 4);  // fault the pages in before timing
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (long sweep = 0; sweep < sweeps; sweep++) {
        for (int o = 0; o < pixels; o += 16) {
            v16 m0 = *(v16 *)(tile + o), m1 = m0, m2 = m0, m3 = m0;
            for (int c = 1; c + 3 < classes; c += 4) {
                m1 = maximum(m1, *(v16 *)(tile + c * stride + o));
                m2 = maximum(m2, *(v16 *)(tile + (c + 1) * stride + o));
                m3 = maximum(m3, *(v16 *)(tile + (c + 2) * stride + o));
                m0 = maximum(m0, *(v16 *)(tile + (c + 3) * stride + o));
            }
            v16 m = maximum(maximum(m0, m1), maximum(m2, m3));
            v16 sumExp = splat(0), sumGap = splat(0);
            for (int c = 0; c < classes; c++) {
                v16 gap = *(v16 *)(tile + c * stride + o) - m;
                v16 e = exp16(gap);
                *(v16 *)(column + c * 16) = e;
                sumExp += e;
                sumGap += gap;
            }
            *(v16 *)(state + o) = sumExp;
            *(v16 *)(state + pixels + o) = sumGap;
            if (out) {
                v16 scale = splat(0.5f) / sumExp;
                float *row = out + (size_t)(sweep % images) * plane * classes + (size_t)(sweep / images) % 75 * pixels + o;
                for (int c = 0; c < classes; c++) {
                    v16 g = scale * *(v16 *)(column + c * 16) + splat(-0.01f);
                    __builtin_nontemporal_store(g, (v16 *)(row + (size_t)c * plane));
                }
            }
        }
    }
    __builtin_ia32_sfence();
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) * 1e-9;
    double vectors = (double)sweeps * pixels / 16 * classes;
    double nyuVectors = (double)images * classes * plane / 16;
    double check = state[5] + (out ? out[plane] : 0);
    printf("%s: %.2f ns per 16 logits, NYU-v2 batch %.1f ms (check %g)\n",
           gradient ? "max + exp + sums + streamed gradient" : "max + exp + sums",
           seconds / vectors * 1e9, seconds / vectors * nyuVectors * 1e3, check);
    return 0;
}
