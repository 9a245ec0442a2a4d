#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Copying the elements of a shape between two strided layouts, byte-wise, for any dtype.
///
/// Strides are in elements (not bytes) and may be any integers, so one helper serves permutes
/// (permuted source strides), slices (a source offset and a stepped stride) and writes into part
/// of a larger tensor (destination strides of the whole).
///
/// ```swift
/// // out = x.permute(1, 0) for a [2, 3] x: walk out's shape [3, 2], reading x at strides [1, 3].
/// StridedCopy.copy(shape: [3, 2], elementSize: 4, from: x, strides: [1, 3], to: out, strides: [2, 1])
/// ```
enum StridedCopy {
    /// Copies every element of `shape` from `source` at `sourceStrides` to `destination` at
    /// `destinationStrides`; each element is `elementSize` bytes.
    ///
    /// Dims of size 1 are dropped and dims that are contiguous in both layouts are merged first,
    /// so a copy that is contiguous on both sides is one `memcpy`.
    static func copy(shape: [Int], elementSize: Int,
                     from source: UnsafeRawPointer, strides sourceStrides: [Int],
                     to destination: UnsafeMutableRawPointer, strides destinationStrides: [Int]) {
        precondition(shape.count == sourceStrides.count && shape.count == destinationStrides.count,
                     "StridedCopy: shape and strides differ in rank")
        // 1. Nothing to copy when any dim is empty.
        if shape.contains(0) { return }

        // 2. Simplify: drop size-1 dims, then merge each dim into the next-inner one when both
        //    layouts step over it as one run.
        var dims: [(size: Int, src: Int, dst: Int)] = []
        dims.reserveCapacity(shape.count)
        for i in shape.indices where shape[i] != 1 {
            let d = (size: shape[i], src: sourceStrides[i], dst: destinationStrides[i])
            if let last = dims.last, last.src == d.src * d.size, last.dst == d.dst * d.size {
                dims[dims.count - 1] = (size: last.size * d.size, src: d.src, dst: d.dst)
            } else {
                dims.append(d)
            }
        }

        // 3. A single element (every dim had size 1).
        guard let inner = dims.last else {
            memcpy(destination, source, elementSize)
            return
        }

        // 4. The innermost dim is a contiguous run on both sides: copy whole runs.
        let runIsContiguous = inner.src == 1 && inner.dst == 1
        let outer = dims.dropLast()
        var index = [Int](repeating: 0, count: outer.count)
        var (srcOffset, dstOffset) = (0, 0)   // element offsets of the current run
        let runs = outer.reduce(1) { $0 * $1.size }
        for _ in 0..<runs {
            if runIsContiguous {
                memcpy(destination + dstOffset * elementSize, source + srcOffset * elementSize,
                       inner.size * elementSize)
            } else {
                copyRun(count: inner.size, elementSize: elementSize,
                        from: source + srcOffset * elementSize, stride: inner.src,
                        to: destination + dstOffset * elementSize, stride: inner.dst)
            }
            // 5. Advance the odometer over the outer dims, innermost first.
            var d = outer.count - 1
            while d >= 0 {
                let dim = outer[outer.startIndex + d]
                index[d] += 1
                srcOffset += dim.src
                dstOffset += dim.dst
                if index[d] < dim.size { break }
                srcOffset -= dim.src * dim.size
                dstOffset -= dim.dst * dim.size
                index[d] = 0
                d -= 1
            }
        }
    }

    /// Copies `count` elements read every `sourceStride` elements to every `destinationStride`
    /// elements, loading the common element sizes as integers.
    private static func copyRun(count: Int, elementSize: Int,
                                from source: UnsafeRawPointer, stride sourceStride: Int,
                                to destination: UnsafeMutableRawPointer, stride destinationStride: Int) {
        switch elementSize {
        case 1: copyRun(UInt8.self, count, source, sourceStride, destination, destinationStride)
        case 2: copyRun(UInt16.self, count, source, sourceStride, destination, destinationStride)
        case 4: copyRun(UInt32.self, count, source, sourceStride, destination, destinationStride)
        case 8: copyRun(UInt64.self, count, source, sourceStride, destination, destinationStride)
        default:
            for j in 0..<count {
                memcpy(destination + j * destinationStride * elementSize,
                       source + j * sourceStride * elementSize, elementSize)
            }
        }
    }

    @inline(__always)
    private static func copyRun<E: FixedWidthInteger>(_ type: E.Type, _ count: Int,
                                                      _ source: UnsafeRawPointer, _ sourceStride: Int,
                                                      _ destination: UnsafeMutableRawPointer, _ destinationStride: Int) {
        let size = MemoryLayout<E>.size
        for j in 0..<count {
            let v = source.loadUnaligned(fromByteOffset: j * sourceStride * size, as: E.self)
            destination.storeBytes(of: v, toByteOffset: j * destinationStride * size, as: E.self)
        }
    }
}
