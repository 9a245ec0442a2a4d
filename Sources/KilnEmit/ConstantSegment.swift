#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnPTE

/// The constant segment being written: every constant tensor's bytes, each starting at a
/// multiple of ``alignment``, and `program.constant_segment.offsets`, whose entry 0 is reserved
/// (offset 0, no bytes) as in ExecuTorch; a constant's `data_buffer_idx` indexes these offsets.
///
/// Constants with identical bytes share one entry (ExecuTorch does the same, by hash). Padding
/// goes between tensors, not after the last, so the segment ends where the last tensor does.
struct ConstantSegment {
    /// Each tensor starts at a multiple of this.
    let alignment: Int
    /// The segment's bytes.
    private(set) var bytes: [UInt8] = []
    /// Start of each entry in ``bytes``; entry 0 is the reserved empty one.
    private(set) var offsets: [UInt64] = [0]
    /// Bytes of each entry, parallel to ``offsets``.
    private var lengths: [Int] = [0]
    /// Constants added, counting those that shared an earlier entry.
    private(set) var tensorCount = 0
    /// Bytes of the constants added, counting shared ones once per constant.
    private(set) var tensorBytes = 0
    /// Entries by a cheap key (length, first and last bytes); candidates are compared in full.
    private var candidates: [Key: [Int]] = [:]

    init(alignment: Int, reserving capacity: Int = 0) {
        self.alignment = alignment
        bytes.reserveCapacity(capacity)
    }

    /// Adds one constant's bytes.
    /// - Returns: its index into ``offsets`` (1 or more).
    mutating func add(_ data: UnsafeRawBufferPointer) -> Int {
        tensorCount += 1
        tensorBytes += data.count
        let key = Key(data)
        for index in candidates[key, default: []] where equal(index, data) {
            return index
        }
        let start = (bytes.count + alignment - 1) / alignment * alignment
        bytes.append(contentsOf: repeatElement(0, count: start - bytes.count))
        bytes.append(contentsOf: data)
        offsets.append(UInt64(start))
        lengths.append(data.count)
        candidates[key, default: []].append(offsets.count - 1)
        return offsets.count - 1
    }

    /// Bytes in the segment that padding takes.
    var paddingBytes: Int { bytes.count - lengths.reduce(0, +) }

    private func equal(_ index: Int, _ data: UnsafeRawBufferPointer) -> Bool {
        guard lengths[index] == data.count else { return false }
        guard data.count > 0 else { return true }
        return bytes.withUnsafeBytes { all in
            memcmp(all.baseAddress! + Int(offsets[index]), data.baseAddress!, data.count) == 0
        }
    }

    /// Length plus up to 32 leading and 32 trailing bytes: cheap to compute for any size, and
    /// different for almost all distinct weights.
    private struct Key: Hashable {
        var count: Int
        var head: [UInt8]
        var tail: [UInt8]

        init(_ data: UnsafeRawBufferPointer) {
            count = data.count
            head = Array(data.prefix(32))
            tail = Array(data.suffix(32))
        }
    }
}
