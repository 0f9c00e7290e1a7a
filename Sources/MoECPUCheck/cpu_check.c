// Compiled WITHOUT -march=haswell (see Package.swift): this must run, and say why the binary cannot,
// on a CPU without AVX2/FMA/F16C.
#include "MoECPUCheck.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
/// Whether the comma-separated list `list` names `feature` (case-insensitive, spaces ignored).
static int listed(const char *list, const char *feature) {
    size_t flen = strlen(feature);
    const char *p = list;
    while (*p) {
        while (*p == ',' || *p == ' ') p++;
        const char *start = p;
        while (*p && *p != ',') p++;
        const char *end = p;
        while (end > start && end[-1] == ' ') end--;
        if ((size_t)(end - start) == flen) {
            size_t i = 0;
            while (i < flen && tolower((unsigned char)start[i]) == feature[i]) i++;
            if (i == flen) return 1;
        }
    }
    return 0;
}
#endif

int moe_cpu_supported(char *missing, size_t n) {
    if (missing && n > 0) missing[0] = 0;
#if defined(__x86_64__) || defined(_M_X64)
    // __builtin_cpu_supports also checks that the OS saves the YMM registers (XGETBV), so AVX2 and
    // FMA read as missing under an OS or hypervisor that disabled AVX.
    __builtin_cpu_init();
    const char *simulated = getenv("MOEKIT_SIMULATE_MISSING_CPU");
    struct { const char *key, *name; int present; } need[3] = {
        {"avx2", "AVX2", __builtin_cpu_supports("avx2")},
        {"fma", "FMA", __builtin_cpu_supports("fma")},
        {"f16c", "F16C", __builtin_cpu_supports("f16c")},
    };
    int ok = 1;
    size_t used = 0;
    for (int i = 0; i < 3; i++) {
        if (need[i].present && !(simulated && listed(simulated, need[i].key))) continue;
        const char *sep = ok ? "" : ", ";
        ok = 0;
        if (missing && n > 0) {
            for (const char *s = sep; *s && used + 1 < n; s++) missing[used++] = *s;
            for (const char *s = need[i].name; *s && used + 1 < n; s++) missing[used++] = *s;
            missing[used] = 0;
        }
    }
    return ok;
#else
    (void)n;
    return 1;
#endif
}
