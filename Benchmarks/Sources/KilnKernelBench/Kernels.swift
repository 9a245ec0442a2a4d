import KilnKernels
import KilnOps
import KilnTensor

/// The kernels measured: each returns the fastest time of one call, in seconds.
enum KernelBenchmarks {
    /// How a GEMM gets its right-hand operand.
    enum RightOperand {
        /// A row-major `[k, n]` matrix packed on every call (mm, bmm).
        case perCall
        /// A linear layer's `[n, k]` weight, packed once beforehand (what a loaded method does).
        case prepacked
    }

    /// `C[m, n] = A[m, k] · B[k, n]` on ``FloatGemm``.
    static func floatGemm(m: Int, n: Int, k: Int, _ right: RightOperand, threads: ThreadPool) -> Double {
        let a = randomFloats(m * k, seed: 1), b = randomFloats(k * n, seed: 2), c = randomFloats(m * n, seed: 3)
        let workspace = UnsafeMutableBufferPointer<Float>.allocate(
            capacity: FloatGemm.workspaceCount(m: m, n: n, k: k, threads: threads.threadCount))
        defer { workspace.deallocate() }
        switch right {
        case .perCall:
            return fastest {
                FloatGemm.multiply(m: m, n: n, k: k, a: .rowMajor(a, columns: k), b: .rowMajor(b, columns: n), c: c,
                                   ldc: n, accumulate: false, workspace: workspace, threads: threads)
            }
        case .prepacked:
            let packed = UnsafeMutablePointer<Float>.allocate(capacity: FloatGemm.packedBCount(k: k, n: n))
            defer { packed.deallocate() }
            let weight = FloatGemm.packB(.transposed(b, columns: k), k: k, n: n, into: packed)
            return fastest {
                FloatGemm.multiply(m: m, a: .rowMajor(a, columns: k), b: weight, c: c, ldc: n, accumulate: false,
                                   workspace: workspace, threads: threads)
            }
        }
    }

    /// The same product on the reference loop (``Gemm/referenceMultiply``), `B` row-major.
    static func referenceGemm(m: Int, n: Int, k: Int) -> Double {
        let a = randomFloats(m * k, seed: 1), b = randomFloats(k * n, seed: 2), c = randomFloats(m * n, seed: 3)
        return fastest(minimumRuns: 2, budget: 0.5) {
            Gemm.referenceMultiply(m: m, n: n, k: k, a: .rowMajor(a, columns: k), b: .rowMajor(b, columns: n), c: c,
                                   ldc: n, accumulate: false)
        }
    }

    /// The registered convolution kernel on `[1, channels, size, size]`, 3x3, padding 1, with its
    /// weight prepacked and its scratch given, as a loaded method runs it.
    static func convolution(channels: Int, outChannels: Int, size: Int, groups: Int, threads: ThreadPool) throws -> Double {
        let x = try tensor(randomFloats(channels * size * size, seed: 4), [1, channels, size, size])
        let w = try tensor(randomFloats(outChannels * channels / groups * 9, seed: 5), [outChannels, channels / groups, 3, 3])
        let bias = try tensor(randomFloats(outChannels, seed: 6), [outChannels])
        let call = try kernelCall("convolution", [x, w, bias],
                                  ["input": .tensor(0), "weight": .tensor(1), "bias": .tensor(2),
                                   "padding": .intList([1, 1]), "groups": .int(groups)], threads: threads)
        return fastest { try? call.run() }
    }

    static func tensor(_ values: UnsafeMutablePointer<Float>, _ shape: [Int]) throws -> Tensor {
        try Tensor(Array(UnsafeBufferPointer(start: values, count: shape.reduce(1, *))), shape: shape)
    }

    /// A registered kernel's call with its outputs, scratch and prepacked inputs (every input its
    /// entry packs, as if constant), ready to run repeatedly.
    static func kernelCall(_ op: String, _ inputs: [Tensor], _ arguments: [String: Argument<Int>],
                           threads: ThreadPool) throws -> PreparedKernelCall {
        guard let schema = OpTable.schema(named: op), let entry = KernelRegistry.entry(for: op) else {
            throw BenchmarkError("no kernel for \(op)")
        }
        var values: [Argument<Int>] = []
        for p in schema.parameters {
            if let v = arguments[p.name] { values.append(v) } else if let d = p.defaultValue { values.append(d.widened()) }
            else { values.append(.none) }
        }
        return try PreparedKernelCall(entry, arguments: try OpArguments.validated(schema, values), inputs: inputs,
                                      threadPool: threads, prepacking: true)
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension KernelBenchmarks {
    /// `C[m, n] (int32) = A[m, k] (int8) · B[k, n] (int8)` on ``Int8Gemm``, `B` packed beforehand.
    static func int8Gemm(m: Int, n: Int, k: Int, implementation: Int8Gemm.Implementation = .automatic,
                         threads: ThreadPool) -> Double {
        let a = UnsafeMutablePointer<Int8>.allocate(capacity: m * k), b = UnsafeMutablePointer<Int8>.allocate(capacity: k * n)
        let c = UnsafeMutablePointer<Int32>.allocate(capacity: m * n)
        defer {
            a.deallocate()
            b.deallocate()
            c.deallocate()
        }
        var state: UInt64 = 7
        for i in 0..<(m * k) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            a[i] = Int8(truncatingIfNeeded: state >> 40)
        }
        for i in 0..<(k * n) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            b[i] = Int8(truncatingIfNeeded: state >> 40)
        }
        let storage = UnsafeMutableRawPointer.allocate(byteCount: Int8Gemm.packedBBytes(k: k, n: n), alignment: 64)
        let workspace = UnsafeMutableRawBufferPointer.allocate(byteCount: Int8Gemm.workspaceBytes(m: m, k: k), alignment: 64)
        defer {
            storage.deallocate()
            workspace.deallocate()
        }
        let packed = Int8Gemm.packB(b, k: k, n: n, ldb: n, into: storage)
        return fastest {
            Int8Gemm.multiply(m: m, a: a, lda: k, b: packed, c: c, ldc: n, workspace: workspace,
                              implementation: implementation, threads: threads)
        }
    }
}
