// swift-tools-version: 6.0
import PackageDescription

// The GGUF fuzzer, kept out of the main package: it is built with -sanitize=fuzzer,address, which
// instruments every module it compiles and links libFuzzer; normal builds must not see that.
// Build and run it with scripts/fuzz_gguf.sh.
let package = Package(
    name: "MoEKitFuzz",
    dependencies: [
        .package(name: "MoEKit", path: ".."),
    ],
    targets: [
        .target(name: "FuzzerDriver"),
        .executableTarget(name: "FuzzGGUF", dependencies: [
            "FuzzerDriver",
            .product(name: "MoEFormats", package: "MoEKit"),
            .product(name: "MoETensor", package: "MoEKit"),
            .product(name: "MoETokenizer", package: "MoEKit"),
            .product(name: "MoEModels", package: "MoEKit"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
