// swift-tools-version: 6.1
import PackageDescription

/// Release builds use the host CPU's vector units (AVX-512 on the reference machine).
/// Set `KILN_PORTABLE=1` to build for baseline x86-64 instead (README: "Other CPUs").
let portable = Context.environment["KILN_PORTABLE"].map { !$0.isEmpty && $0 != "0" } ?? false
let nativeFlags: [SwiftSetting] = portable ? [.define("KILN_PORTABLE")] : [
    .unsafeFlags(["-target-cpu", "native"], .when(configuration: .release)),
]

let package = Package(
    name: "Kiln",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "KilnTensor", targets: ["KilnTensor"]),
        .library(name: "KilnOps", targets: ["KilnOps"]),
        .library(name: "KilnKernels", targets: ["KilnKernels"]),
        .library(name: "KilnPTE", targets: ["KilnPTE"]),
        .library(name: "KilnRuntime", targets: ["KilnRuntime"]),
        .library(name: "KilnIR", targets: ["KilnIR"]),
        .library(name: "KilnPasses", targets: ["KilnPasses"]),
        .library(name: "KilnCapture", targets: ["KilnCapture"]),
        .library(name: "KilnEmit", targets: ["KilnEmit"]),
        .library(name: "KilnQuant", targets: ["KilnQuant"]),
        .executable(name: "kiln", targets: ["KilnCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    ],
    targets: [
        // Runtime side.
        .target(name: "KilnTensor", swiftSettings: nativeFlags),
        .target(name: "KilnOps", dependencies: ["KilnTensor"], swiftSettings: nativeFlags),
        .target(name: "KilnKernels", dependencies: ["KilnTensor", "KilnOps", "CKilnInt8"], swiftSettings: nativeFlags),
        // The AVX-512 VNNI int8 micro-kernel (Swift has no vpdpbusd), chosen at run time by CPU
        // feature; its functions carry their own target attribute, so no global ISA flags.
        .target(name: "CKilnInt8", path: "Sources/CKilnInt8"),
        // C shim over the flatc-generated .pte verifier (headers from libflatbuffers-dev in /usr/include).
        .target(name: "CKilnPTEVerifier", path: "Sources/CKilnPTEVerifier", cxxSettings: [.headerSearchPath("generated")]),
        .target(name: "KilnPTE", dependencies: ["KilnTensor", "CKilnPTEVerifier"], swiftSettings: nativeFlags),
        .target(name: "KilnRuntime", dependencies: ["KilnTensor", "KilnOps", "KilnKernels", "KilnPTE"],
                swiftSettings: nativeFlags),
        // Compiler side.
        .target(name: "KilnIR", dependencies: ["KilnTensor", "KilnOps"], swiftSettings: nativeFlags),
        .target(name: "KilnPasses", dependencies: ["KilnTensor", "KilnOps", "KilnKernels", "KilnIR"], swiftSettings: nativeFlags),
        // Front ends: the ONNX importer (swift-protobuf code generated from Schemas/onnx_subset.proto).
        .target(name: "KilnCapture",
                dependencies: ["KilnTensor", "KilnOps", "KilnIR", "KilnKernels", "KilnPasses",
                               .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                swiftSettings: nativeFlags),
        // PT2E-style quantization: annotate, prepare, calibrate, convert (KilnPTE only to measure files).
        .target(name: "KilnQuant", dependencies: ["KilnTensor", "KilnOps", "KilnKernels", "KilnIR", "KilnPasses", "KilnPTE"],
                swiftSettings: nativeFlags),
        .target(name: "KilnEmit", dependencies: ["KilnTensor", "KilnOps", "KilnIR", "KilnPasses", "KilnPTE"],
                swiftSettings: nativeFlags),
        .executableTarget(
            name: "KilnCLI",
            dependencies: [
                "KilnTensor", "KilnOps", "KilnIR", "KilnKernels", "KilnPasses", "KilnEmit", "KilnPTE", "KilnRuntime",
                "KilnCapture", "KilnQuant", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: nativeFlags
        ),
        // Example models: built in memory by KilnExamples, written to files by GenerateExamples.
        .target(name: "KilnExamples", dependencies: ["KilnIR", "KilnTensor", "KilnOps"], path: "Examples/Models"),
        .executableTarget(name: "GenerateExamples", dependencies: ["KilnExamples", "KilnIR", "KilnTensor"],
                          path: "Examples/Generate"),
        // Allocation check: a counting malloc (linked into this executable only) around every kernel.
        .target(name: "CKilnMallocCounter", path: "Sources/CKilnMallocCounter"),
        .executableTarget(name: "KilnAllocCheck", dependencies: ["CKilnMallocCounter", "KilnKernels", "KilnOps", "KilnTensor",
                                                                  "KilnRuntime", "KilnEmit", "KilnExamples"],
                          path: "Sources/KilnAllocCheck"),
        // ONNX's node tests through import, compile and the runtime (scripts/test.sh runs it in release).
        .executableTarget(name: "KilnONNXNodeTests",
                          dependencies: ["KilnCapture", "KilnEmit", "KilnIR", "KilnPasses", "KilnRuntime", "KilnTensor"],
                          path: "Sources/KilnONNXNodeTests", swiftSettings: nativeFlags),
        .testTarget(name: "KilnTensorTests", dependencies: ["KilnTensor"], resources: [.copy("Fixtures")]),
        .testTarget(name: "KilnOpsTests", dependencies: ["KilnOps"]),
        .testTarget(name: "KilnKernelsTests", dependencies: ["KilnKernels"], resources: [.copy("Fixtures")]),
        .testTarget(name: "KilnIRTests", dependencies: ["KilnIR"], resources: [.copy("Golden")]),
        .testTarget(name: "KilnPassesTests", dependencies: ["KilnPasses", "KilnExamples"], resources: [.copy("Golden")]),
        .testTarget(name: "KilnEmitTests", dependencies: ["KilnEmit", "KilnExamples", "KilnIR", "KilnPTE", "KilnTensor"]),
        .testTarget(name: "KilnPTETests", dependencies: ["KilnPTE", "KilnTensor"], resources: [.copy("Fixtures")]),
        .testTarget(name: "KilnCLITests", dependencies: ["KilnCLI", "KilnTensor", "KilnIR", "KilnExamples", "KilnEmit", "KilnCapture"]),
        .testTarget(name: "KilnRuntimeTests",
                    dependencies: ["KilnRuntime", "KilnEmit", "KilnPasses", "KilnExamples", "KilnIR", "KilnPTE",
                                   "KilnTensor", "KilnKernels"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "KilnCaptureTests",
                    dependencies: ["KilnCapture", "KilnIR", "KilnPasses", "KilnTensor", "KilnEmit", "KilnRuntime", "KilnPTE", "KilnExamples"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "KilnQuantTests",
                    dependencies: ["KilnQuant", "KilnEmit", "KilnRuntime", "KilnExamples", "KilnIR", "KilnOps", "KilnPasses",
                                   "KilnPTE", "KilnTensor"],
                    resources: [.copy("Golden")]),
        .testTarget(name: "KilnExamplesTests", dependencies: ["KilnExamples", "KilnPasses"], resources: [.copy("Fixtures")]),
    ]
)
