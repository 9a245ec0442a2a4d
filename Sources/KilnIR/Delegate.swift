import KilnOps
import KilnTensor

/// One partition a backend compiled: what the `.pte` stores for a `DelegateCall` (the backend's
/// id, its payload and compile specs, named data it wants kept apart), plus the subgraph it was
/// compiled from, so the evaluator, plans and `kiln compare` can still see what it computes.
///
/// A graph refers to it from an ``OpSchema/delegateCallName`` node whose `delegate` argument is
/// the index in ``Graph/delegates``:
///
/// ```kir
/// %y = executorch_call_delegate([%x, %w], delegate=0) : f32[1, 10] #12
/// ```
public struct LoweredDelegate: Sendable, Equatable {
    /// One compile spec: a key and its bytes, as ExecuTorch's `CompileSpec`.
    public struct CompileSpec: Sendable, Equatable {
        public var key: String
        public var value: [UInt8]
        public init(key: String, value: [UInt8]) {
            self.key = key
            self.value = value
        }
    }

    /// Bytes a backend stores under a key outside its payload (weights), as `.pte` named data.
    public struct NamedData: Sendable, Equatable {
        public var key: String
        public var bytes: [UInt8]
        public init(key: String, bytes: [UInt8]) {
            self.key = key
            self.bytes = bytes
        }
    }

    /// The backend's delegate id, equal to its runtime's id (`KilnXNNPACK`).
    public var backendID: String
    /// What the backend's compiler wrote; its runtime's `initialize` reads it.
    public var payload: [UInt8]
    public var compileSpecs: [CompileSpec]
    public var namedData: [NamedData]
    /// The partition as claimed: inputs in the delegate call's argument order, outputs in its
    /// result order, and the constants that moved into it.
    public var subgraph: Graph

    public init(backendID: String, payload: [UInt8], compileSpecs: [CompileSpec] = [], namedData: [NamedData] = [],
                subgraph: Graph) {
        self.backendID = backendID
        self.payload = payload
        self.compileSpecs = compileSpecs
        self.namedData = namedData
        self.subgraph = subgraph
    }
}

extension OpSchema {
    /// The op name of a node that calls a lowered delegate (ExecuTorch's
    /// `executorch_call_delegate`). It is not in the op table: each call gets its own schema
    /// from ``delegateCall(results:)``.
    public static let delegateCallName = "executorch_call_delegate"

    /// The schema of a call to a lowered delegate: `inputs: Tensor[]`, `delegate: int` (an index
    /// in ``Graph/delegates``), returning `results` as they are (the delegate's subgraph decided them).
    public static func delegateCall(results: [TensorType]) -> OpSchema {
        OpSchema(delegateCallName, summary: "run a lowered delegate (a backend's compiled partition)",
                 parameters: [Parameter("inputs", .tensorList), Parameter("delegate", .int)],
                 results: .tensors(results.count), pte: nil) { _ in results }
    }
}

extension Node {
    /// The index in ``Graph/delegates`` when this node calls a lowered delegate.
    public var delegateIndex: Int? {
        guard op.name == OpSchema.delegateCallName, arguments.count == 2, case .int(let index) = arguments[1] else {
            return nil
        }
        return index
    }
}
