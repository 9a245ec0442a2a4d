import KilnTensor

/// `.kir` files on disk: the text, plus a sidecar (`NAME.kir.bin`) holding the large constants,
/// memory-mapped on read so weights are never copied.
///
/// ```swift
/// try KIRFile.write(graph, to: "mlp.kir")       // writes mlp.kir and mlp.kir.bin
/// let g = try KIRFile.read(path: "mlp.kir")
/// ```
public enum KIRFile {
    /// Constants larger than this many bytes go to the sidecar by default.
    public static let defaultSidecarThreshold = 256

    /// Reads and verifies the graph at `path`; a sidecar named in the text is opened relative
    /// to the `.kir` file's folder.
    public static func read(path: String) throws(IRError) -> Graph {
        let bytes: [UInt8]
        do { bytes = try FileIO.read(path: path) } catch {
            throw IRError(.io, "cannot read: \(Self.reason(error))", file: path)
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let directory = Self.directory(of: path)
        return try KIRParser.parse(text, file: path) { name in
            let sidecarPath = name.hasPrefix("/") ? name : directory + name
            return try MappedFile(path: sidecarPath)
        }
    }

    /// Writes `graph` to `path`, and its large constants to `path + ".bin"`. Each file is written
    /// to a temporary name and renamed into place, the sidecar first, so a failure never leaves
    /// a `.kir` pointing at a half-written sidecar.
    public static func write(_ graph: Graph, to path: String,
                             sidecarThreshold: Int = defaultSidecarThreshold) throws(IRError) {
        let sidecarName = Self.fileName(of: path) + ".bin"
        let output = KIRPrinter.print(graph, constants: .sidecar(fileName: sidecarName, threshold: sidecarThreshold))
        do {
            if !output.sidecar.isEmpty {
                try FileIO.writeAtomically(output.sidecar, to: path + ".bin")
            }
            try FileIO.writeAtomically(Array(output.text.utf8), to: path)
        } catch {
            throw IRError(.io, "cannot write: \(Self.reason(error))", file: path)
        }
    }

    static func reason(_ error: any Error) -> String {
        if let e = error as? TensorError { return e.message }
        return "\(error)"
    }

    /// `dir/` for `dir/name.kir`, `""` for `name.kir`.
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[...slash])
    }

    /// The last path component: `mlp.kir` for `models/mlp.kir`.
    public static func fileName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }
}
