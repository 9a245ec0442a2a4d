#ifndef KILN_MALLOC_COUNTER_H
#define KILN_MALLOC_COUNTER_H

// Counts heap allocations made by the process that links this target.
//
// The target defines malloc, calloc, realloc, free, posix_memalign, aligned_alloc and memalign;
// the executable's definitions take precedence over glibc's for every library it loads (Swift's
// runtime included), and each forwards to glibc's own implementation. Link it only into a
// dedicated executable (KilnAllocCheck): linked anywhere else it counts everything.
//
//     kiln_malloc_reset();
//     run_kernel();
//     if (kiln_malloc_count() != 0) { ... }

#ifdef __cplusplus
extern "C" {
#endif

/// Allocation calls (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) since the
/// last reset, from every thread.
unsigned long kiln_malloc_count(void);

/// Calls to free (of a non-null pointer) since the last reset.
unsigned long kiln_free_count(void);

/// Sets both counters to zero.
void kiln_malloc_reset(void);

/// While enabled (nonzero), writes a stack trace to stderr for every counted allocation (pipe it
/// through `swift demangle`), to find where an allocation comes from.
void kiln_malloc_trace(int enabled);

#ifdef __cplusplus
}
#endif

#endif
