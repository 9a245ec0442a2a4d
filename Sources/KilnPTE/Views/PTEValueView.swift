/// One `EValue` of a method, read in place: lists are vectors into the file, not copies.
///
/// ```swift
/// if case .tensor(let t) = try plan.values.element(at: 3) { print(t.scalarType, Array(t.sizes)) }
/// ```
public enum PTEValueView: PTETableElement {
    case null
    case int(Int64)
    case bool(Bool)
    case double(Double)
    case tensor(PTETensorView)
    case string(String)
    /// Indices of `Int` values (ExecuTorch boxes int lists as value indices).
    case intList(FBVector<Int64>)
    case doubleList(FBVector<Double>)
    case boolList(FBVector<Bool>)
    /// Indices of `Tensor` values.
    case tensorList(FBVector<Int32>)
    /// Indices of `Tensor` or `Null` values, or -1 for none.
    case optionalTensorList(FBVector<Int32>)

    /// The `KernelTypes` tags this reader knows (NONE = 0 is not a value).
    public static let knownTags = PTE.KernelTypesTag.known

    public init(table: FBTable, path: PTEElementPath) throws(PTEError) {
        try self.init(table)
    }

    init(_ table: FBTable) throws(PTEError) {
        guard let (tag, value) = try table.union(Slot.EValue.val, name: "val") else {
            throw PTEError(.unionTag, "value has no type (KernelTypes NONE)", location: "val_type")
        }
        let buffer = table.buffer
        func items<T: FBScalar>(_ type: T.Type, _ name: StaticString) throws(PTEError) -> FBVector<T> {
            do {
                return try value.vector(Slot.only, of: T.self, name: "items") ?? FBVector(emptyIn: buffer)
            } catch {
                throw error.at("\(name)")
            }
        }
        guard let kind = PTE.KernelTypesTag(rawValue: tag) else {
            throw PTEError(.unionTag, "value type \(tag) is not a KernelTypes member (expected \(Self.knownTags))",
                           location: "val_type")
        }
        switch kind {
        case .null: self = .null
        case .int: self = .int(try value.scalar(Slot.only, default: 0, name: "int.int_val"))
        case .bool: self = .bool(try value.scalar(Slot.only, default: false, name: "bool.bool_val"))
        case .double: self = .double(try value.scalar(Slot.only, default: 0.0, name: "double.double_val"))
        case .tensor:
            do {
                self = .tensor(try PTETensorView(value))
            } catch {
                throw error.at("tensor")
            }
        case .string: self = .string(try value.string(Slot.only, name: "string.string_val") ?? "")
        case .intList: self = .intList(try items(Int64.self, "int_list"))
        case .doubleList: self = .doubleList(try items(Double.self, "double_list"))
        case .boolList: self = .boolList(try items(Bool.self, "bool_list"))
        case .tensorList: self = .tensorList(try items(Int32.self, "tensor_list"))
        case .optionalTensorList: self = .optionalTensorList(try items(Int32.self, "optional_tensor_list"))
        }
    }

    /// Which `KernelTypes` member this is.
    public var tag: PTE.KernelTypesTag {
        switch self {
        case .null: return .null
        case .int: return .int
        case .bool: return .bool
        case .double: return .double
        case .tensor: return .tensor
        case .string: return .string
        case .intList: return .intList
        case .doubleList: return .doubleList
        case .boolList: return .boolList
        case .tensorList: return .tensorList
        case .optionalTensorList: return .optionalTensorList
        }
    }
}

/// A `Tensor` value read in place: sizes and dim order are vectors into the file.
public struct PTETensorView {
    public let scalarType: PTE.ScalarType
    public let storageOffset: Int32
    public let sizes: FBVector<Int32>
    public let dimOrder: FBVector<UInt8>
    public let requiresGrad: Bool
    /// > 0: index of the tensor's data in the constant segment (or, with `allocationInfo`, of its
    /// initial value in a mutable data segment).
    public let dataBufferIdx: UInt32
    /// Where a planned tensor lives; nil for constants and for memory the caller provides.
    public let allocationInfo: PTE.AllocationDetails?
    public let layout: Int8
    public let shapeDynamism: PTE.TensorShapeDynamism
    public let extraTensorInfo: PTE.ExtraTensorInfo?

    init(_ table: FBTable) throws(PTEError) {
        let raw: Int8 = try table.scalar(Slot.Tensor.scalarType, default: 0, name: "scalar_type")
        guard let scalarType = PTE.ScalarType(rawValue: raw) else {
            throw PTEError(.enumValue, "\(raw) is not a ScalarType Kiln knows", location: "scalar_type")
        }
        self.scalarType = scalarType
        storageOffset = try table.scalar(Slot.Tensor.storageOffset, default: 0, name: "storage_offset")
        sizes = try table.vector(Slot.Tensor.sizes, name: "sizes") ?? FBVector(emptyIn: table.buffer)
        dimOrder = try table.vector(Slot.Tensor.dimOrder, name: "dim_order") ?? FBVector(emptyIn: table.buffer)
        requiresGrad = try table.scalar(Slot.Tensor.requiresGrad, default: false, name: "requires_grad")
        dataBufferIdx = try table.scalar(Slot.Tensor.dataBufferIdx, default: 0, name: "data_buffer_idx")
        if let a = try table.table(Slot.Tensor.allocationInfo, name: "allocation_info") {
            do {
                var details = PTE.AllocationDetails(memoryID: 0, offset: 0)
                details.memoryID = try a.scalar(Slot.AllocationDetails.memoryID, default: 0, name: "memory_id")
                details.memoryOffsetLow = try a.scalar(Slot.AllocationDetails.memoryOffsetLow, default: 0,
                                                       name: "memory_offset_low")
                details.memoryOffsetHigh = try a.scalar(Slot.AllocationDetails.memoryOffsetHigh, default: 0,
                                                        name: "memory_offset_high")
                allocationInfo = details
            } catch {
                throw error.at("allocation_info")
            }
        } else {
            allocationInfo = nil
        }
        layout = try table.scalar(Slot.Tensor.layout, default: 0, name: "layout")
        shapeDynamism = try enumField(table, Slot.Tensor.shapeDynamism, "shape_dynamism", default: .static)
        if let e = try table.table(Slot.Tensor.extraTensorInfo, name: "extra_tensor_info") {
            do {
                extraTensorInfo = PTE.ExtraTensorInfo(
                    mutableDataSegmentsIdx: try e.scalar(Slot.ExtraTensorInfo.mutableDataSegmentsIdx, default: 0,
                                                         name: "mutable_data_segments_idx"),
                    fullyQualifiedName: try e.string(Slot.ExtraTensorInfo.fullyQualifiedName, name: "fully_qualified_name"),
                    location: try enumField(e, Slot.ExtraTensorInfo.location, "location", default: .segment),
                    deviceType: try enumField(e, Slot.ExtraTensorInfo.deviceType, "device_type", default: .cpu),
                    deviceIndex: try e.scalar(Slot.ExtraTensorInfo.deviceIndex, default: 0, name: "device_index"))
            } catch {
                throw error.at("extra_tensor_info")
            }
        } else {
            extraTensorInfo = nil
        }
    }

    /// Number of elements (product of `sizes`), or nil when a size is negative or the product
    /// overflows.
    public var elementCount: Int? {
        var count = 1
        for size in sizes {
            guard size >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(size))
            guard !overflow else { return nil }
            count = product
        }
        return count
    }

    /// Bytes of data (element count × element size), or nil when that overflows or a size is negative.
    public var byteCount: Int? {
        guard let count = elementCount else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: scalarType.elementSize)
        return overflow ? nil : bytes
    }
}
