import KilnOps
import KilnTensor

/// What a backend says it runs: data, read from `Backends/<Name>/descriptor.json`, that the
/// partitioner checks nodes against and the cost model reads. The partitioner knows backends
/// only through descriptors.
///
/// ```json
/// {"id": "KilnXNNPACK", "name": "xnnpack", "kind": "cpu", "summary": "...",
///  "cost": {"ops_per_second": {"float32": 2.0e11}, "bytes_per_second": 3.0e10, "call_overhead_us": 1.0},
///  "limits": {"max_rank": 4},
///  "ops": [{"op": "relu", "dtypes": ["float32"], "quantized": ["8a"]}]}
/// ```
///
/// ```swift
/// let xnnpack = try BackendDescriptor.parse(text, file: "Backends/XNNPACK/descriptor.json")
/// xnnpack.support(for: "relu")?.dtypes     // [.float32]
/// ```
public struct BackendDescriptor: Sendable, Equatable {
    /// What kind of device the backend runs on.
    public enum Kind: String, Sendable, CaseIterable {
        case cpu, gpu, npu
    }

    /// The `.pte` delegate id, equal to the backend runtime's id.
    public var id: String
    /// The name users type (`--backends xnnpack`): lower case.
    public var name: String
    public var kind: Kind
    /// One line: what the backend is.
    public var summary: String
    public var cost: CostModel
    /// Limits every op entry starts from (an entry's own limits override them).
    public var limits: Limits
    /// The ops the backend takes, in the order the descriptor lists them.
    public var ops: [OpSupport]

    /// The entry for op `name` (a KilnIR op name such as `add.Tensor`), or nil.
    public func support(for name: String) -> OpSupport? {
        ops.first { $0.op == name }
    }

    /// Throughput figures the partitioner's cost estimates come from.
    public struct CostModel: Sendable, Equatable {
        /// Arithmetic operations per second by compute dtype (`float32`, `int8`, ...).
        public var opsPerSecond: [DType: Double]
        /// Bytes per second the backend moves between memory and compute.
        public var bytesPerSecond: Double
        /// Fixed cost of one delegate call, in microseconds.
        public var callOverheadMicroseconds: Double
    }

    /// Shape limits: a descriptor's defaults or one op's.
    public struct Limits: Sendable, Equatable {
        /// Every tensor the op reads or writes has a rank in `minRank...maxRank`.
        public var minRank: Int?
        public var maxRank: Int?
        /// Every tensor's shape must be static (no symbolic dims).
        public var staticShapes: Bool?
        /// No tensor may have more elements than this.
        public var maxElements: Int?

        public init(minRank: Int? = nil, maxRank: Int? = nil, staticShapes: Bool? = nil, maxElements: Int? = nil) {
            self.minRank = minRank
            self.maxRank = maxRank
            self.staticShapes = staticShapes
            self.maxElements = maxElements
        }

        /// These limits, with `other`'s where it sets one.
        public func overridden(by other: Limits) -> Limits {
            Limits(minRank: other.minRank ?? minRank, maxRank: other.maxRank ?? maxRank,
                   staticShapes: other.staticShapes ?? staticShapes, maxElements: other.maxElements ?? maxElements)
        }
    }

    /// One op the backend takes, with what it accepts.
    public struct OpSupport: Sendable, Equatable {
        /// The KilnIR op name (`convolution`, `add.Tensor`, `quantized_decomposed.quantize_per_tensor`).
        public var op: String
        /// Dtypes accepted when the op runs unquantized: checked against the op's first result.
        public var dtypes: [DType]
        /// Quantized forms accepted when the op sits in a `dq → op → q` pattern.
        public var quantized: [QuantizedForm]
        /// Shape limits (the descriptor's `limits`, overridden by the entry's own).
        public var limits: Limits
        /// Tensor parameters that must be constants (weights packed ahead of time).
        public var constantOperands: [String]
        /// Limits on attribute values.
        public var attributes: [AttributeLimit]
    }

    /// A limit on one attribute: every value of the op's parameter `name` (each element of a
    /// list) at most `max`, at least `min`, or one of `values`. `kernel_size` on an op without
    /// such a parameter means the spatial dims of its `weight`.
    public struct AttributeLimit: Sendable, Equatable {
        public var name: String
        public var min: Int?
        public var max: Int?
        public var values: [Int]?
    }
}

/// How a node in a `dq → op → q` pattern is quantized, written `8a8w/per-channel`: activation
/// bits and whether they are dynamic (`8a`, `8da`, `16a`, `u8a` for uint8), then for ops with a
/// weight its bits and granularity (`8w/per-tensor`, `8w/per-channel`, `4w/per-group`).
///
/// ```swift
/// let form = try QuantizedForm(parsing: "16a4w/per-channel")
/// form.activation      // .int16
/// form.description     // "16a4w/per-channel"
/// ```
public struct QuantizedForm: Sendable, Hashable, CustomStringConvertible {
    /// How a weight's scales are laid out.
    public enum Granularity: String, Sendable, Hashable {
        case perTensor = "per-tensor"
        case perChannel = "per-channel"
        case perGroup = "per-group"
    }

    /// The activations' integer dtype: int8, uint8 or int16.
    public var activation: DType
    /// Activations quantized at run time (per token) rather than with calibrated parameters.
    public var dynamic: Bool
    /// The weight's bits (8 or 4) and granularity, for ops with a constant weight.
    public var weightBits: Int?
    public var weightGranularity: Granularity?

    public init(activation: DType, dynamic: Bool = false, weightBits: Int? = nil, weightGranularity: Granularity? = nil) {
        self.activation = activation
        self.dynamic = dynamic
        self.weightBits = weightBits
        self.weightGranularity = weightGranularity
    }

    /// Parses `8a`, `8da`, `u8a`, `16a`, `8a8w/per-channel`, `8da4w/per-group`, `16a4w/per-channel`.
    /// - Throws: a message saying what part is wrong.
    public init(parsing text: String) throws(PartitionError) {
        func bad(_ why: String) -> PartitionError {
            PartitionError(.descriptor, "quantized form '\(text)': \(why) (forms look like 8a, 8da, u8a, 16a, 8a8w/per-channel, 8da4w/per-group)")
        }
        var rest = Substring(text)
        let unsigned = rest.hasPrefix("u")
        if unsigned { rest = rest.dropFirst() }
        let aDigits = rest.prefix { $0.isNumber }
        rest = rest.dropFirst(aDigits.count)
        let dynamic = rest.hasPrefix("da")
        guard dynamic || rest.hasPrefix("a") else { throw bad("expected activation bits then 'a' or 'da'") }
        rest = rest.dropFirst(dynamic ? 2 : 1)
        switch (aDigits, unsigned) {
        case ("8", false): activation = .int8
        case ("8", true): activation = .uint8
        case ("16", false): activation = .int16
        default: throw bad("activations are 8, u8 or 16 bits")
        }
        self.dynamic = dynamic
        weightBits = nil
        weightGranularity = nil
        guard !rest.isEmpty else { return }
        let wDigits = rest.prefix { $0.isNumber }
        rest = rest.dropFirst(wDigits.count)
        guard let bits = Int(wDigits), bits == 8 || bits == 4, rest.hasPrefix("w/") else {
            throw bad("expected weight bits 8 or 4, then 'w/' and a granularity")
        }
        guard let granularity = Granularity(rawValue: String(rest.dropFirst(2))) else {
            throw bad("granularity is per-tensor, per-channel or per-group")
        }
        weightBits = bits
        weightGranularity = granularity
    }

    public var description: String {
        let a = (activation == .uint8 ? "u8" : activation == .int16 ? "16" : "8") + (dynamic ? "da" : "a")
        guard let bits = weightBits, let g = weightGranularity else { return a }
        return "\(a)\(bits)w/\(g.rawValue)"
    }
}
