import ArgumentParser
import KilnCapture
import KilnIR

/// Reading the MODEL argument of check, eval and compile: a `.kir` text graph or an `.onnx`
/// model (imported, with `--input-shape` fixing or bounding its free input dims).
enum ModelFile {
    /// The file kinds MODEL may be, for usage errors.
    static let kinds = ".kir or .onnx"

    /// Throws a usage error unless `path` names a model Kiln reads, or when `--input-shape`
    /// is given for a model that is not ONNX.
    static func validate(_ path: String, inputShapes: [String]) throws {
        guard path.hasSuffix(".kir") || path.hasSuffix(".onnx") else {
            throw ValidationError("'\(path)': expected a \(kinds) file")
        }
        if !inputShapes.isEmpty {
            guard path.hasSuffix(".onnx") else {
                throw ValidationError("--input-shape applies to .onnx models; a .kir file declares its own shapes")
            }
            for spec in inputShapes {
                do { _ = try ONNXInputDim.parse(spec) } catch { throw ValidationError(error.message) }
            }
        }
    }

    /// The graph in `path`.
    static func read(_ path: String, inputShapes: [String]) throws -> Graph {
        guard path.hasSuffix(".onnx") else { return try KIRFile.read(path: path) }
        var shapes: [String: [ONNXInputDim]] = [:]
        for spec in inputShapes {
            let (name, dims) = try ONNXInputDim.parse(spec)
            shapes[name] = dims
        }
        return try ONNXImporter.import(path: path, inputShapes: shapes)
    }

    /// `--input-shape` help, shared by the commands that read models.
    static let inputShapeHelp = ArgumentHelp(
        "For an .onnx model: the dims of input NAME, fixing its free dims (1x3x224x224) or bounding one with a range "
            + "(1x1..512x256). Repeat for each input with free dims.",
        valueName: "NAME=DIMS")
}
