// swift-tools-version: 6.0
import PackageDescription

// Hot kernels must be compiled for a CPU with FMA/F16C, otherwise Swift lowers SIMD fused
// multiply-adds and Float16 conversions to one library call per lane (10-20x slower, silently).
// haswell (AVX2, FMA, F16C) is the portable x86-64 floor.
// arm64's floor is ARMv8.2-A with the dot-product extension (sdot), which the NEON kernels use:
// every Apple silicon core (tuned for the M1), Graviton 2 and later; the CPU check refuses others.
#if arch(x86_64)
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
let kernelCFlags: [CSetting] = [.unsafeFlags(["-march=haswell", "-O3"])]
#elseif arch(arm64) && os(macOS)
let kernelFlags: [SwiftSetting] = []
let kernelCFlags: [CSetting] = [.unsafeFlags(["-mcpu=apple-m1", "-O3"])]
#elseif arch(arm64)
let kernelFlags: [SwiftSetting] = []
let kernelCFlags: [CSetting] = [.unsafeFlags(["-march=armv8.2-a+dotprod", "-O3"])]
#else
let kernelFlags: [SwiftSetting] = []
let kernelCFlags: [CSetting] = [.unsafeFlags(["-O3"])]
#endif

let package = Package(
    name: "MoEKit",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MoETensor", targets: ["MoETensor"]),
        .library(name: "MoEFormats", targets: ["MoEFormats"]),
        .library(name: "MoEModels", targets: ["MoEModels"]),
        .library(name: "MoERuntime", targets: ["MoERuntime"]),
        .library(name: "MoEAccounting", targets: ["MoEAccounting"]),
        .library(name: "MoETemplates", targets: ["MoETemplates"]),
        .library(name: "MoETokenizer", targets: ["MoETokenizer"]),
        .executable(name: "moekit", targets: ["moekit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Kernels are optimised in debug builds too: unoptimised SIMD code is ~100x slower, which
        // would make the real-model tests crawl under `swift test`.
        // The integer-widening quantised dot products, in C: see Sources/MoEKernelsC/include.
        .target(name: "MoEKernelsC", cSettings: kernelCFlags),
        // `moekit`'s startup CPU check. Deliberately compiled WITHOUT kernelCFlags (for the baseline
        // of the architecture): it must run on a CPU that lacks AVX2/FMA/F16C, to refuse it cleanly.
        .target(name: "MoECPUCheck"),
        .target(name: "MoETensor", dependencies: ["MoEKernelsC"], swiftSettings: kernelFlags + [
            .unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
            .unsafeFlags(["-O"], .when(configuration: .debug)),
        ]),
        .target(name: "MoEFormats", dependencies: ["MoETensor"]),
        .target(name: "MoEModels", dependencies: ["MoETensor", "MoEFormats"]),
        .target(name: "MoERuntime", dependencies: ["MoEModels", "MoETensor", "MoEFormats", "MoETokenizer", "MoETemplates"]),
        .target(name: "MoEAccounting", dependencies: ["MoEModels", "MoEFormats", "MoETensor"]),
        .target(name: "MoETemplates"),
        .target(name: "MoETokenizer", dependencies: ["MoEFormats"]),
        .executableTarget(name: "moekit", dependencies: [
            "MoECPUCheck", "MoERuntime", "MoEModels", "MoEFormats", "MoETensor", "MoEAccounting", "MoETokenizer", "MoETemplates", "MoEKernelsC",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/moekit"),
        // Helpers the test targets share.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "MoETensorTests", dependencies: ["MoETensor"], exclude: ["quant_vectors.json", "e4m3_table.json"]),
        .testTarget(name: "MoEFormatsTests", dependencies: ["MoEFormats", "MoETensor"]),
        .testTarget(name: "MoEModelsTests", dependencies: ["TestSupport", "MoEModels", "MoERuntime", "MoEFormats", "MoETensor", "MoETokenizer"]),
        .testTarget(name: "MoETokenizerTests", dependencies: ["TestSupport", "MoETokenizer", "MoEFormats"], exclude: ["Oracle"]),
        .testTarget(name: "MoETemplatesTests", dependencies: ["TestSupport", "MoETemplates"], exclude: ["Templates", "Oracle"]),
        .testTarget(name: "MoEAccountingTests", dependencies: ["MoEAccounting", "MoEModels", "MoEFormats"]),
        // Drives the built `moekit` executable and checks the JSON contract other tools parse.
        .testTarget(name: "MoECLITests", dependencies: ["MoEFormats", "moekit"]),
    ],
    swiftLanguageModes: [.v6]
)
