/// A whole `.pte` file read in place: the runtime's way in. Nothing is copied; every view and
/// byte range points into `file`, which must outlive the view (map it, or keep the array).
///
/// Opening verifies the file first (the FlatBuffers verifier, then ``SemanticChecks``), so
/// indices read from a verified view are in range; readers still check every offset and throw
/// rather than trap.
///
/// ```swift
/// let program = try PTEProgramView(file: bytes, path: "model.pte")
/// let plan = try program.method(named: "forward")
/// let weights = try program.constantData(bufferIndex: 1, byteCount: 64)
/// ```
public struct PTEProgramView {
    /// The whole file.
    public let file: UnsafeRawBufferPointer
    /// The file's name, for messages.
    public let path: String?
    /// The extended header; nil in files written without one (then there are no segments).
    public let header: ExtendedHeader?
    /// The flatbuffer part of the file (with the header), where all program offsets point.
    public let flatbuffer: UnsafeRawBufferPointer

    public let version: UInt32
    public let executionPlans: PTETableList<PTEExecutionPlanView>
    /// Legacy inline constants (`constant_buffer`); entry 0 is reserved.
    public let constantBuffers: PTETableList<PTEInlineDataView>
    /// Inline delegate payloads (`backend_delegate_data`).
    public let delegateData: PTETableList<PTEInlineDataView>
    public let segments: PTETableList<PTE.DataSegment>
    public let constantSegment: PTESubsegmentOffsetsView?
    public let mutableDataSegments: PTETableList<PTESubsegmentOffsetsView>
    public let namedData: PTETableList<PTE.NamedData>

    /// The file identifier Kiln reads and writes.
    public static let fileIdentifier: [UInt8] = Array("ET12".utf8)

    /// Opens `file`, verifying it unless `verify` is false (for files already verified).
    ///
    /// - Parameters:
    ///   - file: the whole `.pte` file; it must stay valid as long as the view is used.
    ///   - path: the file's name, for messages.
    ///   - verify: run the FlatBuffers verifier and ``SemanticChecks`` first.
    /// - Throws: ``PTEError``: `.truncated`, `.identifier`, `.header` for framing problems,
    ///   `.flatbuffer`/`.outOfRange`/`.unionTag`/`.enumValue` for structure, `.index`/`.semantic`
    ///   for meaning. The error names `path` and the place in the program.
    public init(file: UnsafeRawBufferPointer, path: String? = nil, verify: Bool = true) throws(PTEError) {
        do {
            try self.init(unverified: file, path: path, verify: verify)
            if verify { try SemanticChecks.check(self) }
        } catch {
            throw error.inFile(path)
        }
    }

    private init(unverified file: UnsafeRawBufferPointer, path: String?, verify: Bool) throws(PTEError) {
        self.file = file
        self.path = path
        guard file.count >= 8 else {
            throw PTEError(.truncated, "the file has \(file.count) bytes; a .pte file starts with at least 8")
        }
        let identifier = Array(file[4..<8])
        guard identifier == Self.fileIdentifier else {
            let shown = identifier.map { (32..<127).contains($0) ? String(UnicodeScalar($0)) : "\\x" + hex2($0) }.joined()
            throw PTEError(.identifier, "file identifier is \"\(shown)\", expected \"ET12\" (not an ExecuTorch program)")
        }
        header = try ExtendedHeader(parsing: file)
        if let header {
            flatbuffer = UnsafeRawBufferPointer(rebasing: file[0..<Int(header.programSize)])
        } else {
            flatbuffer = file
        }
        if verify, let problem = FlatbufferVerifier.verify(flatbuffer) {
            throw PTEError(.flatbuffer, problem)
        }
        let root = try FBTable.root(of: flatbuffer)
        version = try root.scalar(Slot.Program.version, default: 0, name: "version")
        executionPlans = try PTETableList(root, Slot.Program.executionPlan, "execution_plan", in: "")
        constantBuffers = try PTETableList(root, Slot.Program.constantBuffer, "constant_buffer", in: "")
        delegateData = try PTETableList(root, Slot.Program.backendDelegateData, "backend_delegate_data", in: "")
        segments = try PTETableList(root, Slot.Program.segments, "segments", in: "")
        if let table = try root.table(Slot.Program.constantSegment, name: "constant_segment") {
            do {
                constantSegment = try PTESubsegmentOffsetsView(table: table, path: PTEElementPath(list: "", index: 0))
            } catch {
                throw error.at("constant_segment")
            }
        } else {
            constantSegment = nil
        }
        mutableDataSegments = try PTETableList(root, Slot.Program.mutableDataSegments, "mutable_data_segments", in: "")
        namedData = try PTETableList(root, Slot.Program.namedData, "named_data", in: "")
    }

    /// The method called `name`, or nil.
    public func method(named name: String) throws(PTEError) -> PTEExecutionPlanView? {
        for index in 0..<executionPlans.count {
            let plan = try located { () throws(PTEError) in try executionPlans.element(at: index) }
            if plan.name == name { return plan }
        }
        return nil
    }

    /// Where segment `index` lies in the file.
    /// - Throws: ``PTEError`` `.index` for a bad index, `.truncated` when it lies past the file's end.
    public func segmentRange(_ index: Int) throws(PTEError) -> Range<Int> {
        try located { () throws(PTEError) -> Range<Int> in
            let segment = try segments.element(at: index)
            guard let header, header.segmentBaseOffset != 0 else {
                throw PTEError(.header, "the file has segments but no segment base offset in its extended header",
                               location: "segments[\(index)]")
            }
            let (start, overflow1) = header.segmentBaseOffset.addingReportingOverflow(segment.offset)
            let (end, overflow2) = start.addingReportingOverflow(segment.size)
            guard !overflow1, !overflow2, end <= UInt64(file.count) else {
                throw PTEError(.truncated, "segment at offset \(segment.offset) with \(segment.size) bytes is past "
                               + "the end of the file (\(file.count) bytes, segments from \(header.segmentBaseOffset))",
                               location: "segments[\(index)]")
            }
            return Int(start)..<Int(end)
        }
    }

    /// The bytes of segment `index` (in the file).
    public func segmentBytes(_ index: Int) throws(PTEError) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file[try segmentRange(index)])
    }

    /// The `byteCount` bytes of constant `bufferIndex` (a tensor's `data_buffer_idx`): from the
    /// constant segment, or from the legacy inline `constant_buffer` when there is no segment.
    /// - Throws: ``PTEError`` `.index` when the index is out of range, `.semantic` when the data
    ///   does not fit.
    public func constantData(bufferIndex: Int, byteCount: Int) throws(PTEError) -> UnsafeRawBufferPointer {
        try located { () throws(PTEError) -> UnsafeRawBufferPointer in
            if let constantSegment, !constantSegment.offsets.isEmpty {
                return try subsegment(constantSegment, bufferIndex, byteCount, "constant_segment")
            }
            guard !constantBuffers.isEmpty else {
                throw PTEError(.index, "constant \(bufferIndex) is requested but the program has no constant data",
                               location: "constant_segment")
            }
            let bytes = try constantBuffers.element(at: bufferIndex).bytes
            guard byteCount >= 0, byteCount <= bytes.count else {
                throw PTEError(.semantic, "\(byteCount) bytes are needed but the buffer has \(bytes.count)",
                               location: "constant_buffer[\(bufferIndex)]")
            }
            return UnsafeRawBufferPointer(rebasing: bytes[0..<byteCount])
        }
    }

    /// The `byteCount` bytes of the initial value `bufferIndex` in `mutable_data_segments[segmentsIndex]`.
    public func mutableData(segmentsIndex: Int, bufferIndex: Int, byteCount: Int) throws(PTEError) -> UnsafeRawBufferPointer {
        try located { () throws(PTEError) -> UnsafeRawBufferPointer in
            let offsets = try mutableDataSegments.element(at: segmentsIndex)
            return try subsegment(offsets, bufferIndex, byteCount, "mutable_data_segments[\(segmentsIndex)]")
        }
    }

    private func subsegment(_ s: PTESubsegmentOffsetsView, _ bufferIndex: Int, _ byteCount: Int,
                            _ name: String) throws(PTEError) -> UnsafeRawBufferPointer {
        guard bufferIndex >= 0, bufferIndex < s.offsets.count else {
            throw PTEError(.index, "buffer index \(bufferIndex) is out of range 0..<\(s.offsets.count)",
                           location: name + ".offsets")
        }
        let segment = try segmentBytes(Int(s.segmentIndex))
        let offset = s.offsets[bufferIndex]
        let (end, overflow) = offset.addingReportingOverflow(UInt64(max(byteCount, 0)))
        guard byteCount >= 0, !overflow, end <= UInt64(segment.count) else {
            throw PTEError(.semantic, "\(byteCount) bytes at offset \(offset) do not fit segment \(s.segmentIndex) "
                           + "(\(segment.count) bytes)", location: name + ".offsets[\(bufferIndex)]")
        }
        return UnsafeRawBufferPointer(rebasing: segment[Int(offset)..<Int(end)])
    }

    /// A delegate's payload: inline in the flatbuffer or in a segment.
    public func delegatePayload(_ reference: PTE.BackendDelegateDataReference) throws(PTEError) -> UnsafeRawBufferPointer {
        switch reference.location {
        case .inline:
            return try located { () throws(PTEError) in try delegateData.element(at: Int(reference.index)).bytes }
        case .segment:
            return try segmentBytes(Int(reference.index))
        }
    }

    /// The bytes of the named data `key` (in its segment), or nil when no entry has that key.
    public func namedData(key: String) throws(PTEError) -> UnsafeRawBufferPointer? {
        for index in 0..<namedData.count {
            let entry = try located { () throws(PTEError) in try namedData.element(at: index) }
            if entry.key == key { return try segmentBytes(Int(entry.segmentIndex)) }
        }
        return nil
    }

    /// Runs `body`, naming this file in any error.
    private func located<T>(_ body: () throws(PTEError) -> T) throws(PTEError) -> T {
        do {
            return try body()
        } catch {
            throw error.inFile(path)
        }
    }
}

/// `Buffer` or `BackendDelegateInlineData`: bytes inside the flatbuffer.
public struct PTEInlineDataView: PTETableElement {
    public let bytes: UnsafeRawBufferPointer

    public init(table: FBTable, path: PTEElementPath) throws(PTEError) {
        let name: StaticString = path.list == "constant_buffer" ? "storage" : "data"
        bytes = try table.bytes(Slot.Buffer.storage, name: name) ?? UnsafeRawBufferPointer(start: nil, count: 0)
    }
}

/// Offsets of sub-blobs in one segment (the constant segment, a mutable data segment).
public struct PTESubsegmentOffsetsView: PTETableElement {
    public let segmentIndex: UInt32
    public let offsets: FBVector<UInt64>

    public init(table: FBTable, path: PTEElementPath) throws(PTEError) {
        segmentIndex = try table.scalar(Slot.SubsegmentOffsets.segmentIndex, default: 0, name: "segment_index")
        offsets = try table.vector(Slot.SubsegmentOffsets.offsets, name: "offsets") ?? FBVector(emptyIn: table.buffer)
    }
}

extension PTE.DataSegment: PTETableElement {
    public init(table: FBTable, path: PTEElementPath) throws(PTEError) {
        self.init(offset: try table.scalar(Slot.DataSegment.offset, default: 0, name: "offset"),
                  size: try table.scalar(Slot.DataSegment.size, default: 0, name: "size"))
    }
}

extension PTE.NamedData: PTETableElement {
    public init(table: FBTable, path: PTEElementPath) throws(PTEError) {
        self.init(key: try table.string(Slot.NamedData.key, name: "key") ?? "",
                  segmentIndex: try table.scalar(Slot.NamedData.segmentIndex, default: 0, name: "segment_index"))
    }
}

func hex2(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}
