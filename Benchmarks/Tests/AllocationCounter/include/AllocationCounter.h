#ifndef ALLOCATION_COUNTER_H
#define ALLOCATION_COUNTER_H

/// Whether this process counts its heap allocations (Linux with glibc: the counter replaces
/// `malloc` and its relatives, forwarding to glibc's own).
int allocation_counting_available(void);

/// Heap allocations so far, on every thread: `malloc`, `calloc`, `realloc`, `posix_memalign`,
/// `aligned_alloc`, `memalign`, `valloc` and `pvalloc` calls.
long allocation_count(void);

#endif
