// The memory floor of the benchmarks: the least any kernel that reads the logits (once or
// twice) and writes a gradient of the same size can cost on this machine. Plain C loops,
// 16-byte vectors and non-temporal stores, so that they run at the memory's speed in any build.
#ifndef C_MEMORY_FLOOR_H
#define C_MEMORY_FLOOR_H
#include <stddef.h>

/// Reads `count` floats and returns their sum (one read).
float floor_read(const float *source, ptrdiff_t count);
/// Reads `count` floats and writes them to `destination` with non-temporal stores.
void floor_read_stream_write(const float *source, float *destination, ptrdiff_t count);
/// Reads `count` floats twice (a whole pass, then a second one) and writes them to
/// `destination` with non-temporal stores during the second: the hard-pixel objective's floor.
float floor_read_twice_stream_write(const float *source, float *destination, ptrdiff_t count);
#endif
