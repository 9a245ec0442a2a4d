import KilnPTE

/// The payload `GPUCompiler` writes (`Schemas/gpu.fbs`), before serialization.
struct GPUPayloadDraft {
    struct Weight {
        var key: String
        var offset: Int
        var size: Int
    }

    struct Dispatch {
        var shader: Int
        var push: [UInt32]
        var groups: (UInt32, UInt32, UInt32)
    }

    var shaders: [String] = []
    /// Bytes.
    var memorySize = 0
    var weights: [Weight] = []
    /// (offset, size) in bytes.
    var inputs: [(Int, Int)] = []
    var outputs: [(Int, Int)] = []
    var dispatches: [Dispatch] = []

    /// The payload as FlatBuffers bytes with identifier `KGPU`.
    func serialized() -> [UInt8] {
        var b = FlatBufferBuilder()
        func region(_ offset: Int, _ size: Int) -> FlatBufferBuilder.Offset {
            b.startTable()
            b.add(UInt64(offset), default: 0, slot: 0)
            b.add(UInt64(size), default: 0, slot: 1)
            return b.endTable()
        }
        let shaderNames = shaders.map { b.createString($0) }
        let shaderVector = b.createVector(offsets: shaderNames)
        var weightTables: [FlatBufferBuilder.Offset] = []
        for w in weights {
            let key = b.createString(w.key)
            let r = region(w.offset, w.size)
            b.startTable()
            b.add(offset: key, slot: 0)
            b.add(offset: r, slot: 1)
            weightTables.append(b.endTable())
        }
        let weightVector = b.createVector(offsets: weightTables)
        let inputVector = b.createVector(offsets: inputs.map { region($0.0, $0.1) })
        let outputVector = b.createVector(offsets: outputs.map { region($0.0, $0.1) })
        var dispatchTables: [FlatBufferBuilder.Offset] = []
        for d in dispatches {
            let push = b.createVector(d.push)
            b.startTable()
            b.add(UInt32(d.shader), default: 0, slot: 0)
            b.add(offset: push, slot: 1)
            b.add(d.groups.0, default: 0, slot: 2)
            b.add(d.groups.1, default: 0, slot: 3)
            b.add(d.groups.2, default: 0, slot: 4)
            dispatchTables.append(b.endTable())
        }
        let dispatchVector = b.createVector(offsets: dispatchTables)
        b.startTable()
        b.add(UInt32(1), default: 0, slot: 0)
        b.add(offset: shaderVector, slot: 1)
        b.add(UInt64(memorySize), default: 0, slot: 2)
        b.add(offset: weightVector, slot: 3)
        b.add(offset: inputVector, slot: 4)
        b.add(offset: outputVector, slot: 5)
        b.add(offset: dispatchVector, slot: 6)
        let root = b.endTable()
        return b.finish(root: root, fileIdentifier: "KGPU")
    }
}
