/// The `.pte` program as plain Swift values, one type per table of `Schemas/program.fbs`
/// (namespace `executorch_flatbuffer`, identifier `ET12`), fields in schema order.
///
/// These are what the emitter builds and what `PTEFile(decoding:)` returns; the runtime reads
/// files through zero-copy views (``PTEProgramView``) instead. Optional fields are nil when
/// absent from the file.
public enum PTE {
    /// Root table.
    public struct Program: Equatable, Sendable {
        public var version: UInt32
        public var executionPlan: [ExecutionPlan]
        /// Legacy inline constants; Kiln writes `[Buffer()]` (entry 0 reserved) only when not using segments.
        public var constantBuffer: [Buffer]
        public var backendDelegateData: [BackendDelegateInlineData]
        public var segments: [DataSegment]
        public var constantSegment: SubsegmentOffsets?
        public var mutableDataSegments: [SubsegmentOffsets]
        public var namedData: [NamedData]

        public init(version: UInt32 = 0, executionPlan: [ExecutionPlan] = [], constantBuffer: [Buffer] = [],
                    backendDelegateData: [BackendDelegateInlineData] = [], segments: [DataSegment] = [],
                    constantSegment: SubsegmentOffsets? = nil, mutableDataSegments: [SubsegmentOffsets] = [],
                    namedData: [NamedData] = []) {
            self.version = version
            self.executionPlan = executionPlan
            self.constantBuffer = constantBuffer
            self.backendDelegateData = backendDelegateData
            self.segments = segments
            self.constantSegment = constantSegment
            self.mutableDataSegments = mutableDataSegments
            self.namedData = namedData
        }
    }

    public struct ContainerMetadata: Equatable, Sendable {
        public var encodedInpStr: String
        public var encodedOutStr: String
        public init(encodedInpStr: String, encodedOutStr: String) {
            self.encodedInpStr = encodedInpStr
            self.encodedOutStr = encodedOutStr
        }
    }

    /// Where a planned tensor lives: arena `memoryID` at a 64-bit offset split in two halves.
    public struct AllocationDetails: Equatable, Sendable {
        public var memoryID: UInt32
        public var memoryOffsetLow: UInt32
        public var memoryOffsetHigh: UInt32
        public init(memoryID: UInt32, offset: UInt64) {
            self.memoryID = memoryID
            memoryOffsetLow = UInt32(truncatingIfNeeded: offset)
            memoryOffsetHigh = UInt32(truncatingIfNeeded: offset >> 32)
        }
        public var offset: UInt64 { UInt64(memoryOffsetHigh) << 32 | UInt64(memoryOffsetLow) }
    }

    public enum TensorShapeDynamism: Int8, Equatable, Sendable {
        case `static` = 0, dynamicBound = 1, dynamicUnbound = 2
    }

    public enum TensorDataLocation: Int8, Equatable, Sendable {
        case segment = 0, external = 1
    }

    public enum DeviceType: Int8, Equatable, Sendable {
        case cpu = 0, cuda = 1
    }

    public struct ExtraTensorInfo: Equatable, Sendable {
        public var mutableDataSegmentsIdx: UInt64
        public var fullyQualifiedName: String?
        public var location: TensorDataLocation
        public var deviceType: DeviceType
        public var deviceIndex: Int8
        public init(mutableDataSegmentsIdx: UInt64 = 0, fullyQualifiedName: String? = nil,
                    location: TensorDataLocation = .segment, deviceType: DeviceType = .cpu, deviceIndex: Int8 = 0) {
            self.mutableDataSegmentsIdx = mutableDataSegmentsIdx
            self.fullyQualifiedName = fullyQualifiedName
            self.location = location
            self.deviceType = deviceType
            self.deviceIndex = deviceIndex
        }
    }

    /// `scalar_type.fbs`'s ScalarType (the raw value is the wire value).
    public enum ScalarType: Int8, Equatable, Sendable, CaseIterable {
        case byte = 0, char = 1, short = 2, int = 3, long = 4, half = 5, float = 6, double = 7
        case bool = 11, qint8 = 12, quint8 = 13, qint32 = 14, bfloat16 = 15, quint4x2 = 16, quint2x4 = 17
        case bits16 = 22, float8e5m2 = 23, float8e4m3fn = 24, float8e5m2fnuz = 25, float8e4m3fnuz = 26
        case uint16 = 27, uint32 = 28, uint64 = 29
    }

    /// A tensor value. Constants have `dataBufferIdx > 0` (an index into the constant segment's
    /// offsets) and no allocation; planned tensors have `allocationInfo`; inputs of a method
    /// whose memory the caller provides have neither.
    public struct Tensor: Equatable, Sendable {
        public var scalarType: ScalarType
        public var storageOffset: Int32
        public var sizes: [Int32]
        public var dimOrder: [UInt8]
        public var requiresGrad: Bool
        public var dataBufferIdx: UInt32
        public var allocationInfo: AllocationDetails?
        public var layout: Int8
        public var shapeDynamism: TensorShapeDynamism
        public var extraTensorInfo: ExtraTensorInfo?
        public init(scalarType: ScalarType, storageOffset: Int32 = 0, sizes: [Int32], dimOrder: [UInt8],
                    requiresGrad: Bool = false, dataBufferIdx: UInt32 = 0, allocationInfo: AllocationDetails? = nil,
                    layout: Int8 = 0, shapeDynamism: TensorShapeDynamism = .static,
                    extraTensorInfo: ExtraTensorInfo? = nil) {
            self.scalarType = scalarType
            self.storageOffset = storageOffset
            self.sizes = sizes
            self.dimOrder = dimOrder
            self.requiresGrad = requiresGrad
            self.dataBufferIdx = dataBufferIdx
            self.allocationInfo = allocationInfo
            self.layout = layout
            self.shapeDynamism = shapeDynamism
            self.extraTensorInfo = extraTensorInfo
        }
    }

    /// The `KernelTypes` union: what one EValue holds. List items of tensor lists are EValue indices.
    public enum EValue: Equatable, Sendable {
        case null
        case int(Int64)
        case bool(Bool)
        case double(Double)
        case tensor(Tensor)
        case string(String)
        case intList([Int64])
        case doubleList([Double])
        case boolList([Bool])
        case tensorList([Int32])
        case optionalTensorList([Int32])

        /// Which `KernelTypes` member this is.
        public var tag: KernelTypesTag {
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

        /// The union tag as written in the file.
        public var unionTag: UInt8 { tag.rawValue }
    }

    public struct Operator: Equatable, Sendable {
        public var name: String
        public var overload: String
        public init(name: String, overload: String) {
            self.name = name
            self.overload = overload
        }
    }

    /// The `InstructionArguments` union.
    public enum Instruction: Equatable, Sendable {
        case kernelCall(opIndex: Int32, args: [Int32])
        case delegateCall(delegateIndex: Int32, args: [Int32])
        case moveCall(moveFrom: Int32, moveTo: Int32)
        case jumpFalseCall(condValueIndex: Int32, destinationInstruction: Int32)
        case freeCall(valueIndex: Int32)

        /// Which `InstructionArguments` member this is.
        public var tag: InstructionTag {
            switch self {
            case .kernelCall: return .kernelCall
            case .delegateCall: return .delegateCall
            case .moveCall: return .moveCall
            case .jumpFalseCall: return .jumpFalseCall
            case .freeCall: return .freeCall
            }
        }

        /// The union tag as written in the file.
        public var unionTag: UInt8 { tag.rawValue }
    }

    public struct Frame: Equatable, Sendable {
        public var filename: String?
        public var lineno: Int32
        public var name: String?
        public var context: String?
        public init(filename: String? = nil, lineno: Int32 = 0, name: String? = nil, context: String? = nil) {
            self.filename = filename
            self.lineno = lineno
            self.name = name
            self.context = context
        }
    }

    public struct FrameList: Equatable, Sendable {
        public var items: [Frame]
        public init(items: [Frame]) { self.items = items }
    }

    public enum DataLocation: Int8, Equatable, Sendable {
        case inline = 0, segment = 1
    }

    public struct BackendDelegateDataReference: Equatable, Sendable {
        public var location: DataLocation
        public var index: UInt32
        public init(location: DataLocation, index: UInt32) {
            self.location = location
            self.index = index
        }
    }

    public struct CompileSpec: Equatable, Sendable {
        public var key: String
        public var value: [UInt8]
        public init(key: String, value: [UInt8]) {
            self.key = key
            self.value = value
        }
    }

    public struct BackendDelegate: Equatable, Sendable {
        public var id: String
        public var processed: BackendDelegateDataReference
        public var compileSpecs: [CompileSpec]
        public init(id: String, processed: BackendDelegateDataReference, compileSpecs: [CompileSpec] = []) {
            self.id = id
            self.processed = processed
            self.compileSpecs = compileSpecs
        }
    }

    public struct Chain: Equatable, Sendable {
        public var inputs: [Int32]
        public var outputs: [Int32]
        public var instructions: [Instruction]
        /// One frame list per instruction, or empty.
        public var stacktrace: [FrameList]
        public init(inputs: [Int32], outputs: [Int32], instructions: [Instruction], stacktrace: [FrameList] = []) {
            self.inputs = inputs
            self.outputs = outputs
            self.instructions = instructions
            self.stacktrace = stacktrace
        }
    }

    public struct NonConstBufferDevice: Equatable, Sendable {
        public var bufferIdx: Int32
        public var deviceType: DeviceType
        public var deviceIndex: Int8
        public init(bufferIdx: Int32, deviceType: DeviceType = .cpu, deviceIndex: Int8 = 0) {
            self.bufferIdx = bufferIdx
            self.deviceType = deviceType
            self.deviceIndex = deviceIndex
        }
    }

    /// One method.
    public struct ExecutionPlan: Equatable, Sendable {
        public var name: String
        public var containerMetaType: ContainerMetadata?
        public var values: [EValue]
        public var inputs: [Int32]
        public var outputs: [Int32]
        public var chains: [Chain]
        public var operators: [Operator]
        public var delegates: [BackendDelegate]
        /// Arena sizes by memory id; entry 0 is reserved (ExecuTorch's convention) and is 0.
        public var nonConstBufferSizes: [Int64]
        public var nonConstBufferDevice: [NonConstBufferDevice]
        public init(name: String, containerMetaType: ContainerMetadata? = nil, values: [EValue] = [],
                    inputs: [Int32] = [], outputs: [Int32] = [], chains: [Chain] = [], operators: [Operator] = [],
                    delegates: [BackendDelegate] = [], nonConstBufferSizes: [Int64] = [],
                    nonConstBufferDevice: [NonConstBufferDevice] = []) {
            self.name = name
            self.containerMetaType = containerMetaType
            self.values = values
            self.inputs = inputs
            self.outputs = outputs
            self.chains = chains
            self.operators = operators
            self.delegates = delegates
            self.nonConstBufferSizes = nonConstBufferSizes
            self.nonConstBufferDevice = nonConstBufferDevice
        }
    }

    public struct Buffer: Equatable, Sendable {
        public var storage: [UInt8]
        public init(storage: [UInt8] = []) { self.storage = storage }
    }

    public struct BackendDelegateInlineData: Equatable, Sendable {
        public var data: [UInt8]
        public init(data: [UInt8]) { self.data = data }
    }

    /// A segment: `offset` from the segment base (the extended header's `segment_base_offset`).
    public struct DataSegment: Equatable, Sendable {
        public var offset: UInt64
        public var size: UInt64
        public init(offset: UInt64, size: UInt64) {
            self.offset = offset
            self.size = size
        }
    }

    /// Offsets of sub-blobs inside one segment (the constant segment: entry 0 reserved).
    public struct SubsegmentOffsets: Equatable, Sendable {
        public var segmentIndex: UInt32
        public var offsets: [UInt64]
        public init(segmentIndex: UInt32, offsets: [UInt64]) {
            self.segmentIndex = segmentIndex
            self.offsets = offsets
        }
    }

    public struct NamedData: Equatable, Sendable {
        public var key: String
        public var segmentIndex: UInt32
        public init(key: String, segmentIndex: UInt32) {
            self.key = key
            self.segmentIndex = segmentIndex
        }
    }
}
