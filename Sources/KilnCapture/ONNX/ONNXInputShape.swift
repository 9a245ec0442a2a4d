/// One dimension given on the command line for a graph input: a size, or a range for a free dim.
public enum ONNXInputDim: Hashable, Sendable, CustomStringConvertible {
    case fixed(Int)
    case range(ClosedRange<Int>)

    public var description: String {
        switch self {
        case .fixed(let n): return String(n)
        case .range(let r): return "\(r.lowerBound)..\(r.upperBound)"
        }
    }

    /// Parses `NAME=1x3x224x224` or `NAME=1x1..512x256` (`kiln ... --input-shape`).
    ///
    /// ```swift
    /// let (name, dims) = try ONNXInputDim.parse("x=1x1..512x256")   // ("x", [1, 1..512, 256])
    /// ```
    public static func parse(_ text: String) throws(ONNXError) -> (name: String, dims: [ONNXInputDim]) {
        guard let eq = text.lastIndex(of: "="), eq != text.startIndex else {
            throw ONNXError(.inputShape, "--input-shape '\(text)': expected NAME=DIMS such as x=1x3x224x224 or x=1x1..512x256")
        }
        let name = String(text[..<eq])
        let spec = text[text.index(after: eq)...]
        if spec.isEmpty || spec == "scalar" { return (name, []) }
        var dims: [ONNXInputDim] = []
        for part in spec.split(separator: "x", omittingEmptySubsequences: false) {
            let bounds = part.components(separatedBy: "..")
            if bounds.count == 1, let n = Int(bounds[0]), n >= 0 {
                dims.append(.fixed(n))
            } else if bounds.count == 2, let lo = Int(bounds[0]), let hi = Int(bounds[1]), lo >= 0, lo <= hi {
                dims.append(lo == hi ? .fixed(lo) : .range(lo...hi))
            } else {
                throw ONNXError(.inputShape, "--input-shape '\(text)': '\(part)' is not a size or a range lo..hi (0 <= lo <= hi)")
            }
        }
        return (name, dims)
    }
}

extension String {
    fileprivate func components(separatedBy separator: String) -> [String] {
        var parts: [String] = []
        var rest = Substring(self)
        while let r = rest.range(of: separator) {
            parts.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        parts.append(String(rest))
        return parts
    }
}

extension Substring {
    fileprivate func components(separatedBy separator: String) -> [String] { String(self).components(separatedBy: separator) }

    fileprivate func range(of needle: String) -> Range<Index>? {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) { return i..<index(i, offsetBy: needle.count) }
            i = index(after: i)
        }
        return nil
    }
}
