import KilnTensor

extension PTEFile {
    /// The largest flatbuffer Kiln writes: FlatBuffers offsets are 32-bit and signed.
    static let maximumFlatbufferSize = Int(Int32.max)

    /// Fills `program.segments` with where ``serialized()`` puts each payload: the first at
    /// offset 0 from the segment base, each next one at the following multiple of
    /// ``segmentAlignment``.
    ///
    /// - Throws: ``PTEError`` `.serialize` when `program.segments` already lists a different
    ///   number of segments than there are payloads.
    public mutating func layOutSegments() throws(PTEError) {
        guard program.segments.isEmpty || program.segments.count == segments.count else {
            throw PTEError(.serialize, "the program lists \(program.segments.count) segments but the file has "
                           + "\(segments.count) payloads", location: "segments")
        }
        var layout: [PTE.DataSegment] = []
        layout.reserveCapacity(segments.count)
        var end: UInt64 = 0
        for payload in segments {
            let offset = Self.aligned(end, Self.segmentAlignment)
            layout.append(PTE.DataSegment(offset: offset, size: UInt64(payload.count)))
            end = offset + UInt64(payload.count)
        }
        program.segments = layout
    }

    /// The file's bytes: the flatbuffer with ExecuTorch's 32-byte extended header after the
    /// file identifier, then, when there are segments, padding to ``segmentAlignment`` and each
    /// segment at its offset (see ``layOutSegments()``). The same file always gives the same
    /// bytes.
    ///
    /// ```swift
    /// let bytes = try PTEFile(program: program, segments: [weights]).serialized()
    /// ```
    ///
    /// - Throws: ``PTEError`` `.serialize` when the segments disagree with `program.segments`
    ///   or the flatbuffer would pass 2 GiB. No semantic checks run here: decoding does those.
    public func serialized() throws(PTEError) -> [UInt8] {
        var file = self
        try file.layOutSegments()
        try Self.checkInlineSize(file.program)
        var flatbuffer = ProgramWriter.flatbuffer(for: file.program)
        let header = ExtendedHeader.length
        guard flatbuffer.count + header <= Self.maximumFlatbufferSize else {
            throw PTEError(.serialize, "the program needs \(flatbuffer.count) bytes, more than FlatBuffers' 2 GiB")
        }
        let programSize = UInt64(flatbuffer.count + header)
        var segmentDataSize: UInt64 = 0
        if let last = file.program.segments.last { segmentDataSize = last.offset + last.size }
        let segmentBase = file.segments.isEmpty ? 0 : Self.aligned(programSize, Self.segmentAlignment)

        // Root offset + 32; identifier; header; the rest of the flatbuffer. 32 is a multiple of
        // every alignment in the buffer (force_align 16 at most), so alignment is preserved.
        let rootOffset = UInt32.load(fromLittleEndian: flatbuffer, at: 0) + UInt32(header)
        var out: [UInt8] = []
        out.reserveCapacity(max(Int(programSize), Int(segmentBase + segmentDataSize)))
        withUnsafeBytes(of: rootOffset.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: flatbuffer[4..<8])
        out.append(contentsOf: ExtendedHeader(programSize: programSize, segmentBaseOffset: segmentBase,
                                              segmentDataSize: segmentDataSize).bytes)
        out.append(contentsOf: flatbuffer[8...])
        flatbuffer = []
        for (segment, payload) in zip(file.program.segments, file.segments) {
            let start = Int(segmentBase + segment.offset)
            out.append(contentsOf: repeatElement(0, count: start - out.count))
            out.append(contentsOf: payload)
        }
        return out
    }

    /// Writes ``serialized()`` to `path` atomically.
    /// - Throws: ``PTEError`` `.serialize`, or `.io` naming the path.
    public func write(to path: String) throws(PTEError) {
        let bytes = try serialized()
        do {
            try FileIO.writeAtomically(bytes, to: path)
        } catch {
            throw PTEError(.io, (error as? TensorError)?.message ?? "\(error)", path: path)
        }
    }

    static func aligned(_ value: UInt64, _ alignment: Int) -> UInt64 {
        let a = UInt64(alignment)
        return (value + a - 1) / a * a
    }

    /// Inline byte data must leave room for 32-bit offsets (checked before building, so the
    /// builder never meets an offset it cannot write).
    private static func checkInlineSize(_ program: PTE.Program) throws(PTEError) {
        var total = 0
        for buffer in program.constantBuffer { total += buffer.storage.count }
        for data in program.backendDelegateData { total += data.data.count }
        for plan in program.executionPlan {
            for delegate in plan.delegates {
                for spec in delegate.compileSpecs { total += spec.value.count }
            }
        }
        guard total < maximumFlatbufferSize / 2 else {
            throw PTEError(.serialize, "\(total) bytes of inline data do not fit a flatbuffer; use segments")
        }
    }
}

extension UInt32 {
    static func load(fromLittleEndian bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes.withUnsafeBytes { UInt32.load(from: $0, at: offset) }
    }
}
