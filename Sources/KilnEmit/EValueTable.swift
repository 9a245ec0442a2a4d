import KilnIR
import KilnOps
import KilnPTE
import KilnTensor

/// An execution plan's `values` as they are built: each graph tensor gets one Tensor EValue,
/// and each non-tensor argument of a KernelCall gets EValues of its own, the way ExecuTorch's
/// emitter writes them:
///
/// | argument | EValues |
/// |---|---|
/// | tensor | the tensor's EValue (no new entry) |
/// | `Tensor[]` | a TensorList of the tensors' EValue indices |
/// | int, bool, float | an Int, Bool or Double |
/// | `Scalar` | an Int or a Double, as written |
/// | `ScalarType` | an Int holding the `.pte` ScalarType code |
/// | `str` | a String |
/// | `int[]` | one Int per element, then an IntList of their indices (boxed, as ExecuTorch does so sizes can be symbolic) |
/// | `float[]` | a DoubleList of the values |
/// | absent optional | a Null |
///
/// Non-tensor EValues are never shared between arguments, as in ExecuTorch.
struct EValueTable {
    private(set) var values: [PTE.EValue] = []
    /// The EValue of each graph tensor added so far.
    private(set) var tensors: [ValueID: Int32] = [:]

    /// Appends `value`.
    /// - Returns: its index.
    /// - Throws: `.tooLarge` past 2^31 - 1 values.
    mutating func append(_ value: PTE.EValue) throws(EmitError) -> Int32 {
        guard values.count < Int(Int32.max) else {
            throw EmitError(.tooLarge, "the program needs more than \(Int32.max) values")
        }
        values.append(value)
        return Int32(values.count - 1)
    }

    /// Appends the Tensor EValue of graph value `id`.
    mutating func appendTensor(_ id: ValueID, _ tensor: PTE.Tensor) throws(EmitError) -> Int32 {
        let index = try append(.tensor(tensor))
        tensors[id] = index
        return index
    }

    /// The EValue index of an argument, appending the entries it needs (see the table above).
    /// - Parameter subject: the node, for errors.
    mutating func append(_ argument: Argument<ValueID>, subject: String) throws(EmitError) -> Int32 {
        switch argument {
        case .tensor(let id):
            return try tensor(id, subject: subject)
        case .tensorList(let ids):
            var items: [Int32] = []
            for id in ids { items.append(try tensor(id, subject: subject)) }
            return try append(.tensorList(items))
        case .int(let v):
            return try append(.int(Int64(v)))
        case .float(let v):
            return try append(.double(v))
        case .bool(let v):
            return try append(.bool(v))
        case .dtype(let dtype):
            return try append(.int(Int64(PTE.ScalarType(dtype).rawValue)))
        case .string(let text):
            return try append(.string(text))
        case .intList(let list):
            var items: [Int64] = []
            for v in list { items.append(Int64(try append(.int(Int64(v))))) }
            return try append(.intList(items))
        case .floatList(let list):
            // A DoubleList holds its doubles inline (an IntList holds indices of Int values).
            return try append(.doubleList(list))
        case .none:
            return try append(.null)
        }
    }

    private func tensor(_ id: ValueID, subject: String) throws(EmitError) -> Int32 {
        guard let index = tensors[id] else {
            throw EmitError(.unsupported, "operand \(id) has no value in the program (the graph is not in order)",
                            subject: subject)
        }
        return index
    }
}

/// The `.pte` Tensor for a value of `type`: sizes at the symbols' upper bounds and
/// DYNAMIC_BOUND when any dim is symbolic.
/// - Parameters:
///   - dimOrder: the dim order; contiguous (`0, 1, ..., rank-1`) when nil.
///   - dataBufferIdx: the constant-segment entry of a constant, 0 otherwise.
///   - offset: the arena offset of a planned value (memory id 1), nil for a constant.
func pteTensor(_ type: TensorType, name: String, dimOrder: [Int]? = nil, dataBufferIdx: Int = 0,
               offset: Int?) throws(EmitError) -> PTE.Tensor {
    var sizes: [Int32] = []
    for dim in type.shape {
        let bound = dim.upperBound
        guard bound >= 0, bound <= Int(Int32.max) else {
            throw EmitError(.tooLarge, "dimension \(dim) (upper bound \(bound)) does not fit the .pte's 32-bit sizes",
                            subject: "%\(name)")
        }
        sizes.append(Int32(bound))
    }
    let order = dimOrder ?? Array(0..<type.rank)
    guard type.rank <= Int(UInt8.max) else {
        throw EmitError(.tooLarge, "rank \(type.rank) does not fit the .pte's 8-bit dim order", subject: "%\(name)")
    }
    guard dataBufferIdx <= Int(UInt32.max) else {
        throw EmitError(.tooLarge, "the program needs more than \(UInt32.max) constant entries", subject: "%\(name)")
    }
    return PTE.Tensor(scalarType: PTE.ScalarType(type.dtype), sizes: sizes, dimOrder: order.map { UInt8($0) },
                      dataBufferIdx: UInt32(dataBufferIdx),
                      allocationInfo: offset.map { PTE.AllocationDetails(memoryID: 1, offset: UInt64($0)) },
                      shapeDynamism: type.shape.contains(where: \.isSymbolic) ? .dynamicBound : .static)
}
