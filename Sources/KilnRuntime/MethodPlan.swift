import KilnKernels
import KilnOps
import KilnPTE
import KilnTensor

/// Where a tensor value's bytes come from.
enum TensorMemory {
    /// In arena `arena` at byte `offset`; `initialValue` (from a mutable data segment) is copied
    /// there when a method is created.
    case planned(arena: Int, offset: Int, initialValue: UnsafeRawBufferPointer?)
    /// A zero-copy view of the file's constant data.
    case constant(Tensor)
    /// Memory the caller provides (a method input bound with ``Method/setInput(_:at:)``), or
    /// nothing for an empty tensor.
    case unplanned
}

/// A tensor value as the file declares it.
struct TensorSpec {
    let dtype: DType
    /// The sizes as written: each dim's bound when ``isDynamic``.
    let sizes: [Int]
    let dimOrder: [Int]
    let isDynamic: Bool
    let memory: TensorMemory

    var isContiguous: Bool { dimOrder == Array(0..<dimOrder.count) }
    var type: TensorType { TensorType(dtype, static: sizes) }

    /// True when a tensor of `type` fits this one: the same type, or for a dynamic tensor the
    /// same dtype and rank with each size within its bound.
    func holds(_ type: TensorType) -> Bool {
        guard isDynamic else { return type == self.type }
        guard type.dtype == dtype, let shape = type.staticShape, shape.count == sizes.count else { return false }
        return zip(shape, sizes).allSatisfy { $0 <= $1 }
    }

    var isConstant: Bool {
        if case .constant = memory { return true }
        return false
    }
}

/// One EValue as the runtime needs it: lists of ints dereferenced, tensors decoded.
enum ValueSpec {
    case null
    case int(Int64)
    case bool(Bool)
    case double(Double)
    case string(String)
    case tensor(TensorSpec)
    case intList([Int64])
    case doubleList([Double])
    case boolList([Bool])
    /// EValue indices of tensors.
    case tensorList([Int])
    /// EValue indices of tensors or nulls, -1 for none.
    case optionalTensorList([Int])

    var tensor: TensorSpec? {
        if case .tensor(let t) = self { return t }
        return nil
    }

    /// Which `KernelTypes` member this value came from.
    var tag: PTE.KernelTypesTag {
        switch self {
        case .null: return .null
        case .int: return .int
        case .bool: return .bool
        case .double: return .double
        case .string: return .string
        case .tensor: return .tensor
        case .intList: return .intList
        case .doubleList: return .doubleList
        case .boolList: return .boolList
        case .tensorList: return .tensorList
        case .optionalTensorList: return .optionalTensorList
        }
    }

    /// `Tensor`, `IntList`, ... as in `program.fbs`, for messages.
    var kindName: String { tag.schemaName }
}

/// A KernelCall, checked against its op.
struct KernelSpec {
    let op: ResolvedOperator
    /// One argument per op parameter; tensor arguments are EValue indices.
    let arguments: [Argument<Int>]
    /// EValue indices of the out tensors.
    let outs: [Int]
}

/// One instruction, its indices checked; jump destinations are positions in the method's
/// flattened instruction list.
enum InstructionSpec {
    case kernel(KernelSpec)
    case delegate(index: Int, args: [Int])
    case move(from: Int, to: Int)
    case jumpFalse(condition: Int, destination: Int)
    case free(value: Int)
}

/// A delegate, its backend found and its payload located.
struct DelegateSpec {
    let id: String
    let backend: any BackendRuntime
    let payload: UnsafeRawBufferPointer
    let compileSpecs: [PTE.CompileSpec]
}

/// Everything a ``Method`` needs from one execution plan, decoded and checked once when the
/// program loads: operators resolved to kernels, every KernelCall's arguments checked against
/// its op's shape rule, delegates resolved to backends, constants viewed in the mapping.
final class MethodPlan: @unchecked Sendable {
    let name: String
    let values: [ValueSpec]
    let inputs: [Int]
    let outputs: [Int]
    /// Bytes of each arena by memory id (entry 0 is reserved and unused).
    let arenaSizes: [Int]
    let instructions: [InstructionSpec]
    let infos: [InstructionInfo]
    let delegates: [DelegateSpec]

    init(name: String, values: [ValueSpec], inputs: [Int], outputs: [Int], arenaSizes: [Int],
         instructions: [InstructionSpec], infos: [InstructionInfo], delegates: [DelegateSpec]) {
        self.name = name
        self.values = values
        self.inputs = inputs
        self.outputs = outputs
        self.arenaSizes = arenaSizes
        self.instructions = instructions
        self.infos = infos
        self.delegates = delegates
    }

    func tensor(_ index: Int) -> TensorSpec? {
        index >= 0 && index < values.count ? values[index].tensor : nil
    }

    func meta(of index: Int) -> TensorMeta {
        // Inputs and outputs are checked to be tensors at load.
        let spec = tensor(index)
        return TensorMeta(valueIndex: index, dtype: spec?.dtype ?? .float32, sizes: spec?.sizes ?? [],
                          dimOrder: spec?.dimOrder ?? [], isDynamic: spec?.isDynamic ?? false)
    }
}
