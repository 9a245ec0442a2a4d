/// A small FlatBuffers builder: objects are written back to front (children before parents),
/// so every reference points forward to something already written.
///
/// Tables are built between ``startTable()`` and ``endTable()``; scalars equal to their schema
/// default are left out, as `flatc`'s builders do. Vtables are shared between tables with the
/// same layout. The same calls in the same order give the same bytes.
///
/// ```swift
/// var b = FlatBufferBuilder()
/// let name = b.createString("forward")
/// b.startTable(); b.add(offset: name, slot: 0); b.add(UInt32(7), default: 0, slot: 1)
/// let bytes = b.finish(root: b.endTable(), fileIdentifier: "ET12")
/// ```
///
/// Builder misuse (a string created inside a table, a slot set twice) is a programming error
/// and traps; the bytes it writes never depend on anything but its inputs.
public struct FlatBufferBuilder {
    /// A reference to an object already in the buffer: its distance from the buffer's end.
    public struct Offset: Hashable, Sendable {
        public let fromEnd: Int
    }

    /// Bytes in use are `storage[head...]`; the buffer grows toward index 0.
    private var storage: [UInt8]
    private var head: Int
    /// The largest alignment any object asked for; the finished buffer is padded to it.
    private var minAlignment = 1
    /// The open table: where it started, and the field positions (from the end) by slot.
    private var tableStart: Int?
    private var fieldPositions: [Int] = []
    /// Vtables already written, by their bytes, so equal layouts are shared.
    private var vtables: [[UInt8]: Int] = [:]

    public init(initialCapacity: Int = 1024) {
        storage = [UInt8](repeating: 0, count: max(initialCapacity, 16))
        head = storage.count
    }

    /// Bytes written so far.
    public var size: Int { storage.count - head }

    // MARK: Raw writes

    private mutating func reserve(_ byteCount: Int) {
        guard head < byteCount else { return }
        var capacity = storage.count
        while capacity - size < byteCount { capacity *= 2 }
        var grown = [UInt8](repeating: 0, count: capacity)
        let used = size
        grown.withUnsafeMutableBytes { target in
            storage.withUnsafeBytes { source in
                target.baseAddress!.advanced(by: capacity - used).copyMemory(
                    from: source.baseAddress!.advanced(by: head), byteCount: used)
            }
        }
        storage = grown
        head = capacity - used
    }

    private mutating func pad(_ byteCount: Int) {
        reserve(byteCount)
        for _ in 0..<byteCount {
            head -= 1
            storage[head] = 0
        }
    }

    /// Pads so that, after `followingBytes` more bytes are written, the size is a multiple of
    /// `alignment` (a power of two). Since the finished buffer's size is a multiple of every
    /// alignment used, this aligns the object's absolute position too.
    private mutating func prepare(alignment: Int, followingBytes: Int) {
        minAlignment = max(minAlignment, alignment)
        let padding = (alignment - ((size + followingBytes) & (alignment - 1))) & (alignment - 1)
        pad(padding)
    }

    private mutating func push<T: FixedWidthInteger>(_ value: T) {
        let width = MemoryLayout<T>.size
        reserve(width)
        head -= width
        let bits = value.littleEndian
        storage.withUnsafeMutableBytes { $0.storeBytes(of: bits, toByteOffset: head, as: T.self) }
    }

    private mutating func push(bytes: UnsafeRawBufferPointer) {
        reserve(bytes.count)
        head -= bytes.count
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        let at = head
        storage.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: at).copyMemory(from: source, byteCount: bytes.count) }
    }

    /// Writes `value` aligned to its own size.
    private mutating func pushAligned<T: FixedWidthInteger>(_ value: T) {
        prepare(alignment: MemoryLayout<T>.size, followingBytes: 0)
        push(value)
    }

    /// Writes a reference to `target` (aligned to 4): the distance from where it is written.
    private mutating func pushReference(to target: Offset) {
        prepare(alignment: 4, followingBytes: 0)
        precondition(target.fromEnd <= size, "FlatBufferBuilder: reference to an object not yet written")
        push(UInt32(size + 4 - target.fromEnd))
    }

    private func requireNoTable(_ what: String) {
        precondition(tableStart == nil, "FlatBufferBuilder: \(what) cannot be created while a table is open")
    }

    // MARK: Strings and vectors

    /// Writes `string` as UTF-8 with its length and a terminating NUL.
    public mutating func createString(_ string: String) -> Offset {
        requireNoTable("a string")
        let utf8 = Array(string.utf8)
        let count = utf8.count
        prepare(alignment: 4, followingBytes: count + 1)
        push(UInt8(0))
        utf8.withUnsafeBytes { push(bytes: $0) }
        push(UInt32(count))
        return Offset(fromEnd: size)
    }

    /// Writes a vector of integers, each aligned to its size.
    public mutating func createVector<T: FixedWidthInteger>(_ elements: [T]) -> Offset {
        requireNoTable("a vector")
        let width = MemoryLayout<T>.size
        startVector(count: elements.count, elementSize: width, alignment: width)
        #if _endian(little)
        elements.withUnsafeBytes { push(bytes: $0) }
        #else
        for element in elements.reversed() { push(element) }
        #endif
        return endVector(count: elements.count)
    }

    /// Writes a vector of bytes whose first byte is aligned to `alignment` (a power of two; the
    /// schema's `force_align`).
    public mutating func createVector(bytes: [UInt8], alignment: Int) -> Offset {
        requireNoTable("a vector")
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "FlatBufferBuilder: alignment must be a power of two")
        startVector(count: bytes.count, elementSize: 1, alignment: alignment)
        bytes.withUnsafeBytes { push(bytes: $0) }
        return endVector(count: bytes.count)
    }

    /// Writes a vector of doubles (IEEE 754, little-endian).
    public mutating func createVector(_ elements: [Double]) -> Offset {
        createVector(elements.map(\.bitPattern))
    }

    /// Writes a vector of booleans, one byte each.
    public mutating func createVector(_ elements: [Bool]) -> Offset {
        createVector(elements.map { $0 ? UInt8(1) : UInt8(0) })
    }

    /// Writes a vector of references to tables or strings written before.
    public mutating func createVector(offsets elements: [Offset]) -> Offset {
        requireNoTable("a vector")
        startVector(count: elements.count, elementSize: 4, alignment: 4)
        for element in elements.reversed() { pushReference(to: element) }
        return endVector(count: elements.count)
    }

    private mutating func startVector(count: Int, elementSize: Int, alignment: Int) {
        // The length prefix is 4-aligned and the elements start at `alignment`.
        prepare(alignment: 4, followingBytes: count * elementSize)
        prepare(alignment: alignment, followingBytes: count * elementSize)
    }

    private mutating func endVector(count: Int) -> Offset {
        push(UInt32(count))
        return Offset(fromEnd: size)
    }

    // MARK: Tables

    /// Opens a table; add its fields, then call ``endTable()``.
    public mutating func startTable() {
        requireNoTable("a table")
        tableStart = size
        fieldPositions.removeAll(keepingCapacity: true)
    }

    private mutating func record(slot: Int) {
        precondition(tableStart != nil, "FlatBufferBuilder: field added outside a table")
        precondition(slot >= 0 && slot < 0x7FF0, "FlatBufferBuilder: bad slot \(slot)")
        if fieldPositions.count <= slot {
            fieldPositions.append(contentsOf: repeatElement(0, count: slot + 1 - fieldPositions.count))
        }
        precondition(fieldPositions[slot] == 0, "FlatBufferBuilder: slot \(slot) set twice")
        fieldPositions[slot] = size
    }

    /// Adds an integer field unless it equals the schema default.
    public mutating func add<T: FixedWidthInteger>(_ value: T, default defaultValue: T, slot: Int) {
        guard value != defaultValue else { return }
        pushAligned(value)
        record(slot: slot)
    }

    /// Adds a boolean field unless it equals the schema default.
    public mutating func add(_ value: Bool, default defaultValue: Bool, slot: Int) {
        add(value ? UInt8(1) : 0, default: defaultValue ? 1 : 0, slot: slot)
    }

    /// Adds a double field unless it equals the schema default (compared bit for bit, so -0.0
    /// and NaN payloads survive).
    public mutating func add(_ value: Double, default defaultValue: Double, slot: Int) {
        add(value.bitPattern, default: defaultValue.bitPattern, slot: slot)
    }

    /// Adds a reference to a table, string or vector; nil leaves the field absent.
    public mutating func add(offset: Offset?, slot: Int) {
        guard let offset else { return }
        pushReference(to: offset)
        record(slot: slot)
    }

    /// Adds a union: the type tag at `slot` and the value at `slot + 1` (flatc's layout for a
    /// union field).
    public mutating func addUnion(type tag: UInt8, value: Offset, slot: Int) {
        add(offset: value, slot: slot + 1)
        add(tag, default: 0, slot: slot)
    }

    /// Closes the open table and writes (or reuses) its vtable.
    public mutating func endTable() -> Offset {
        guard let start = tableStart else { preconditionFailure("FlatBufferBuilder: endTable without startTable") }
        // The table begins with a 32-bit offset to its vtable, patched below.
        pushAligned(Int32(0))
        let table = size
        // Vtable: its own size, the table's size, then each field's offset from the table start.
        var lastSlot = fieldPositions.count - 1
        while lastSlot >= 0 && fieldPositions[lastSlot] == 0 { lastSlot -= 1 }
        var vtable = [UInt8]()
        vtable.reserveCapacity(4 + 2 * (lastSlot + 1))
        func append(_ value: Int) {
            precondition(value <= 0xFFFF, "FlatBufferBuilder: table too large for a vtable")
            vtable.append(UInt8(truncatingIfNeeded: value))
            vtable.append(UInt8(truncatingIfNeeded: value >> 8))
        }
        append(4 + 2 * (lastSlot + 1))
        append(table - start)
        for slot in 0..<(lastSlot + 1) {
            let position = fieldPositions[slot]
            append(position == 0 ? 0 : table - position)
        }
        let vtablePosition: Int
        if let existing = vtables[vtable] {
            vtablePosition = existing
        } else {
            // Tables are 4-aligned and vtables have an even size, so they stay 2-aligned.
            vtable.withUnsafeBytes { push(bytes: $0) }
            vtablePosition = size
            vtables[vtable] = vtablePosition
        }
        // soffset = table position - vtable position, in absolute positions.
        let soffset = Int32(vtablePosition - table)
        let at = storage.count - table
        storage.withUnsafeMutableBytes { $0.storeBytes(of: soffset.littleEndian, toByteOffset: at, as: Int32.self) }
        tableStart = nil
        fieldPositions.removeAll(keepingCapacity: true)
        return Offset(fromEnd: table)
    }

    // MARK: Finishing

    /// Writes the root reference (and the 4-character file identifier after it) and returns the
    /// finished buffer.
    public mutating func finish(root: Offset, fileIdentifier: String? = nil) -> [UInt8] {
        requireNoTable("the root")
        let identifier = fileIdentifier.map { Array($0.utf8) }
        if let identifier { precondition(identifier.count == 4, "FlatBufferBuilder: a file identifier has 4 bytes") }
        prepare(alignment: minAlignment, followingBytes: 4 + (identifier == nil ? 0 : 4))
        if let identifier {
            for byte in identifier.reversed() { push(byte) }
        }
        pushReference(to: root)
        return Array(storage[head...])
    }
}
