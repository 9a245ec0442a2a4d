import KilnTensor

/// One instruction of a method, as a profile or an error names it: its index, kind, operator or
/// delegate, and the debug handle and source location the compiler recorded in the chain's
/// stack trace (Kiln writes one frame per instruction: the op, its debug handle as the line
/// number, its location as the context).
///
/// ```swift
/// for info in method.instructions { print(info) }   // instruction 1 (aten::addmm.out #3 loc("fc1"))
/// ```
public struct InstructionInfo: Equatable, Sendable, CustomStringConvertible {
    /// The instruction kinds of `program.fbs`'s `InstructionArguments`.
    public enum Kind: String, Sendable {
        case kernelCall = "KernelCall"
        case delegateCall = "DelegateCall"
        case moveCall = "MoveCall"
        case jumpFalseCall = "JumpFalseCall"
        case freeCall = "FreeCall"
    }

    /// Position in ``Method/instructions`` (the chains' instructions, chain after chain).
    public var index: Int
    /// The chain the instruction belongs to, and its index there.
    public var chain: Int
    public var indexInChain: Int
    public var kind: Kind
    /// The ExecuTorch operator of a KernelCall: `aten::addmm.out`.
    public var operatorName: String?
    /// The op in Kiln's op table (`addmm`) and the kernel that runs it (`f32_addmm__portable`).
    public var opName: String?
    public var kernelName: String?
    /// The backend id of a DelegateCall's delegate, and the delegate's index in the method.
    public var delegateID: String?
    public var delegateIndex: Int?
    /// The debug handle of the node the instruction came from, when the file records one.
    public var debugHandle: Int?
    /// Where the node came from (the capture site or ONNX node name), when recorded.
    public var location: String?

    /// What the instruction runs: the operator, the delegate, or the instruction kind.
    public var subject: String {
        if let operatorName { return operatorName }
        if let delegateID { return "delegate \(delegateIndex ?? 0) \"\(delegateID)\"" }
        return kind.rawValue
    }

    /// `instruction 7 (aten::addmm.out #5 loc("fc1"))`, `instruction 0 (delegate 0 "XnnpackBackend")`.
    public var description: String {
        var text = "instruction \(index) (\(subject)"
        if let debugHandle { text += " #\(debugHandle)" }
        if let location { text += " loc(\"\(location)\")" }
        return text + ")"
    }
}

/// The type of a method input or output as the program plans it.
///
/// ```swift
/// let meta = try method.inputMeta(0)
/// print(meta)           // f32[1, 256]; a bounded-dynamic one prints f32[<=8, 4]
/// ```
public struct TensorMeta: Equatable, Sendable, CustomStringConvertible {
    /// The program's EValue index of the tensor (`%4` in messages and `kiln inspect`).
    public var valueIndex: Int
    public var dtype: DType
    /// The sizes memory is planned for: each dim's upper bound when ``isDynamic``.
    public var sizes: [Int]
    /// Dim order, outermost first (`[0, 1, ..., rank-1]` is row-major).
    public var dimOrder: [Int]
    /// True for a DYNAMIC_BOUND tensor: each size may be anything up to its bound.
    public var isDynamic: Bool

    public var rank: Int { sizes.count }

    /// `f32[1, 256]`, or `f32[<=8, 4]` for a dynamic tensor (every size is a bound).
    public var description: String {
        let dims = sizes.map { isDynamic && $0 > 0 ? "<=\($0)" : "\($0)" }
        return "\(dtype)[\(dims.joined(separator: ", "))]"
    }
}
