// Compiled WITHOUT -march=haswell (see Package.swift): this must run, and say why the binary cannot,
// on a CPU without AVX2/FMA/F16C.
#include "MoECPUCheck.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

#if defined(__x86_64__) || defined(_M_X64) || defined(__aarch64__)
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
#elif defined(__aarch64__)
    // The arm64 kernels need the dot-product extension (sdot, ARMv8.2-A+): Apple silicon, Graviton 2+,
    // Cortex-A55/A76 and later have it; a Cortex-A53/A72 (Raspberry Pi 3/4) does not.
    int present = 0;
#if defined(__linux__)
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
    present = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__APPLE__)
    int v = 0;
    size_t len = sizeof v;
    present = sysctlbyname("hw.optional.arm.FEAT_DotProd", &v, &len, NULL, 0) == 0 && v != 0;
#else
    present = 1;   // no way to ask this OS: assume the floor, as for other CPUs
#endif
    const char *simulated = getenv("MOEKIT_SIMULATE_MISSING_CPU");
    if (present && !(simulated && listed(simulated, "dotprod"))) return 1;
    if (missing && n > 0) {
        const char *name = "DotProd (ARMv8.2 sdot)";
        size_t used = 0;
        for (const char *s = name; *s && used + 1 < n; s++) missing[used++] = *s;
        missing[used] = 0;
    }
    return 0;
#else
    (void)n;
    return 1;
#endif
}
