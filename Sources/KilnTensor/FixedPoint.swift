/// Fixed-point text for doubles, without Foundation's `String(format:)`.
public enum FixedPoint {
    /// `value` rounded to `digits` decimals: `FixedPoint.format(1.23456, digits: 2)` is `1.23`; with
    /// `trimmingZeros`, `FixedPoint.format(1.5, digits: 3, trimmingZeros: true)` is `1.5`.
    public static func format(_ value: Double, digits: Int, trimmingZeros: Bool = false) -> String {
        guard value.isFinite else { return "\(value)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e18 else { return "\(value)" }
        let units = UInt64(scaled)
        let whole = units / UInt64(scale)
        var fraction = String(units % UInt64(scale))
        fraction = String(repeating: "0", count: digits - fraction.count) + fraction
        if trimmingZeros {
            while fraction.hasSuffix("0") { fraction.removeLast() }
        }
        let sign = value < 0 && units != 0 ? "-" : ""
        return fraction.isEmpty ? "\(sign)\(whole)" : "\(sign)\(whole).\(fraction)"
    }
}
