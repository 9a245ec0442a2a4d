/// A Swift type that is the in-memory element of one ``DType``.
public protocol TensorElement: Sendable {
    /// The dtype whose elements have this layout.
    static var dtype: DType { get }
    /// Converts to Float (exact for every type but the wide integers).
    var floatValue: Float { get }
}

extension Float: TensorElement {
    public static var dtype: DType { .float32 }
    public var floatValue: Float { self }
}
#if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
extension Float16: TensorElement {
    public static var dtype: DType { .float16 }
    public var floatValue: Float { Float(self) }
}
#endif
extension BFloat16: TensorElement {
    public static var dtype: DType { .bfloat16 }
}
extension Int64: TensorElement {
    public static var dtype: DType { .int64 }
    public var floatValue: Float { Float(self) }
}
extension Int32: TensorElement {
    public static var dtype: DType { .int32 }
    public var floatValue: Float { Float(self) }
}
extension Int16: TensorElement {
    public static var dtype: DType { .int16 }
    public var floatValue: Float { Float(self) }
}
extension Int8: TensorElement {
    public static var dtype: DType { .int8 }
    public var floatValue: Float { Float(self) }
}
extension UInt8: TensorElement {
    public static var dtype: DType { .uint8 }
    public var floatValue: Float { Float(self) }
}
extension Bool: TensorElement {
    public static var dtype: DType { .bool }
    public var floatValue: Float { self ? 1 : 0 }
}
