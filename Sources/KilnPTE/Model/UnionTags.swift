extension PTE {
    /// The members of program.fbs's `KernelTypes` union, numbered as in the file (NONE = 0 is no
    /// value). The one place these numbers live: the model, the writer and the views use it.
    public enum KernelTypesTag: UInt8, CaseIterable, Sendable {
        case null = 1, int, bool, double, tensor, string, intList, doubleList, boolList, tensorList,
             optionalTensorList

        /// Every tag a reader accepts.
        public static let known: ClosedRange<UInt8> = 1...UInt8(allCases.count)

        /// The member's name in program.fbs (`Int`, `TensorList`, ...).
        public var schemaName: String {
            switch self {
            case .null: return "Null"
            case .int: return "Int"
            case .bool: return "Bool"
            case .double: return "Double"
            case .tensor: return "Tensor"
            case .string: return "String"
            case .intList: return "IntList"
            case .doubleList: return "DoubleList"
            case .boolList: return "BoolList"
            case .tensorList: return "TensorList"
            case .optionalTensorList: return "OptionalTensorList"
            }
        }
    }

    /// The members of program.fbs's `InstructionArguments` union, numbered as in the file.
    public enum InstructionTag: UInt8, CaseIterable, Sendable {
        case kernelCall = 1, delegateCall, moveCall, jumpFalseCall, freeCall

        /// Every tag a reader accepts.
        public static let known: ClosedRange<UInt8> = 1...UInt8(allCases.count)
    }
}
