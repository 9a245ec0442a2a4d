import KilnPTE

/// The GPU delegate payload (`Schemas/gpu.fbs`) as read and checked by the runtime: every
/// offset, size, shader index and workgroup count is range-checked, and messages name the field
/// and index at fault.
///
/// ```swift
/// let payload = try GPUPayload(decoding: bytes)
/// print(payload.dispatches.count, payload.memorySize)
/// ```
public struct GPUPayload: Sendable {
    /// The file identifier at bytes 4..<8.
    public static let identifier = "KGPU"
    /// The payload version this runtime reads.
    public static let version: UInt32 = 1
    /// The most push-constant words a dispatch may carry (Vulkan guarantees 128 bytes).
    public static let maxPushWords = 32

    /// A byte range of the device buffer.
    public struct Region: Equatable, Sendable {
        public var offset: Int
        public var size: Int
        public init(offset: Int, size: Int) {
            self.offset = offset
            self.size = size
        }
    }

    /// A weight uploaded from the program's named data `key`.
    public struct Weight: Equatable, Sendable {
        public var key: String
        public var region: Region
    }

    /// One compute dispatch.
    public struct Dispatch: Equatable, Sendable {
        public var shader: Int
        public var push: [UInt32]
        public var groups: [UInt32]
    }

    public var shaders: [String]
    public var memorySize: Int
    public var weights: [Weight]
    public var inputs: [Region]
    public var outputs: [Region]
    public var dispatches: [Dispatch]

    /// Decodes and checks a payload.
    /// - Throws: ``GPURuntimeError`` `.invalidPayload` naming the field (and index) at fault.
    public init(decoding bytes: UnsafeRawBufferPointer) throws(GPURuntimeError) {
        do {
            guard bytes.count >= 8 else { throw GPURuntimeError(.invalidPayload, "payload of \(bytes.count) bytes is too short") }
            guard FBTable.hasIdentifier(Self.identifier, in: bytes) else {
                let id = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[4..<8]), as: UTF8.self)
                throw GPURuntimeError(.invalidPayload, "payload identifier is '\(id)', expected '\(Self.identifier)'")
            }
            let root = try FBTable.root(of: bytes)
            let version: UInt32 = try root.scalar(0, default: 0, name: "version")
            guard version == Self.version else {
                throw GPURuntimeError(.invalidPayload, "payload version \(version), this runtime reads \(Self.version)")
            }
            let memory: UInt64 = try root.scalar(2, default: 0, name: "memory_size")
            guard memory > 0, memory % 4 == 0, memory <= UInt64(UInt32.max) * 4 else {
                throw GPURuntimeError(.invalidPayload, "memory_size \(memory) is not a positive multiple of 4 below 16 GiB")
            }
            memorySize = Int(memory)
            shaders = []
            if let names = try root.tables(1, name: "shaders") {
                for i in 0..<names.count {
                    let name = try names.string(at: i)
                    guard GPUShaderLibrary.spirv(name) != nil else {
                        throw GPURuntimeError(.invalidPayload, "shaders[\(i)] '\(name)' is not a shader of this runtime "
                                              + "(it has: \(GPUShaderLibrary.names.joined(separator: ", ")))")
                    }
                    shaders.append(name)
                }
            }
            weights = []
            if let list = try root.tables(3, name: "weights") {
                for i in 0..<list.count {
                    let t = try list.table(at: i)
                    guard let key = try t.string(0, name: "key") else {
                        throw GPURuntimeError(.invalidPayload, "weights[\(i)] has no key")
                    }
                    let region = try Self.region(t.table(1, name: "region"), "weights[\(i)].region", memory: memorySize)
                    weights.append(Weight(key: key, region: region))
                }
            }
            inputs = try Self.regions(root, 4, "inputs", memory: memorySize)
            outputs = try Self.regions(root, 5, "outputs", memory: memorySize)
            dispatches = []
            if let list = try root.tables(6, name: "dispatches") {
                for i in 0..<list.count {
                    let t = try list.table(at: i)
                    let shader: UInt32 = try t.scalar(0, default: 0, name: "shader")
                    guard Int(shader) < shaders.count else {
                        throw GPURuntimeError(.invalidPayload,
                                              "dispatches[\(i)].shader \(shader) is out of range (\(shaders.count) shaders)")
                    }
                    let push = try t.vector(1, of: UInt32.self, name: "push").map { Array($0) } ?? []
                    guard push.count <= Self.maxPushWords else {
                        throw GPURuntimeError(.invalidPayload,
                                              "dispatches[\(i)].push has \(push.count) words, at most \(Self.maxPushWords)")
                    }
                    var groups: [UInt32] = []
                    for (slot, axis) in [(2, "x"), (3, "y"), (4, "z")] {
                        let g: UInt32 = try t.scalar(slot, default: 0, name: "groups")
                        guard g >= 1, g <= 65_535 else {
                            throw GPURuntimeError(.invalidPayload, "dispatches[\(i)].groups_\(axis) is \(g), expected 1...65535")
                        }
                        groups.append(g)
                    }
                    dispatches.append(Dispatch(shader: Int(shader), push: push, groups: groups))
                }
            }
        } catch let e as GPURuntimeError {
            throw e
        } catch {
            throw GPURuntimeError(.invalidPayload, "malformed payload: \(error)")
        }
    }

    private static func regions(_ root: FBTable, _ slot: Int, _ field: String, memory: Int) throws -> [Region] {
        guard let list = try root.tables(slot, name: "regions") else { return [] }
        return try (0..<list.count).map { i in try region(list.table(at: i), "\(field)[\(i)]", memory: memory) }
    }

    private static func region(_ table: FBTable?, _ field: String, memory: Int) throws -> Region {
        guard let table else { throw GPURuntimeError(.invalidPayload, "\(field) is missing") }
        let offset: UInt64 = try table.scalar(0, default: 0, name: "offset")
        let size: UInt64 = try table.scalar(1, default: 0, name: "size")
        guard offset % 4 == 0, size % 4 == 0, offset <= UInt64(memory), size <= UInt64(memory) - offset else {
            throw GPURuntimeError(.invalidPayload,
                                  "\(field) (offset \(offset), \(size) bytes) is misaligned or outside the \(memory)-byte buffer")
        }
        return Region(offset: Int(offset), size: Int(size))
    }
}
