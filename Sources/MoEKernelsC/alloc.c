// Process-wide allocator tuning (glibc): per-token buffers of a few hundred KB (a logits row) would
// otherwise be fresh mmap'd pages every time, each page faulted in and cleared by the kernel.
#include "MoEKernelsC.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void moe_tune_malloc(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}
