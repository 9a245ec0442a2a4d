#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CXNNPACK
import KilnRuntime
import KilnTensor
import XNNPACKSchema

/// One initialized delegate: the XNNPACK runtime (weights packed), its thread pool, and what
/// each argument needs at execute time. Everything is allocated here; ``run(_:)`` only checks
/// sizes, converts boundary layouts, sets pointers and invokes.
final class XNNPACKDelegate {
    /// One delegate argument (inputs, then outputs).
    struct Boundary {
        var bytes: Int
        var isInput: Bool
        /// The Kiln tensor the argument must be: its dims (XNNPACK's, un-permuted) and dtype.
        var shape: [Int]
        var dtype: DType
        /// Set when XNNPACK sees the argument with permuted dims: the copy, and XNNPACK's buffer.
        var transposer: LayoutTransposer?
        var scratch: UnsafeMutableRawPointer?
    }

    private let runtime: xnn_runtime_t
    private let externals: UnsafeMutablePointer<xnn_external_value>
    private let boundaries: [Boundary]
    /// False until `xnn_setup_runtime` has run with the pointers now in ``externals``.
    private var isSetUp = false
    /// Constants XNNPACK reads while running (not packed at creation), copied out of the file.
    private var ownedConstants: [UnsafeMutableRawPointer] = []
    /// Per-channel scales XNNPACK points at.
    private let channelScales = ChannelScaleStore()

    /// Builds the subgraph of `payload` and creates its XNNPACK runtime on `threads` threads.
    /// `constant` returns a constant's bytes by named-data key (nil: missing).
    init(_ payload: XNNPayload, threads: Int,
         constant: (String) throws(XNNPACKError) -> UnsafeRawBufferPointer?) throws(XNNPACKError) {
        if let failure = XNNPACKLibrary.initialize() { throw XNNPACKError(.library, failure) }
        // Constants: filter and bias operands of fully-connected and convolution nodes are packed
        // when the runtime is created, so they are read in place; any other constant is copied
        // (XNNPACK keeps pointing at it).
        var packedOnly = Set<Int>()
        var readLater = Set<Int>()
        for node in payload.nodes {
            for (slot, input) in node.inputs.enumerated() where input != XNNPayload.absent {
                let packs = [.fullyConnected, .convolution2d, .depthwiseConvolution2d].contains(node.kind) && slot > 0
                if packs { packedOnly.insert(Int(input)) } else { readLater.insert(Int(input)) }
            }
        }
        var data = [UnsafeRawPointer?](repeating: nil, count: payload.values.count)
        var owned: [UnsafeMutableRawPointer] = []
        do throws(XNNPACKError) {
            for (i, v) in payload.values.enumerated() {
                guard let key = v.dataKey else { continue }
                guard let bytes = try constant(key) else {
                    throw XNNPACKError(.payload, "value \(i): the program has no named data '\(key)'")
                }
                guard bytes.count == v.byteCount else {
                    throw XNNPACKError(.payload, "value \(i): named data '\(key)' has \(bytes.count) bytes, "
                                           + "\(v.datatype) \(v.dims) needs \(v.byteCount)")
                }
                if readLater.contains(i) || !packedOnly.contains(i) || Int(bitPattern: bytes.baseAddress) % 4 != 0 {
                    let copy = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1) + 16, alignment: 64)
                    if let base = bytes.baseAddress { copy.copyMemory(from: base, byteCount: bytes.count) }
                    owned.append(copy)
                    data[i] = UnsafeRawPointer(copy)
                } else {
                    data[i] = bytes.baseAddress
                }
            }
        } catch {
            owned.forEach { $0.deallocate() }
            throw error
        }
        ownedConstants = owned

        let (subgraph, _) = try Self.defineOrFree(payload, data, owned, channelScales)
        defer { xnn_delete_subgraph(subgraph) }
        var created: xnn_runtime_t?
        let status = xnn_create_runtime_v2(subgraph, XNNPACKLibrary.threadpool(threads: threads), 0, &created)
        guard status == xnn_status_success, let runtime = created else {
            owned.forEach { $0.deallocate() }
            throw XNNPACKError(.library, "xnn_create_runtime_v2: \(describe(status))")
        }
        self.runtime = runtime

        // Arguments: XNNPACK reads inputs from and writes outputs to the tensors themselves,
        // unless the compiler planned a layout conversion (then through a scratch buffer).
        let externalIndices = payload.inputs + payload.outputs
        externals = .allocate(capacity: max(externalIndices.count, 1))
        var boundaries: [Boundary] = []
        for (i, index) in externalIndices.enumerated() {
            let v = payload.values[Int(index)]
            let isInput = i < payload.inputs.count
            // v.dims are XNNPACK's (possibly permuted) dims; the Kiln tensor's dims are their inverse.
            let permuted = !v.permutation.isEmpty && v.permutation != Array(0..<v.dims.count)
            var kilnDims = v.dims
            if permuted { for (j, p) in v.permutation.enumerated() { kilnDims[p] = v.dims[j] } }
            let dtype: DType
            switch v.datatype {
            case .fp32: dtype = .float32
            case .qint8, .qcint8: dtype = .int8
            case .quint8: dtype = .uint8
            case .qint32, .qcint32: dtype = .int32
            }
            var boundary = Boundary(bytes: v.byteCount, isInput: isInput, shape: kilnDims, dtype: dtype)
            if permuted {
                boundary.transposer = LayoutTransposer(sourceDims: kilnDims, permutation: v.permutation, inverse: !isInput,
                                                       elementSize: v.datatype.elementSize)
                boundary.scratch = .allocate(byteCount: max(v.byteCount, 1) + 16, alignment: 64)
            }
            externals[i] = xnn_external_value(id: UInt32(i), data: boundary.scratch)
            boundaries.append(boundary)
        }
        self.boundaries = boundaries
    }

    private static func defineOrFree(_ payload: XNNPayload, _ data: [UnsafeRawPointer?], _ owned: [UnsafeMutableRawPointer],
                                     _ scales: ChannelScaleStore) throws(XNNPACKError) -> (xnn_subgraph_t, [UInt32]) {
        do {
            return try XNNSubgraphBuilder(payload: payload, constantData: data, channelScales: scales).build()
        } catch {
            owned.forEach { $0.deallocate() }
            throw error
        }
    }

    deinit {
        xnn_delete_runtime(runtime)
        for b in boundaries { b.scratch?.deallocate() }
        externals.deallocate()
        ownedConstants.forEach { $0.deallocate() }
    }

    /// Runs the delegate on `arguments` (inputs, then outputs).
    func run(_ arguments: BackendArguments) throws(XNNPACKError) {
        guard arguments.count == boundaries.count else {
            throw XNNPACKError(.arguments, "\(arguments.count) arguments, the payload has \(boundaries.count) inputs and outputs")
        }
        for i in 0..<boundaries.count {
            guard case .tensor(let t) = arguments[i] else {
                throw XNNPACKError(.arguments, "argument \(i) (value \(arguments.valueIndices[i])) is not a tensor")
            }
            let boundary = boundaries[i]
            guard t.byteCount == boundary.bytes, t.dtype == boundary.dtype, t.shape == boundary.shape else {
                throw XNNPACKError(.arguments, "argument \(i) (value \(arguments.valueIndices[i])) is \(t), "
                                       + "the payload expects \(boundary.dtype)\(boundary.shape)")
            }
            for (d, order) in t.dimOrder.enumerated() where d != order {
                throw XNNPACKError(.arguments, "argument \(i) (value \(arguments.valueIndices[i])) is not contiguous")
            }
            let bytes = t.unsafeMutableRawBytes.baseAddress
            if let transposer = boundary.transposer, let scratch = boundary.scratch {
                if boundary.isInput, let source = bytes { transposer.run(from: source, to: scratch) }
            } else if externals[i].data != bytes {
                externals[i].data = bytes
                isSetUp = false
            }
        }
        // A method's planned memory stays put between calls, so XNNPACK is set up once and
        // again only when an argument moved.
        if !isSetUp {
            try check(xnn_setup_runtime(runtime, boundaries.count, externals), "xnn_setup_runtime")
            isSetUp = true
        }
        try check(xnn_invoke_runtime(runtime), "xnn_invoke_runtime")
        for i in 0..<boundaries.count where !boundaries[i].isInput {
            guard let transposer = boundaries[i].transposer, let scratch = boundaries[i].scratch,
                  case .tensor(let t) = arguments[i], let out = t.unsafeMutableRawBytes.baseAddress else { continue }
            transposer.run(from: scratch, to: out)
        }
    }
}
