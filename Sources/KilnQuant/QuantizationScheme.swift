import Synchronization

/// A named way to quantize a model: the quantizers to annotate with, in priority order.
///
/// Schemes come from strings (`kiln compile --quantize SCHEME`) through ``QuantizationSchemes``,
/// where a backend plugin can register its own presets without editing KilnQuant.
///
/// ```swift
/// let scheme = try QuantizationSchemes.parse("8da4w:g64")
/// scheme.quantizers.map(\.name)     // ["8da4w-g64"]
/// scheme.needsCalibration           // false: every activation is dynamic
/// ```
public struct QuantizationScheme: Sendable {
    /// The scheme as written (`int8`, `8da4w:g64`).
    public var name: String
    public var summary: String
    public var quantizers: [any Quantizer]
    /// Whether the scheme has static activations, whose ranges need calibration samples.
    public var needsCalibration: Bool

    public init(name: String, summary: String, quantizers: [any Quantizer], needsCalibration: Bool) {
        self.name = name
        self.summary = summary
        self.quantizers = quantizers
        self.needsCalibration = needsCalibration
    }

    /// One quantizer composing ``quantizers`` in order.
    public var quantizer: ComposedQuantizer { ComposedQuantizer(quantizers) }
}

/// The registry of quantization schemes, by name: `int8`, `int8-dynamic`, `8da4w[:g32|g64|g128]`
/// built in; backends add presets (`16a8w`) with ``register(_:summary:_:)``.
///
/// A scheme string is `NAME` or `NAME:ARGUMENT`; the registered parser for `NAME` receives the
/// argument (nil when absent) and returns the scheme or throws naming what it expected.
///
/// ```swift
/// QuantizationSchemes.register("16a8w", summary: "int16 activations, int8 weights") { argument throws(QuantError) in
///     QuantizationScheme(name: "16a8w", summary: "...", quantizers: [MyNPUQuantizer()], needsCalibration: true)
/// }
/// ```
public enum QuantizationSchemes {
    /// Builds a scheme from the text after `NAME:` (nil when there is none).
    public typealias Parser = @Sendable (_ argument: String?) throws(QuantError) -> QuantizationScheme

    private struct Entry: Sendable {
        var summary: String
        var parse: Parser
    }

    private static let registry = Mutex<[String: Entry]>(builtIn)

    /// Adds (or replaces) the scheme `name`.
    public static func register(_ name: String, summary: String, _ parse: @escaping Parser) {
        registry.withLock { $0[name] = Entry(summary: summary, parse: parse) }
    }

    /// The registered names and summaries, sorted by name.
    public static var all: [(name: String, summary: String)] {
        registry.withLock { table in table.keys.sorted().map { ($0, table[$0]!.summary) } }
    }

    /// The scheme `text` names.
    /// - Throws: `.unknownScheme` listing the registered names, or the scheme's own error for a
    ///   bad argument.
    public static func parse(_ text: String) throws(QuantError) -> QuantizationScheme {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        let argument = parts.count > 1 ? String(parts[1]) : nil
        guard let entry = registry.withLock({ $0[name] }) else {
            let known = all.map(\.name).joined(separator: ", ")
            throw QuantError(.unknownScheme, "unknown quantization scheme '\(text)'; known: \(known)")
        }
        return try entry.parse(argument)
    }

    private static let builtIn: [String: Entry] = [
        "int8": Entry(summary: "XNNPACK-style static int8: per-channel weights, calibrated per-tensor activations") {
            argument throws(QuantError) in
            try noArgument("int8", argument)
            return QuantizationScheme(name: "int8", summary: "static int8", quantizers: [XNNPACKQuantizer()],
                                      needsCalibration: true)
        },
        "int8-dynamic": Entry(summary: "XNNPACK-style int8 linear layers: per-channel weights, per-token activations at run time") {
            argument throws(QuantError) in
            try noArgument("int8-dynamic", argument)
            return QuantizationScheme(name: "int8-dynamic", summary: "dynamic int8",
                                      quantizers: [XNNPACKQuantizer(dynamic: true)], needsCalibration: false)
        },
        "8da4w": Entry(summary: "linear layers: 8-bit dynamic activations, 4-bit grouped weights (8da4w:g32|g64|g128, default g128)") {
            argument throws(QuantError) in
            let group: Int
            switch argument {
            case nil: group = 128
            case "g32": group = 32
            case "g64": group = 64
            case "g128": group = 128
            case let other?:
                throw QuantError(.unknownScheme, "8da4w: unknown group size '\(other)'; expected g32, g64 or g128")
            }
            return QuantizationScheme(name: "8da4w:g\(group)", summary: "8da4w, group \(group)",
                                      quantizers: [Int8DynActInt4WeightQuantizer(groupSize: group)],
                                      needsCalibration: false)
        },
    ]

    private static func noArgument(_ name: String, _ argument: String?) throws(QuantError) {
        if let argument {
            throw QuantError(.unknownScheme, "\(name) takes no argument, got '\(name):\(argument)'")
        }
    }
}
