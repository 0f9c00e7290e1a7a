#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many times slower than a plain debug build the test binary runs: under AddressSanitizer
/// (`swift test --sanitize=address`, CI's third run) every memory access is checked, about 3.5x
/// slower here. Tests that guard against runaway work with a time limit allow for it.
public let sanitizerSlowdown: Double = {
    guard let me = dlopen(nil, RTLD_NOW) else { return 1 }
    defer { dlclose(me) }
    return dlsym(me, "__asan_init") != nil ? 5 : 1
}()
