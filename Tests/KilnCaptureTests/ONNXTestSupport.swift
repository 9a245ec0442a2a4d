import Foundation
import KilnTensor
@testable import KilnCapture

/// Builds small ONNX models in code for the importer's tests.
enum ONNXModel {
    static func tensor(_ name: String, _ values: [Float], _ dims: [Int64], raw: Bool = true) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = dims
        t.dataType = 1
        if raw {
            t.rawData = values.withUnsafeBytes { Data($0) }
        } else {
            t.floatData = values
        }
        return t
    }

    static func int64s(_ name: String, _ values: [Int64]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name
        t.dims = [Int64(values.count)]
        t.dataType = 7
        t.int64Data = values
        return t
    }

    static func input(_ name: String, _ elemType: Int32 = 1, _ dims: [Int64?], params: [String?] = []) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        var t = Onnx_TypeProto.Tensor()
        t.elemType = elemType
        var shape = Onnx_TensorShapeProto()
        for (i, d) in dims.enumerated() {
            var dim = Onnx_TensorShapeProto.Dimension()
            if let d { dim.dimValue = d } else if i < params.count, let p = params[i] { dim.dimParam = p }
            shape.dim.append(dim)
        }
        t.shape = shape
        v.type.tensorType = t
        return v
    }

    static func output(_ name: String) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        return v
    }

    static func node(_ op: String, _ inputs: [String], _ outputs: [String], name: String = "",
                     ints: [String: [Int64]] = [:], int: [String: Int64] = [:], float: [String: Float] = [:]) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.opType = op
        n.input = inputs
        n.output = outputs
        n.name = name
        for (k, v) in ints.sorted(by: { $0.key < $1.key }) {
            var a = Onnx_AttributeProto()
            a.name = k
            a.type = .ints
            a.ints = v
            n.attribute.append(a)
        }
        for (k, v) in int.sorted(by: { $0.key < $1.key }) {
            var a = Onnx_AttributeProto()
            a.name = k
            a.type = .int
            a.i = v
            n.attribute.append(a)
        }
        for (k, v) in float.sorted(by: { $0.key < $1.key }) {
            var a = Onnx_AttributeProto()
            a.name = k
            a.type = .float
            a.f = v
            n.attribute.append(a)
        }
        return n
    }

    static func model(nodes: [Onnx_NodeProto], inputs: [Onnx_ValueInfoProto], outputs: [String],
                      initializers: [Onnx_TensorProto] = [], opset: Int64 = 17) -> Onnx_ModelProto {
        var g = Onnx_GraphProto()
        g.name = "test"
        g.node = nodes
        g.input = inputs
        g.output = outputs.map(output)
        g.initializer = initializers
        var m = Onnx_ModelProto()
        m.irVersion = 8
        var o = Onnx_OperatorSetIdProto()
        o.domain = ""
        o.version = opset
        m.opsetImport = [o]
        m.graph = g
        return m
    }

    /// Writes `model` (or raw bytes) to a fresh folder and returns the model's path.
    static func write(_ model: Onnx_ModelProto, extraFiles: [String: [UInt8]] = [:]) throws -> String {
        try write(bytes: [UInt8](try model.serializedBytes() as [UInt8]), extraFiles: extraFiles)
    }

    static func write(bytes: [UInt8], extraFiles: [String: [UInt8]] = [:]) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-onnx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, data) in extraFiles { try FileIO.writeAtomically(data, to: folder.appendingPathComponent(name).path) }
        let path = folder.appendingPathComponent("model.onnx").path
        try FileIO.writeAtomically(bytes, to: path)
        return path
    }
}
