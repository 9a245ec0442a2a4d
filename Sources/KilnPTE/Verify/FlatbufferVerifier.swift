import CKilnPTEVerifier

/// Structural check of an untrusted `.pte` flatbuffer before anything reads it.
///
/// Runs the verifier that `flatc` generates from `Schemas/program.fbs` (C++, behind the
/// `CKilnPTEVerifier` shim): root `Program`, identifier `ET12`, every offset, table, vector and
/// string inside the buffer and aligned, nesting at most 64 deep, at most 10,000,000 tables, and
/// only union tags the schema defines. Meaning (indices, enum values, sizes) is checked later by
/// Kiln's semantic checks.
///
/// ```swift
/// if let problem = bytes.withUnsafeBytes(FlatbufferVerifier.verify) { throw PTEError.invalid(problem) }
/// ```
public enum FlatbufferVerifier {
    /// Verifies `bytes` as a `Program` flatbuffer.
    ///
    /// - Parameter bytes: the flatbuffer part of a `.pte` file; trailing bytes (segments) are
    ///   allowed and need no particular alignment.
    /// - Returns: nil when the buffer is valid, else a message starting with
    ///   "flatbuffer verification failed" that names the failed precondition or field.
    public static func verify(_ bytes: UnsafeRawBufferPointer) -> String? {
        let capacity = 512
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { error in
            error.initialize(repeating: 0)
            let valid = kiln_pte_verify(bytes.baseAddress, bytes.count, error.baseAddress, capacity)
            if valid == 1 { return nil }
            let message = String(cString: error.baseAddress!)
            return message.isEmpty ? "flatbuffer verification failed" : message
        }
    }
}
