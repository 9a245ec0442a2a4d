// Counting wrappers over glibc's allocator; see include/kiln_malloc_counter.h.
//
// glibc exports its allocator a second time under __libc_* names, so the wrappers forward there
// without dlsym (which itself allocates). posix_memalign and aligned_alloc have no __libc_ twin;
// both go through __libc_memalign, which accepts any power-of-two alignment.

#include "kiln_malloc_counter.h"

#include <errno.h>
#include <execinfo.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void __libc_free(void *pointer);
extern void *__libc_memalign(size_t alignment, size_t size);

static unsigned long allocations;
static unsigned long frees;
static int tracing;
static __thread int inTrace;

static void counted(void) {
    __atomic_fetch_add(&allocations, 1, __ATOMIC_RELAXED);
    // backtrace() may allocate on its first use; the flag keeps that from recursing.
    if (__atomic_load_n(&tracing, __ATOMIC_RELAXED) && !inTrace) {
        inTrace = 1;
        void *frames[32];
        int depth = backtrace(frames, 32);
        static const char header[] = "kiln-malloc-counter: allocation at\n";
        (void)!write(2, header, sizeof header - 1);
        backtrace_symbols_fd(frames, depth, 2);
        inTrace = 0;
    }
}

void kiln_malloc_trace(int enabled) { __atomic_store_n(&tracing, enabled, __ATOMIC_RELAXED); }

unsigned long kiln_malloc_count(void) { return __atomic_load_n(&allocations, __ATOMIC_RELAXED); }

unsigned long kiln_free_count(void) { return __atomic_load_n(&frees, __ATOMIC_RELAXED); }

void kiln_malloc_reset(void) {
    __atomic_store_n(&allocations, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&frees, 0, __ATOMIC_RELAXED);
}

void *malloc(size_t size) {
    counted();
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    counted();
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    counted();
    return __libc_realloc(pointer, size);
}

void free(void *pointer) {
    if (pointer != NULL) __atomic_fetch_add(&frees, 1, __ATOMIC_RELAXED);
    __libc_free(pointer);
}

void *memalign(size_t alignment, size_t size) {
    counted();
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) {
    counted();
    return __libc_memalign(alignment, size);
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    counted();
    // POSIX: the alignment is a power of two and a multiple of sizeof(void *).
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL && size != 0) return ENOMEM;
    *result = pointer;
    return 0;
}
