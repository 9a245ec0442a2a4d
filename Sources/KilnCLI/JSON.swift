import KilnPartition
import KilnTensor

/// A JSON value whose objects keep their keys in the order given, so output is stable.
enum JSON {
    case object([(String, JSON)])
    case array([JSON])
    case string(String)
    case int(Int)
    /// A number written with at most `digits` decimals (trailing zeros dropped).
    case number(Double, digits: Int)
    case bool(Bool)
    case null

    /// Compact JSON text.
    var rendered: String {
        var out = ""
        render(into: &out)
        return out
    }

    private func render(into out: inout String) {
        switch self {
        case .object(let fields):
            out += "{"
            for (i, (key, value)) in fields.enumerated() {
                if i > 0 { out += "," }
                JSON.string(key).render(into: &out)
                out += ":"
                value.render(into: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.render(into: &out)
            }
            out += "]"
        case .string(let s):
            out += JSONValue.quoted(s)
        case .int(let v): out += String(v)
        case .number(let v, let digits):
            out += v.isFinite ? FixedPoint.format(v, digits: digits, trimmingZeros: true) : "null"
        case .bool(let v): out += v ? "true" : "false"
        case .null: out += "null"
        }
    }
}
