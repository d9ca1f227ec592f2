#include "CMemoryFloor.h"
#include <stdint.h>

typedef float f4 __attribute__((ext_vector_type(4), aligned(16)));
typedef float f4u __attribute__((ext_vector_type(4), aligned(4)));

float floor_read(const float *source, ptrdiff_t count) {
    f4 a = 0, b = 0, c = 0, d = 0;
    ptrdiff_t i = 0;
    for (; i + 16 <= count; i += 16) {
        a += *(const f4u *)(source + i);
        b += *(const f4u *)(source + i + 4);
        c += *(const f4u *)(source + i + 8);
        d += *(const f4u *)(source + i + 12);
    }
    f4 s = a + b + c + d;
    float total = s.x + s.y + s.z + s.w;
    for (; i < count; i++) total += source[i];
    return total;
}

void floor_read_stream_write(const float *source, float *destination, ptrdiff_t count) {
    ptrdiff_t i = 0;
    while (i < count && ((uintptr_t)(destination + i) & 15) != 0) { destination[i] = source[i]; i++; }
    for (; i + 16 <= count; i += 16) {
        __builtin_nontemporal_store(*(const f4u *)(source + i), (f4 *)(destination + i));
        __builtin_nontemporal_store(*(const f4u *)(source + i + 4), (f4 *)(destination + i + 4));
        __builtin_nontemporal_store(*(const f4u *)(source + i + 8), (f4 *)(destination + i + 8));
        __builtin_nontemporal_store(*(const f4u *)(source + i + 12), (f4 *)(destination + i + 12));
    }
    for (; i < count; i++) destination[i] = source[i];
#if defined(__x86_64__)
    __builtin_ia32_sfence();
#endif
}

float floor_read_twice_stream_write(const float *source, float *destination, ptrdiff_t count) {
    float total = floor_read(source, count);
    floor_read_stream_write(source, destination, count);
    return total;
}
