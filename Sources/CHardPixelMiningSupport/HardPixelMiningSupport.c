#include "HardPixelMiningSupport.h"
#include <stdint.h>

typedef float hpm_f32x4 __attribute__((ext_vector_type(4), aligned(16)));
typedef float hpm_f32x4u __attribute__((ext_vector_type(4), aligned(4)));

void hpm_stream_floats(float *destination, const float *source, ptrdiff_t count) {
    ptrdiff_t i = 0;
    while (i < count && ((uintptr_t)(destination + i) & 15) != 0) {
        destination[i] = source[i];
        i++;
    }
    for (; i + 16 <= count; i += 16) {
        hpm_f32x4 a = *(const hpm_f32x4u *)(source + i);
        hpm_f32x4 b = *(const hpm_f32x4u *)(source + i + 4);
        hpm_f32x4 c = *(const hpm_f32x4u *)(source + i + 8);
        hpm_f32x4 d = *(const hpm_f32x4u *)(source + i + 12);
        __builtin_nontemporal_store(a, (hpm_f32x4 *)(destination + i));
        __builtin_nontemporal_store(b, (hpm_f32x4 *)(destination + i + 4));
        __builtin_nontemporal_store(c, (hpm_f32x4 *)(destination + i + 8));
        __builtin_nontemporal_store(d, (hpm_f32x4 *)(destination + i + 12));
    }
    for (; i + 4 <= count; i += 4) {
        hpm_f32x4 a = *(const hpm_f32x4u *)(source + i);
        __builtin_nontemporal_store(a, (hpm_f32x4 *)(destination + i));
    }
    for (; i < count; i++) destination[i] = source[i];
}

typedef uint16_t hpm_u16x8 __attribute__((ext_vector_type(8), aligned(16)));
typedef uint16_t hpm_u16x8u __attribute__((ext_vector_type(8), aligned(2)));

void hpm_stream_halves(uint16_t *destination, const uint16_t *source, ptrdiff_t count) {
    ptrdiff_t i = 0;
    while (i < count && ((uintptr_t)(destination + i) & 15) != 0) {
        destination[i] = source[i];
        i++;
    }
    for (; i + 32 <= count; i += 32) {
        hpm_u16x8 a = *(const hpm_u16x8u *)(source + i);
        hpm_u16x8 b = *(const hpm_u16x8u *)(source + i + 8);
        hpm_u16x8 c = *(const hpm_u16x8u *)(source + i + 16);
        hpm_u16x8 d = *(const hpm_u16x8u *)(source + i + 24);
        __builtin_nontemporal_store(a, (hpm_u16x8 *)(destination + i));
        __builtin_nontemporal_store(b, (hpm_u16x8 *)(destination + i + 8));
        __builtin_nontemporal_store(c, (hpm_u16x8 *)(destination + i + 16));
        __builtin_nontemporal_store(d, (hpm_u16x8 *)(destination + i + 24));
    }
    for (; i + 8 <= count; i += 8) {
        hpm_u16x8 a = *(const hpm_u16x8u *)(source + i);
        __builtin_nontemporal_store(a, (hpm_u16x8 *)(destination + i));
    }
    for (; i < count; i++) destination[i] = source[i];
}

void hpm_stream_fence(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_sfence();
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}
