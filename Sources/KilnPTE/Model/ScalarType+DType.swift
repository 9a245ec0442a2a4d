import KilnTensor

extension PTE.ScalarType {
    /// The `.pte` scalar type of a Kiln dtype: float32 → FLOAT, int8 → CHAR, uint8 → BYTE, ...
    ///
    /// ```swift
    /// PTE.ScalarType(.bfloat16)   // .bfloat16
    /// ```
    public init(_ dtype: DType) {
        switch dtype {
        case .float32: self = .float
        case .float16: self = .half
        case .bfloat16: self = .bfloat16
        case .int64: self = .long
        case .int32: self = .int
        case .int16: self = .short
        case .int8: self = .char
        case .uint8: self = .byte
        case .bool: self = .bool
        }
    }

    /// Bytes per element, as ExecuTorch counts them (the packed sub-byte types QUINT4X2 and
    /// QUINT2X4 take one byte per element of their storage type).
    public var elementSize: Int {
        switch self {
        case .byte, .char, .bool, .qint8, .quint8, .quint4x2, .quint2x4,
             .float8e5m2, .float8e4m3fn, .float8e5m2fnuz, .float8e4m3fnuz:
            return 1
        case .short, .half, .bfloat16, .bits16, .uint16: return 2
        case .int, .float, .qint32, .uint32: return 4
        case .long, .double, .uint64: return 8
        }
    }
}

extension DType {
    /// The Kiln dtype of a `.pte` scalar type, or nil for types Kiln has no dtype for (double,
    /// the quantized and float8 types, bits16, unsigned 16/32/64-bit).
    public init?(_ scalarType: PTE.ScalarType) {
        switch scalarType {
        case .float: self = .float32
        case .half: self = .float16
        case .bfloat16: self = .bfloat16
        case .long: self = .int64
        case .int: self = .int32
        case .short: self = .int16
        case .char: self = .int8
        case .byte: self = .uint8
        case .bool: self = .bool
        case .double, .qint8, .quint8, .qint32, .quint4x2, .quint2x4, .bits16, .float8e5m2, .float8e4m3fn,
             .float8e5m2fnuz, .float8e4m3fnuz, .uint16, .uint32, .uint64:
            return nil
        }
    }
}
