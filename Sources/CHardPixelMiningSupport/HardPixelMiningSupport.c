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

// A pool of worker threads, started on first use and kept: a parallel region then costs a
// wake-up and a join, and allocates nothing (DispatchQueue.concurrentPerform allocated about
// five blocks per region). One region at a time; a caller that finds the pool busy (another
// thread's region, or a region started from inside a region) gets -1 and runs its region
// another way.
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>

#define HPM_POOL_MAXIMUM 64

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_start = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static int pool_busy;           // a region owns the pool (set and cleared by its caller, atomically)
static int pool_threads;        // workers started (1 … HPM_POOL_MAXIMUM − 1)
static unsigned long pool_generation;
static hpm_pool_task pool_task;
static void *pool_context;
static int pool_workers;        // workers of the current region, the caller included
static int pool_remaining;      // helpers of the current region not yet finished

static void *pool_worker(void *argument) {
    const int index = (int)(intptr_t)argument;  // 1 …: the caller is worker 0
    unsigned long seen = 0;
    pthread_mutex_lock(&pool_lock);
    for (;;) {
        while (pool_generation == seen) pthread_cond_wait(&pool_start, &pool_lock);
        seen = pool_generation;
        if (index < pool_workers) {
            hpm_pool_task task = pool_task;
            void *context = pool_context;
            pthread_mutex_unlock(&pool_lock);
            task(context, index);
            pthread_mutex_lock(&pool_lock);
            if (--pool_remaining == 0) pthread_cond_signal(&pool_done);
        }
    }
    return NULL;
}

int hpm_pool_run(hpm_pool_task task, void *context, int workers) {
    if (workers < 2 || workers > HPM_POOL_MAXIMUM) return -1;
    int expected = 0;
    if (!__atomic_compare_exchange_n(&pool_busy, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) return -1;
    pthread_mutex_lock(&pool_lock);
    while (pool_threads < workers - 1) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attributes, pool_worker, (void *)(intptr_t)(pool_threads + 1));
        pthread_attr_destroy(&attributes);
        if (failed) break;
        pool_threads++;
    }
    if (pool_threads < workers - 1) {
        // Not enough threads could be started: run the region another way.
        pthread_mutex_unlock(&pool_lock);
        __atomic_store_n(&pool_busy, 0, __ATOMIC_RELEASE);
        return -1;
    }
    pool_task = task;
    pool_context = context;
    pool_workers = workers;
    pool_remaining = workers - 1;
    pool_generation++;
    pthread_cond_broadcast(&pool_start);
    pthread_mutex_unlock(&pool_lock);
    task(context, 0);
    pthread_mutex_lock(&pool_lock);
    while (pool_remaining > 0) pthread_cond_wait(&pool_done, &pool_lock);
    pthread_mutex_unlock(&pool_lock);
    __atomic_store_n(&pool_busy, 0, __ATOMIC_RELEASE);
    return 0;
}
#else
int hpm_pool_run(hpm_pool_task task, void *context, int workers) {
    (void)task; (void)context; (void)workers;
    return -1;
}
#endif
