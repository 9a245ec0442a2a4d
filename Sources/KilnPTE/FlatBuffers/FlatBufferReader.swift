/// Zero-copy, bounds-checked reading of FlatBuffers data.
///
/// Every offset and length read from the buffer is checked (with overflow-checked arithmetic)
/// before it is followed, and alignment is checked as the FlatBuffers verifier does; problems
/// throw ``PTEError`` (`.outOfRange` for offsets past the buffer, `.flatbuffer` for anything
/// else malformed). Absent fields read as nil or as their schema default.
///
/// ```swift
/// let root = try FBTable.root(of: bytes)
/// let version: UInt32 = try root.scalar(0, default: 0)
/// ```

/// A scalar type stored inline in a flatbuffer (little-endian).
public protocol FBScalar {
    /// Bytes one value takes (and its alignment).
    static var byteSize: Int { get }
    /// Reads a value at `offset`; the caller has checked that the bytes are inside `buffer`.
    static func load(from buffer: UnsafeRawBufferPointer, at offset: Int) -> Self
}

extension FBScalar where Self: FixedWidthInteger {
    public static var byteSize: Int { MemoryLayout<Self>.size }
    public static func load(from buffer: UnsafeRawBufferPointer, at offset: Int) -> Self {
        Self(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: Self.self))
    }
}

extension UInt8: FBScalar {}
extension Int8: FBScalar {}
extension UInt16: FBScalar {}
extension Int16: FBScalar {}
extension UInt32: FBScalar {}
extension Int32: FBScalar {}
extension UInt64: FBScalar {}
extension Int64: FBScalar {}

extension Bool: FBScalar {
    public static var byteSize: Int { 1 }
    public static func load(from buffer: UnsafeRawBufferPointer, at offset: Int) -> Bool {
        buffer[offset] != 0
    }
}

extension Double: FBScalar {
    public static var byteSize: Int { 8 }
    public static func load(from buffer: UnsafeRawBufferPointer, at offset: Int) -> Double {
        Double(bitPattern: UInt64.load(from: buffer, at: offset))
    }
}

/// Checked arithmetic and bounds for positions inside a buffer.
enum FBBounds {
    /// `start + length`, or a throw when it overflows or passes `limit`.
    static func end(_ start: Int, _ length: Int, limit: Int, _ what: @autoclosure () -> String) throws(PTEError) -> Int {
        let (end, overflow) = start.addingReportingOverflow(length)
        guard !overflow, start >= 0, length >= 0, end <= limit else {
            throw PTEError(.outOfRange, "\(what()) at \(start) (+\(length) bytes) is outside the buffer (\(limit) bytes)")
        }
        return end
    }

    static func aligned(_ position: Int, _ alignment: Int, _ what: @autoclosure () -> String) throws(PTEError) {
        guard position & (alignment - 1) == 0 else {
            throw PTEError(.flatbuffer, "\(what()) at \(position) is not \(alignment)-byte aligned")
        }
    }

    /// Follows the 32-bit forward reference stored at `position`.
    static func follow(_ buffer: UnsafeRawBufferPointer, at position: Int, _ what: @autoclosure () -> String) throws(PTEError) -> Int {
        _ = try end(position, 4, limit: buffer.count, "reference to \(what())")
        try aligned(position, 4, "reference to \(what())")
        let target = position + Int(UInt32.load(from: buffer, at: position))
        guard target < buffer.count else {
            throw PTEError(.outOfRange, "\(what()) at \(target) is outside the buffer (\(buffer.count) bytes)")
        }
        return target
    }
}

/// One table in a flatbuffer, with its vtable checked.
public struct FBTable {
    /// The whole flatbuffer (offsets are relative to its start).
    public let buffer: UnsafeRawBufferPointer
    /// Where the table starts (its offset to the vtable).
    public let position: Int
    let vtable: Int
    let vtableSize: Int
    let tableSize: Int

    /// Reads the table at `position`, checking that it and its vtable lie inside `buffer`.
    public init(buffer: UnsafeRawBufferPointer, position: Int) throws(PTEError) {
        _ = try FBBounds.end(position, 4, limit: buffer.count, "table")
        try FBBounds.aligned(position, 4, "table")
        let soffset = Int(Int32.load(from: buffer, at: position))
        let (vtable, overflow) = position.subtractingReportingOverflow(soffset)
        guard !overflow else { throw PTEError(.outOfRange, "vtable of the table at \(position) is outside the buffer") }
        _ = try FBBounds.end(vtable, 4, limit: buffer.count, "vtable of the table at \(position)")
        try FBBounds.aligned(vtable, 2, "vtable")
        let vtableSize = Int(UInt16.load(from: buffer, at: vtable))
        let tableSize = Int(UInt16.load(from: buffer, at: vtable + 2))
        guard vtableSize >= 4, vtableSize % 2 == 0 else {
            throw PTEError(.flatbuffer, "vtable at \(vtable) has a bad size \(vtableSize)")
        }
        guard tableSize >= 4 else {
            throw PTEError(.flatbuffer, "table at \(position) has a bad size \(tableSize)")
        }
        _ = try FBBounds.end(vtable, vtableSize, limit: buffer.count, "vtable")
        _ = try FBBounds.end(position, tableSize, limit: buffer.count, "table")
        self.buffer = buffer
        self.position = position
        self.vtable = vtable
        self.vtableSize = vtableSize
        self.tableSize = tableSize
    }

    /// Whether `buffer` carries the 4-character file identifier `identifier` (bytes 4..<8), as
    /// FlatBuffers writes it after the root offset.
    public static func hasIdentifier(_ identifier: String, in buffer: UnsafeRawBufferPointer) -> Bool {
        buffer.count >= 8 && buffer[4..<8].elementsEqual(identifier.utf8)
    }

    /// The root table: the one the buffer's first four bytes refer to.
    public static func root(of buffer: UnsafeRawBufferPointer) throws(PTEError) -> FBTable {
        let position = try FBBounds.follow(buffer, at: 0, "root table")
        return try FBTable(buffer: buffer, position: position)
    }

    /// The absolute position of the field in `slot` (of `byteSize` bytes), or nil when absent.
    func fieldPosition(_ slot: Int, byteSize: Int) throws(PTEError) -> Int? {
        let entry = 4 + 2 * slot
        guard entry + 2 <= vtableSize else { return nil }
        let offset = Int(UInt16.load(from: buffer, at: vtable + entry))
        guard offset != 0 else { return nil }
        guard offset >= 4, offset + byteSize <= tableSize else {
            throw PTEError(.outOfRange, "field \(slot) at offset \(offset) (+\(byteSize) bytes) is outside its table (\(tableSize) bytes)")
        }
        try FBBounds.aligned(position + offset, byteSize, "field \(slot)")
        return position + offset
    }

    /// True when the field in `slot` is present.
    public func has(_ slot: Int) -> Bool {
        let entry = 4 + 2 * slot
        return entry + 2 <= vtableSize && UInt16.load(from: buffer, at: vtable + entry) != 0
    }

    /// Runs `read`, adding the field's `name` (when not empty) to the location of any error.
    @inline(__always)
    private func named<T>(_ name: StaticString, _ slot: Int, _ read: () throws(PTEError) -> T) throws(PTEError) -> T {
        do {
            return try read()
        } catch {
            throw name.utf8CodeUnitCount > 0 ? error.at("\(name)") : error
        }
    }

    /// The scalar in `slot`, or `defaultValue` when absent. `name` (the schema's field name)
    /// labels errors.
    public func scalar<T: FBScalar>(_ slot: Int, default defaultValue: T, name: StaticString = "") throws(PTEError) -> T {
        try named(name, slot) { () throws(PTEError) -> T in
            guard let at = try fieldPosition(slot, byteSize: T.byteSize) else { return defaultValue }
            return T.load(from: buffer, at: at)
        }
    }

    /// The position a reference field points at, or nil when absent.
    func target(_ slot: Int, _ what: String) throws(PTEError) -> Int? {
        guard let at = try fieldPosition(slot, byteSize: 4) else { return nil }
        return try FBBounds.follow(buffer, at: at, what)
    }

    /// The table in `slot`, or nil when absent.
    public func table(_ slot: Int, name: StaticString = "") throws(PTEError) -> FBTable? {
        try named(name, slot) { () throws(PTEError) -> FBTable? in
            guard let target = try target(slot, "table") else { return nil }
            return try FBTable(buffer: buffer, position: target)
        }
    }

    /// The string in `slot` (validated UTF-8), or nil when absent.
    public func string(_ slot: Int, name: StaticString = "") throws(PTEError) -> String? {
        try named(name, slot) { () throws(PTEError) -> String? in
            guard let target = try target(slot, "string") else { return nil }
            return try FBRead.string(buffer, at: target)
        }
    }

    /// The vector of scalars in `slot`, or nil when absent.
    public func vector<T: FBScalar>(_ slot: Int, of type: T.Type = T.self, name: StaticString = "") throws(PTEError) -> FBVector<T>? {
        try named(name, slot) { () throws(PTEError) -> FBVector<T>? in
            guard let target = try target(slot, "vector") else { return nil }
            return try FBVector(buffer: buffer, position: target)
        }
    }

    /// The bytes of the `[ubyte]` vector in `slot`, or nil when absent.
    public func bytes(_ slot: Int, name: StaticString = "") throws(PTEError) -> UnsafeRawBufferPointer? {
        try vector(slot, of: UInt8.self, name: name)?.bytes
    }

    /// The vector of tables (or strings) in `slot`, or nil when absent.
    public func tables(_ slot: Int, name: StaticString = "") throws(PTEError) -> FBTableVector? {
        try named(name, slot) { () throws(PTEError) -> FBTableVector? in
            guard let target = try target(slot, "vector") else { return nil }
            return try FBTableVector(buffer: buffer, position: target)
        }
    }

    /// The union whose type tag is in `slot` and value in `slot + 1`: nil when the tag is absent
    /// or NONE (0); a throw when a tag is set but its value is missing.
    public func union(_ slot: Int, name: StaticString = "") throws(PTEError) -> (tag: UInt8, value: FBTable)? {
        try named(name, slot) { () throws(PTEError) -> (tag: UInt8, value: FBTable)? in
            let tag: UInt8 = try scalar(slot, default: 0)
            guard tag != 0 else { return nil }
            guard let value = try table(slot + 1) else {
                throw PTEError(.flatbuffer, "union type \(tag) is set but its value is missing")
            }
            return (tag, value)
        }
    }
}

/// Reads shared by tables and vectors.
enum FBRead {
    /// The NUL-terminated, length-prefixed UTF-8 string at `position`.
    static func string(_ buffer: UnsafeRawBufferPointer, at position: Int) throws(PTEError) -> String {
        let bytes = try vectorBytes(buffer, at: position, elementSize: 1, what: "string")
        // The terminating NUL must be there too.
        let terminator = try FBBounds.end(position + 4, bytes.count, limit: buffer.count - 1, "string terminator")
        guard buffer[terminator] == 0 else {
            throw PTEError(.flatbuffer, "string at \(position) is not NUL-terminated")
        }
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw PTEError(.flatbuffer, "string at \(position) is not valid UTF-8")
        }
        return string
    }

    /// The elements of the length-prefixed vector at `position`.
    static func vectorBytes(_ buffer: UnsafeRawBufferPointer, at position: Int, elementSize: Int,
                            what: String) throws(PTEError) -> UnsafeRawBufferPointer {
        _ = try FBBounds.end(position, 4, limit: buffer.count, "\(what) length")
        try FBBounds.aligned(position, 4, what)
        let count = Int(UInt32.load(from: buffer, at: position))
        let (length, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !overflow else { throw PTEError(.outOfRange, "\(what) of \(count) elements is too long") }
        try FBBounds.aligned(position + 4, elementSize, "\(what) elements")
        let end = try FBBounds.end(position + 4, length, limit: buffer.count, "\(what) of \(count) elements")
        return UnsafeRawBufferPointer(rebasing: buffer[(position + 4)..<end])
    }
}

/// A vector of scalars inside a flatbuffer; its extent was checked when it was read, so element
/// access is plain indexing.
public struct FBVector<Element: FBScalar>: RandomAccessCollection {
    /// The whole flatbuffer.
    public let buffer: UnsafeRawBufferPointer
    /// Position of the first element.
    public let start: Int
    public let count: Int

    init(buffer: UnsafeRawBufferPointer, position: Int) throws(PTEError) {
        let bytes = try FBRead.vectorBytes(buffer, at: position, elementSize: Element.byteSize, what: "vector")
        self.buffer = buffer
        start = position + 4
        count = bytes.count / Element.byteSize
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(index: Int) -> Element {
        precondition(index >= 0 && index < count, "FBVector index \(index) out of range 0..<\(count)")
        return Element.load(from: buffer, at: start + index * Element.byteSize)
    }

    /// The elements' bytes (for `[ubyte]` vectors: the data itself).
    public var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: buffer[start..<(start + count * Element.byteSize)])
    }
}

/// A vector of references (to tables or strings) inside a flatbuffer; each element is checked
/// when it is read.
public struct FBTableVector {
    public let buffer: UnsafeRawBufferPointer
    /// Position of the first element.
    public let start: Int
    public let count: Int

    init(buffer: UnsafeRawBufferPointer, position: Int) throws(PTEError) {
        let bytes = try FBRead.vectorBytes(buffer, at: position, elementSize: 4, what: "vector")
        self.buffer = buffer
        start = position + 4
        count = bytes.count / 4
    }

    private func target(_ index: Int, _ what: String) throws(PTEError) -> Int {
        guard index >= 0 && index < count else {
            throw PTEError(.index, "index \(index) is out of range 0..<\(count)")
        }
        return try FBBounds.follow(buffer, at: start + 4 * index, what)
    }

    /// The table at `index`.
    public func table(at index: Int) throws(PTEError) -> FBTable {
        try FBTable(buffer: buffer, position: target(index, "table"))
    }

    /// The string at `index`.
    public func string(at index: Int) throws(PTEError) -> String {
        try FBRead.string(buffer, at: target(index, "string"))
    }
}
