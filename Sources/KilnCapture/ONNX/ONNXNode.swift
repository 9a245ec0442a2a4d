import KilnIR
import KilnOps
import KilnTensor

/// One ONNX node as an op rule sees it: resolved inputs and typed attribute accessors whose
/// errors name the input or attribute.
struct ONNXNode {
    let proto: Onnx_NodeProto
    /// Inputs in order; nil for an absent (empty-named or missing) optional input.
    private(set) var inputs: [ONNXValue?]
    let opset: Int
    private var attributes: [String: Onnx_AttributeProto]

    init(proto: Onnx_NodeProto, import state: GraphImport) {
        self.proto = proto
        self.opset = state.opset
        self.inputs = proto.input.map { $0.isEmpty ? nil : state.env[$0] }
        var attributes: [String: Onnx_AttributeProto] = [:]
        for a in proto.attribute { attributes[a.name] = a }
        self.attributes = attributes
    }

    /// Where Kiln nodes made for this one point back to: the ONNX node name (or op type).
    var location: String { proto.name.isEmpty ? proto.opType : proto.name }

    /// How many outputs the model reads (trailing empty names do not count).
    var outputCount: Int { proto.output.lastIndex(where: { !$0.isEmpty }).map { $0 + 1 } ?? 0 }

    func fail(_ kind: ONNXError.Kind = .unsupportedUse, _ message: String) -> ONNXError {
        ONNXError(kind, message)
    }

    /// This node as its 2-D form, for a 1-D conv or pool: `inputs` replaced (the caller adds
    /// the unit H dim) and each window attribute given a leading unit entry (pads: zeros).
    func liftedTo2D(inputs lifted: [ONNXValue?]) -> ONNXNode {
        var copy = self
        copy.inputs = lifted
        for name in ["kernel_shape", "strides", "dilations", "output_padding", "pads"] {
            guard var a = attributes[name] else { continue }
            let lead: Int64 = name == "pads" || name == "output_padding" ? 0 : 1
            if name == "pads", a.ints.count == 2 {
                a.ints = [0, a.ints[0], 0, a.ints[1]]
            } else if a.ints.count == 1 {
                a.ints = [lead, a.ints[0]]
            }
            copy.attributes[name] = a
        }
        return copy
    }

    // MARK: - Inputs

    func input(_ i: Int) throws(ONNXError) -> ONNXValue {
        guard i < inputs.count, let v = inputs[i] else {
            throw fail(.invalidAttribute, "input \(i) is required")
        }
        return v
    }

    func optionalInput(_ i: Int) -> ONNXValue? {
        i < inputs.count ? inputs[i] : nil
    }

    /// Input `i` as a constant (shapes, axes, pads): it must be known at import time.
    func constant(_ i: Int, _ what: String) throws(ONNXError) -> Tensor? {
        guard let v = optionalInput(i) else { return nil }
        guard case .constant(let t) = v else {
            var e = fail(.unsupportedUse, "input \(i) ('\(proto.input[i])', \(what)) must be a constant at import time (an "
                         + "initializer, a Constant, or computed from static shapes); here it depends on graph inputs")
            e.constantNeeded = proto.input[i]
            throw e
        }
        return t
    }

    /// Input `i` as a list of ints, when present.
    func ints(_ i: Int, _ what: String) throws(ONNXError) -> [Int]? {
        guard let t = try constant(i, what) else { return nil }
        return try Self.intValues(t, what)
    }

    /// Input `i` as one number, when present.
    func scalar(_ i: Int, _ what: String) throws(ONNXError) -> Double? {
        guard let t = try constant(i, what) else { return nil }
        guard t.elementCount == 1 else {
            throw fail(.invalidAttribute, "input \(i) (\(what)) must hold one value, it has shape \(t.shape)")
        }
        switch t.dtype {
        case .int64: return Double(t.scalars(as: Int64.self)[0])
        case .int32: return Double(t.scalars(as: Int32.self)[0])
        default: return Double(t.floatValues()[0])
        }
    }

    static func intValues(_ t: Tensor, _ what: String) throws(ONNXError) -> [Int] {
        switch t.dtype {
        case .int64: return t.scalars(as: Int64.self).map { Int($0) }
        case .int32: return t.scalars(as: Int32.self).map { Int($0) }
        default: throw ONNXError(.invalidAttribute, "\(what) must be int64 or int32, it is \(t.dtype)")
        }
    }

    // MARK: - Attributes

    func has(_ name: String) -> Bool { attributes[name] != nil }

    func int(_ name: String, _ defaultValue: Int) -> Int {
        attributes[name].map { Int(clamping: $0.i) } ?? defaultValue
    }

    func requiredInt(_ name: String) throws(ONNXError) -> Int {
        guard let a = attributes[name] else { throw fail(.invalidAttribute, "attribute '\(name)' is required") }
        return Int(clamping: a.i)
    }

    func float(_ name: String, _ defaultValue: Double) -> Double {
        attributes[name].map { Double($0.f) } ?? defaultValue
    }

    func ints(_ name: String) -> [Int]? {
        attributes[name].map { $0.ints.map { Int(clamping: $0) } }
    }

    func floats(_ name: String) -> [Double]? {
        attributes[name].map { $0.floats.map(Double.init) }
    }

    func string(_ name: String, _ defaultValue: String) -> String {
        attributes[name].map { String(decoding: $0.s, as: UTF8.self) } ?? defaultValue
    }

    func tensor(_ name: String, directory: String) throws(ONNXError) -> Tensor? {
        guard let a = attributes[name] else { return nil }
        guard a.hasT else { throw fail(.invalidAttribute, "attribute '\(name)' has no tensor") }
        return try ONNXTensor.decode(a.t, directory: directory, what: "attribute '\(name)'")
    }
}
