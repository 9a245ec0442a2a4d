import Foundation
import KilnTensor
import Testing
@testable import KilnCapture

/// check, eval and compile read .onnx models; --input-shape fixes or bounds free dims.
@Suite struct ONNXCommandTests {
    /// y = relu(x * 2) with x: f32[batch, 3] (batch a free dim).
    func writeModel() throws -> URL {
        var x = Onnx_ValueInfoProto()
        x.name = "x"
        var t = Onnx_TypeProto.Tensor()
        t.elemType = 1
        var batch = Onnx_TensorShapeProto.Dimension()
        batch.dimParam = "batch"
        var three = Onnx_TensorShapeProto.Dimension()
        three.dimValue = 3
        t.shape.dim = [batch, three]
        x.type.tensorType = t
        var two = Onnx_TensorProto()
        two.name = "two"
        two.dataType = 1
        two.floatData = [2]
        var mul = Onnx_NodeProto()
        mul.opType = "Mul"
        mul.name = "double"
        mul.input = ["x", "two"]
        mul.output = ["d"]
        var relu = Onnx_NodeProto()
        relu.opType = "Relu"
        relu.input = ["d"]
        relu.output = ["y"]
        var y = Onnx_ValueInfoProto()
        y.name = "y"
        var model = Onnx_ModelProto()
        var opset = Onnx_OperatorSetIdProto()
        opset.version = 17
        model.opsetImport = [opset]
        model.graph.node = [mul, relu]
        model.graph.input = [x]
        model.graph.output = [y]
        model.graph.initializer = [two]
        let url = try KilnCommand.temporaryDirectory().appendingPathComponent("m.onnx")
        try FileIO.writeAtomically(try model.serializedBytes(), to: url.path)
        return url
    }

    @Test func aFreeDimNeedsAnInputShape() throws {
        let model = try writeModel()
        let r = try KilnCommand.run(["check", model.path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("input 'x' dim 0 ('batch') is free"), "stderr: \(r.stderr)")
        let bounded = try KilnCommand.run(["check", model.path, "--input-shape", "x=1..8x3"])
        #expect(bounded.status == 0, "stderr: \(bounded.stderr)")
        #expect(bounded.stdout.contains("symbol batch in 1...8"))
        #expect(bounded.stdout.contains("f32[batch, 3]"))
    }

    @Test func evalAndCompileTakeOnnx() throws {
        let model = try writeModel()
        let dir = model.deletingLastPathComponent()
        let x = dir.appendingPathComponent("x.npy")
        try Npy.write(try Tensor([-1, 1, 2, 3, -4, 5] as [Float], shape: [2, 3]), to: x.path)
        let out = dir.appendingPathComponent("out")
        let e = try KilnCommand.run(["eval", model.path, "--input-shape", "x=2x3", "--input", x.path, "--output-dir", out.path])
        #expect(e.status == 0, "stderr: \(e.stderr)")
        #expect(try Npy.read(path: out.appendingPathComponent("output_0.npy").path).scalars(as: Float.self) == [0, 2, 4, 6, 0, 10])
        let pte = dir.appendingPathComponent("m.pte")
        let c = try KilnCommand.run(["compile", model.path, "--input-shape", "x=1..4x3", "-o", pte.path])
        #expect(c.status == 0, "stderr: \(c.stderr)")
        let r = try KilnCommand.run(["run", pte.path, "--input", x.path, "--output-dir", out.path])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(try Npy.read(path: out.appendingPathComponent("output_0.npy").path).scalars(as: Float.self) == [0, 2, 4, 6, 0, 10])
    }
}
