// swift-tools-version: 6.1
import PackageDescription

/// Kiln's kernel benchmarks, kept out of the main package so its build and tests stay light.
///
///     swift run -c release --package-path Benchmarks KilnKernelBench [--json] [--threads N]
///
/// The root package is a local dependency, so its release settings (`-target-cpu native`,
/// or baseline x86-64 with `KILN_PORTABLE=1`) apply here as they do to `kiln`.
let portable = Context.environment["KILN_PORTABLE"].map { !$0.isEmpty && $0 != "0" } ?? false

let package = Package(
    name: "KilnBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "Kiln", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "KilnKernelBench",
            dependencies: [
                .product(name: "KilnKernels", package: "Kiln"),
                .product(name: "KilnOps", package: "Kiln"),
                .product(name: "KilnTensor", package: "Kiln"),
            ],
            swiftSettings: portable ? [.define("KILN_PORTABLE")]
                : [.unsafeFlags(["-target-cpu", "native"], .when(configuration: .release))]
        ),
    ]
)
