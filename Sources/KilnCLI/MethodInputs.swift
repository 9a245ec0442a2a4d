import KilnIR
import KilnRuntime
import KilnTensor

/// Binding `--input` files to a method's inputs, shared by `kiln run` and `kiln bench`.
enum MethodInputs {
    /// Reads each `.npy` file and binds them to `method`'s inputs in order. Errors name the
    /// program, the input and the file at fault.
    static func bind(files: [String], to method: Method, programPath: String) throws {
        guard files.count == method.inputCount else {
            var expected: [String] = []
            for i in 0..<method.inputCount { expected.append("%\(try method.inputMeta(i).valueIndex): \(try method.inputMeta(i))") }
            throw RuntimeError(.inputCount, "method \"\(method.name)\" takes \(method.inputCount) input"
                               + "\(method.inputCount == 1 ? "" : "s") (\(expected.joined(separator: ", "))), "
                               + "\(files.count) given with --input", path: programPath)
        }
        let tensors = try read(files)
        do {
            try method.setInputs(tensors)
        } catch {
            // Name the .npy file bound to the input at fault.
            var e = error
            if let i = (0..<files.count).first(where: { e.message.hasPrefix("input \($0) ") }) {
                e.message += " (from \(files[i]))"
            }
            throw e
        }
    }

    /// Reads each `.npy` file; an error names the file.
    static func read(_ files: [String]) throws -> [Tensor] {
        var tensors: [Tensor] = []
        for path in files {
            do { tensors.append(try Npy.read(path: path)) } catch let e as TensorError {
                throw e.path == nil ? TensorError(e.kind, e.message, path: path) : e
            }
        }
        return tensors
    }

    /// Random tensors of each input's planned dtype and shape (a bounded-dynamic input at its
    /// bounds), from a fixed seed so runs are repeatable: floats uniform in [-1, 1), integers
    /// 0 or 1 (valid indices for any non-empty table), bools either.
    static func random(for method: Method, seed: UInt64 = 20250101) throws -> [Tensor] {
        var metas: [TensorMeta] = []
        for i in 0..<method.inputCount { metas.append(try method.inputMeta(i)) }
        let plain = try random(metas.map { ($0.dtype, $0.sizes) }, seed: seed)
        return try zip(metas, plain).map { meta, tensor in
            guard meta.dimOrder != Array(0..<meta.rank) else { return tensor }
            // Random data: the same bytes serve for any dim order.
            return try tensor.withUnsafeRawBytes {
                try Tensor(dtype: meta.dtype, shape: meta.sizes, dimOrder: meta.dimOrder, copying: $0)
            }
        }
    }

    /// Random tensors for a graph's inputs, at their upper-bound shapes (as ``random(for:seed:)``).
    static func random(for graph: Graph, seed: UInt64 = 20250101) throws -> [Tensor] {
        try random(graph.inputs.map { (graph.type(of: $0).dtype, graph.type(of: $0).upperBoundShape) }, seed: seed)
    }

    /// Row-major random tensors of these dtypes and shapes, from `seed`.
    static func random(_ specs: [(DType, [Int])], seed: UInt64) throws -> [Tensor] {
        var generator = SeededGenerator(seed: seed)
        var tensors: [Tensor] = []
        for (dtype, sizes) in specs {
            let count = try Shape.elementCount(sizes)
            switch dtype {
            case .float32: tensors.append(try Tensor(unitValues(count, &generator), shape: sizes))
            case .float16: tensors.append(try Tensor(unitValues(count, &generator).map(Float16.init), shape: sizes))
            case .bfloat16: tensors.append(try Tensor(unitValues(count, &generator).map(BFloat16.init), shape: sizes))
            case .int64: tensors.append(try Tensor(bits(count, &generator).map(Int64.init), shape: sizes))
            case .int32: tensors.append(try Tensor(bits(count, &generator).map(Int32.init), shape: sizes))
            case .int16: tensors.append(try Tensor(bits(count, &generator).map(Int16.init), shape: sizes))
            case .int8: tensors.append(try Tensor(bits(count, &generator).map(Int8.init), shape: sizes))
            case .uint8: tensors.append(try Tensor(bits(count, &generator), shape: sizes))
            case .bool: tensors.append(try Tensor(bits(count, &generator).map { $0 != 0 }, shape: sizes))
            }
        }
        return tensors
    }

    private static func unitValues(_ count: Int, _ generator: inout SeededGenerator) -> [Float] {
        (0..<count).map { _ in Float.random(in: -1..<1, using: &generator) }
    }

    private static func bits(_ count: Int, _ generator: inout SeededGenerator) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next() & 1) }
    }
}

/// Prints `output i %name: dtype[shape]` for each output and, with `outputDir` (created if
/// missing), writes it there as `output_i.npy` (atomically), adding ` -> path` to its line.
func reportOutputs(_ outputs: [(name: String, tensor: Tensor)], outputDir: String?) throws {
    if let outputDir { try FileIO.createDirectory(outputDir) }
    for (i, (name, tensor)) in outputs.enumerated() {
        var line = "output \(i) %\(name): \(tensor.dtype)\(tensor.shape)"
        if let outputDir {
            let path = (outputDir.hasSuffix("/") ? outputDir : outputDir + "/") + "output_\(i).npy"
            try Npy.write(tensor, to: path)
            line += " -> \(path)"
        }
        print(line)
    }
}
