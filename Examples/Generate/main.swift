import KilnExamples
import KilnIR
import KilnTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// `swift run GenerateExamples [OUTPUT_DIR]`: writes Kiln's example models with seeded random
// weights, each as `OUTPUT_DIR/NAME/NAME.kir` (+ `NAME.kir.bin`) and `OUTPUT_DIR/NAME/input.npy`.
// OUTPUT_DIR defaults to the `Examples` folder of this package. The output is the same bytes on
// every run. The models themselves are built by the KilnExamples library (`Examples/Models/`).

let seed = ExampleModels.seed
let names = ExampleModels.Name.allCases

/// `Examples/`: two levels above this file (`Examples/Generate/main.swift`).
func defaultOutputDirectory() -> String {
    var path = #filePath
    for _ in 0..<2 {
        guard let slash = path.lastIndex(of: "/") else { return "Examples" }
        path = String(path[..<slash])
    }
    return path
}

/// Creates `path` and any missing parents (`mkdir -p`).
func makeDirectories(_ path: String) throws {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for component in path.split(separator: "/") {
        prefix += component + "/"
        if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
            throw TensorError(.io, "cannot create directory: \(String(cString: strerror(errno)))", path: prefix)
        }
    }
}

/// The size of the file at `path` in bytes, or 0 when it does not exist.
func fileSize(_ path: String) -> Int {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : 0
}

/// `1234567` as `1,234,567`.
func grouped(_ n: Int) -> String {
    let digits = Array(String(n))
    var out = ""
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
        out.append(d)
    }
    return out
}

let arguments = CommandLine.arguments.dropFirst()
if arguments.count > 1 || arguments.first.map({ $0.hasPrefix("-") }) == true {
    print("usage: GenerateExamples [OUTPUT_DIR]   (default: \(defaultOutputDirectory()))")
    exit(arguments.first == "-h" || arguments.first == "--help" ? 0 : 2)
}
let outputDirectory = arguments.first ?? defaultOutputDirectory()
let clock = ContinuousClock()
let start = clock.now
do {
    for example in names {
        let model = try ExampleModels.build(example, seed: seed)
        let name = model.name
        let folder = "\(outputDirectory)/\(name)"
        try makeDirectories(folder)
        let kir = "\(folder)/\(name).kir"
        try KIRFile.write(model.graph, to: kir)
        try Npy.write(model.input, to: "\(folder)/input.npy")
        let g = model.graph
        print("\(name): \(g.nodes.count) nodes, \(g.constants.count) constants, "
              + "\(grouped(model.parameterCount)) parameters; \(name).kir \(grouped(fileSize(kir))) bytes, "
              + "\(name).kir.bin \(grouped(fileSize(kir + ".bin"))) bytes, "
              + "input.npy \(model.input.description) \(grouped(fileSize("\(folder)/input.npy"))) bytes")
    }
} catch {
    let message = "GenerateExamples: error: \(error)\n"
    _ = message.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    exit(1)
}
let elapsed = (clock.now - start).components
let milliseconds = elapsed.seconds * 1000 + elapsed.attoseconds / 1_000_000_000_000_000
print("wrote \(names.count) models to \(outputDirectory) in \(milliseconds) ms (seed \(seed))")
