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
        .library(name: "KilnPartition", targets: ["KilnPartition"]),
        .library(name: "KilnEmit", targets: ["KilnEmit"]),
        .library(name: "XNNPACKRuntime", targets: ["XNNPACKRuntime"]),
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
        // Backend descriptors, the backend compiler interface, the partitioner and delegation plans.
        .target(name: "KilnPartition", dependencies: ["KilnTensor", "KilnOps", "KilnIR", "KilnPasses", "KilnQuant"],
                swiftSettings: nativeFlags),
        // Backends/*/descriptor.json embedded as text (scripts/backends/embed_descriptors.sh).
        .target(name: "KilnBackendDescriptors", path: "Sources/KilnBackendDescriptors"),
        // The GPU backend: Vulkan compute through the system loader (lavapipe where there is no GPU).
        .systemLibrary(name: "CVulkan", path: "Backends/GPU/CVulkan", providers: [.apt(["libvulkan-dev"])]),
        .target(name: "GPURuntime", dependencies: ["CVulkan", "KilnRuntime", "KilnTensor", "KilnPTE"],
                path: "Backends/GPU/Runtime", swiftSettings: nativeFlags),
        .target(name: "GPUCompiler",
                dependencies: ["KilnPartition", "KilnIR", "KilnOps", "KilnTensor", "KilnBackendDescriptors", "KilnPTE"],
                path: "Backends/GPU/Compiler", swiftSettings: nativeFlags),
        .target(name: "KilnEmit", dependencies: ["KilnTensor", "KilnOps", "KilnIR", "KilnPasses", "KilnPTE"],
                swiftSettings: nativeFlags),
        // The XNNPACK CPU backend (Backends/XNNPACK): Debian's libxnnpack + libpthreadpool as a system
        // library, the payload model shared by both halves, the runtime and the compiler.
        .systemLibrary(name: "CXNNPACK", path: "Backends/XNNPACK/CXNNPACK"),
        .target(name: "XNNPACKSchema", dependencies: ["KilnPTE"], path: "Backends/XNNPACK/Schema",
                swiftSettings: nativeFlags),
        .target(name: "XNNPACKRuntime",
                dependencies: ["CXNNPACK", "XNNPACKSchema", "KilnRuntime", "KilnTensor", "KilnPTE", "KilnKernels"],
                path: "Backends/XNNPACK/Runtime", swiftSettings: nativeFlags),
        .target(name: "XNNPACKCompiler",
                dependencies: ["XNNPACKSchema", "KilnPartition", "KilnQuant", "KilnIR", "KilnOps", "KilnTensor",
                               "KilnBackendDescriptors", "KilnPTE"],
                path: "Backends/XNNPACK/Compiler", swiftSettings: nativeFlags),
        .executableTarget(
            name: "KilnCLI",
            dependencies: [
                "KilnTensor", "KilnOps", "KilnIR", "KilnKernels", "KilnPasses", "KilnEmit", "KilnPTE", "KilnRuntime",
                "KilnCapture", "KilnQuant", "KilnPartition", "KilnBackendDescriptors", "XNNPACKCompiler", "XNNPACKRuntime",
                "GPUCompiler", "GPURuntime", "NPUCompiler", "NPURuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: nativeFlags
        ),
        // Example models: built in memory by KilnExamples, written to files by GenerateExamples.
        .target(name: "KilnExamples", dependencies: ["KilnIR", "KilnTensor", "KilnOps"], path: "Examples/Models"),
        .executableTarget(name: "GenerateExamples", dependencies: ["KilnExamples", "KilnIR", "KilnTensor"],
                          path: "Examples/Generate"),
        // The Examples written as Swift modules (KilnCapture's tracing front end), and an
        // executable that captures, compiles and runs the MLP (`swift run ExampleMLP`).
        .target(name: "KilnCaptureExamples", dependencies: ["KilnCapture"], path: "Examples/SwiftCapture/Models"),
        .executableTarget(name: "ExampleMLP",
                          dependencies: ["KilnCapture", "KilnCaptureExamples", "KilnExamples", "KilnEmit", "KilnRuntime",
                                         "KilnIR", "KilnTensor"],
                          path: "Examples/SwiftCapture/ExampleMLP"),
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
                    dependencies: ["KilnCapture", "KilnIR", "KilnPasses", "KilnTensor", "KilnEmit", "KilnRuntime", "KilnPTE", "KilnExamples",
                                   "KilnCaptureExamples", "KilnOps"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "KilnPartitionTests",
                    dependencies: ["KilnPartition", "KilnBackendDescriptors", "KilnIR", "KilnPasses", "KilnEmit", "KilnRuntime",
                                   "KilnPTE", "KilnTensor", "KilnOps", "KilnExamples"]),
        // The NPU backend: compiler to fixed-point NPU programs, bit-exact simulator runtime.
        .target(name: "NPURuntime", dependencies: ["KilnRuntime", "KilnTensor", "KilnPTE"], path: "Backends/NPU/Runtime",
                swiftSettings: nativeFlags),
        .target(name: "NPUCompiler",
                dependencies: ["NPURuntime", "KilnPartition", "KilnQuant", "KilnIR", "KilnOps", "KilnTensor", "KilnBackendDescriptors", "KilnPTE"],
                path: "Backends/NPU/Compiler", swiftSettings: nativeFlags),
        .testTarget(name: "NPUBackendTests",
                    dependencies: ["KilnQuant", "NPUCompiler", "NPURuntime", "KilnPartition", "KilnIR", "KilnOps", "KilnTensor", "KilnRuntime",
                                   "KilnPTE", "KilnPasses", "KilnEmit", "KilnExamples", "KilnBackendDescriptors"]),
        .testTarget(name: "XNNPACKBackendTests",
                    dependencies: ["XNNPACKCompiler", "XNNPACKRuntime", "XNNPACKSchema", "CXNNPACK", "KilnPartition",
                                   "KilnBackendDescriptors", "KilnIR", "KilnPasses", "KilnEmit", "KilnRuntime", "KilnPTE",
                                   "KilnTensor", "KilnOps", "KilnKernels", "KilnExamples"]),
        .testTarget(name: "GPUBackendTests",
                    dependencies: ["GPUCompiler", "GPURuntime", "KilnPartition", "KilnBackendDescriptors", "KilnIR", "KilnOps",
                                   "KilnPasses", "KilnEmit", "KilnRuntime", "KilnPTE", "KilnTensor", "KilnExamples"]),
        .testTarget(name: "KilnQuantTests",
                    dependencies: ["KilnQuant", "KilnEmit", "KilnRuntime", "KilnExamples", "KilnIR", "KilnOps", "KilnPasses",
                                   "KilnPTE", "KilnTensor"],
                    resources: [.copy("Golden")]),
        .testTarget(name: "KilnExamplesTests", dependencies: ["KilnExamples", "KilnPasses"], resources: [.copy("Fixtures")]),
    ]
)
