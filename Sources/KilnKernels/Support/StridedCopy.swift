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
/// // out = x.permute(1, 0) for a [2, 3] x: walk out's shape [3, 2], reading x at strides [1, 3]
/// // (each of the three a buffer, such as from withTemporaryInts).
/// StridedCopy.copy(shape: [3, 2], elementSize: 4, from: x, strides: [1, 3], to: out, strides: [2, 1])
/// ```
enum StridedCopy {
    /// Copies every element of `shape` from `source` at `sourceStrides` to `destination` at
    /// `destinationStrides`; each element is `elementSize` bytes.
    ///
    /// Dims of size 1 are dropped and dims that are contiguous in both layouts are merged first,
    /// so a copy that is contiguous on both sides is one `memcpy`. The merged dims and the
    /// odometer live on the stack: the copy allocates nothing.
    static func copy(shape: UnsafeBufferPointer<Int>, elementSize: Int,
                     from source: UnsafeRawPointer, strides sourceStrides: UnsafeBufferPointer<Int>,
                     to destination: UnsafeMutableRawPointer, strides destinationStrides: UnsafeBufferPointer<Int>) {
        precondition(shape.count == sourceStrides.count && shape.count == destinationStrides.count,
                     "StridedCopy: shape and strides differ in rank")
        // 1. Nothing to copy when any dim is empty.
        if shape.contains(0) { return }
        let rank = shape.count
        withTemporaryInts(rank, rank, rank, rank) { sizes, src, dst, index in
            // 2. Simplify: drop size-1 dims, then merge each dim into the next-inner one when both
            //    layouts step over it as one run. The first `count` entries are the merged dims.
            var count = 0
            for i in 0..<rank where shape[i] != 1 {
                let (size, s, d) = (shape[i], sourceStrides[i], destinationStrides[i])
                if count > 0, src[count - 1] == s * size, dst[count - 1] == d * size {
                    sizes[count - 1] *= size
                    (src[count - 1], dst[count - 1]) = (s, d)
                } else {
                    (sizes[count], src[count], dst[count]) = (size, s, d)
                    count += 1
                }
            }

            // 3. A single element (every dim had size 1).
            guard count > 0 else {
                memcpy(destination, source, elementSize)
                return
            }

            // 4. The innermost dim is a contiguous run on both sides: copy whole runs.
            let inner = count - 1
            let runIsContiguous = src[inner] == 1 && dst[inner] == 1
            var (srcOffset, dstOffset) = (0, 0)   // element offsets of the current run
            var runs = 1
            for d in 0..<inner { runs *= sizes[d] }
            for _ in 0..<runs {
                if runIsContiguous {
                    memcpy(destination + dstOffset * elementSize, source + srcOffset * elementSize,
                           sizes[inner] * elementSize)
                } else {
                    copyRun(count: sizes[inner], elementSize: elementSize,
                            from: source + srcOffset * elementSize, stride: src[inner],
                            to: destination + dstOffset * elementSize, stride: dst[inner])
                }
                // 5. Advance the odometer over the outer dims, innermost first.
                var d = inner - 1
                while d >= 0 {
                    index[d] += 1
                    srcOffset += src[d]
                    dstOffset += dst[d]
                    if index[d] < sizes[d] { break }
                    srcOffset -= src[d] * sizes[d]
                    dstOffset -= dst[d] * sizes[d]
                    index[d] = 0
                    d -= 1
                }
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
