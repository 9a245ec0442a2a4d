/// Where an element of a ``PTETableList`` sits in the program: its list's path and its index.
/// Cheap to make; formatted (`execution_plan[0].values[12]`) only when it is needed.
public struct PTEElementPath: CustomStringConvertible, Sendable {
    public let list: String
    public let index: Int
    public var description: String { "\(list)[\(index)]" }
}

/// A table of `program.fbs` that can be read as an element of a list (a view, or a small model
/// value read whole).
public protocol PTETableElement {
    /// Reads the element from `table`. Errors need not name `path`: the list adds it.
    init(table: FBTable, path: PTEElementPath) throws(PTEError)
}

/// A vector of tables in a `.pte` file, read element by element; an absent vector is empty.
/// Errors name the element: `execution_plan[0].values[12].tensor.sizes: ...`.
///
/// ```swift
/// for i in 0..<plan.values.count { let value = try plan.values.element(at: i) }
/// ```
public struct PTETableList<Element: PTETableElement> {
    let vector: FBTableVector?
    /// The list's place in the program, e.g. `execution_plan[0].values`.
    public let path: String

    init(_ vector: FBTableVector?, path: String) {
        self.vector = vector
        self.path = path
    }

    /// Reads the list in field `name` (`slot`) of `table`, whose own place is `parent` (empty
    /// for a place relative to the caller).
    init(_ table: FBTable, _ slot: Int, _ name: StaticString, in parent: String) throws(PTEError) {
        let vector = try table.tables(slot, name: name)
        self.init(vector, path: parent.isEmpty ? "\(name)" : "\(parent).\(name)")
    }

    public var count: Int { vector?.count ?? 0 }
    public var isEmpty: Bool { count == 0 }

    /// The element at `index` (0 ≤ index < ``count``).
    /// - Throws: ``PTEError`` `.index` for an index out of range, or whatever reading the
    ///   element finds wrong, located at `path[index]`.
    public func element(at index: Int) throws(PTEError) -> Element {
        let elementPath = PTEElementPath(list: path, index: index)
        guard let vector, index >= 0, index < vector.count else {
            throw PTEError(.index, "index \(index) is out of range 0..<\(count)", location: path)
        }
        do {
            return try Element(table: vector.table(at: index), path: elementPath)
        } catch {
            throw error.at(elementPath.description)
        }
    }

    /// Every element, in order.
    public func elements() throws(PTEError) -> [Element] {
        var result: [Element] = []
        result.reserveCapacity(count)
        for index in 0..<count { result.append(try element(at: index)) }
        return result
    }
}

extension FBVector {
    /// An empty vector (for an absent field).
    init(emptyIn buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
        start = 0
        count = 0
    }
}

/// Reads an enum field, rejecting values outside the schema.
func enumField<E: RawRepresentable>(_ table: FBTable, _ slot: Int, _ name: StaticString, default defaultValue: E)
    throws(PTEError) -> E where E.RawValue == Int8 {
    let raw: Int8 = try table.scalar(slot, default: defaultValue.rawValue, name: name)
    guard let value = E(rawValue: raw) else {
        throw PTEError(.enumValue, "\(raw) is not a \(E.self) value", location: "\(name)")
    }
    return value
}
