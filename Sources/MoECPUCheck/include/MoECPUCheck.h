// The startup CPU check of `moekit`. This target is compiled for the baseline of its architecture
// (no -march flags, see Package.swift), so it runs on any CPU and can refuse, with a message, one
// that lacks what the kernels were compiled for, before anything executes an illegal instruction.
#ifndef MOE_CPU_CHECK_H
#define MOE_CPU_CHECK_H
#include <stddef.h>

/// 1 when this CPU (and OS) supports everything the kernels need: AVX2, FMA and F16C on x86-64, the
/// dot-product extension on arm64, nothing extra elsewhere. Otherwise 0, with the missing features' names, comma-separated in that
/// order ("AVX2, FMA"), written to `missing` (NUL-terminated, truncated to `n` bytes).
///
/// For tests, the environment variable MOEKIT_SIMULATE_MISSING_CPU (a comma-separated list of
/// avx2, fma, f16c on x86-64, dotprod on arm64, case-insensitive) marks features as missing even
/// when the CPU has them.
int moe_cpu_supported(char *missing, size_t n);
#endif
