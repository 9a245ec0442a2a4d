#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and atomic writes, shared by every Kiln file format (`.npy`, `.kir`, `.pte`).
public enum FileIO {
    /// Writes `bytes` to a fresh temporary file beside `path`, syncs it and renames it over `path`;
    /// removes the temporary file on any failure.
    public static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        func reason() -> String { String(cString: strerror(errno)) }
        var tempPath = ""
        var fd: Int32 = -1
        for _ in 0..<8 {
            tempPath = "\(path).tmp-\(getpid())-\(String(UInt32.random(in: .min ... .max), radix: 16))"
            fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else {
            throw TensorError(.io, "cannot create temporary file \(tempPath): \(reason())", path: path)
        }
        var failure: String? = bytes.withUnsafeBytes { raw -> String? in
            guard let base = raw.baseAddress else { return nil }
            var done = 0
            while done < raw.count {
                let n = write(fd, base + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return "cannot write \(tempPath): \(reason())"
                }
                done += n
            }
            return nil
        }
        if failure == nil, fsync(fd) != 0 { failure = "cannot sync \(tempPath): \(reason())" }
        if close(fd) != 0, failure == nil { failure = "cannot close \(tempPath): \(reason())" }
        if failure == nil, rename(tempPath, path) != 0 { failure = "cannot rename \(tempPath) into place: \(reason())" }
        if let failure {
            unlink(tempPath)
            throw TensorError(.io, failure, path: path)
        }
    }

    /// The whole contents of the file at `path`.
    /// - Throws: ``TensorError`` of kind `.io` naming the path.
    public static func read(path: String) throws -> [UInt8] {
        let file = try MappedFile(path: path)
        return Array(file.bytes)
    }

    /// Creates the folder `path` and any missing parents (like `mkdir -p`); an existing folder is fine.
    /// - Throws: ``TensorError`` of kind `.io` naming the path.
    public static func createDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part + "/"
            if mkdir(prefix, 0o777) != 0 && errno != EEXIST {
                throw TensorError(.io, "cannot create folder \(prefix): \(String(cString: strerror(errno)))", path: path)
            }
        }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw TensorError(.io, "not a folder", path: path)
        }
    }

    /// True when `path` names an existing file or directory.
    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }
}
