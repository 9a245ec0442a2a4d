#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser

/// Writes `message` and (unless `newline` is false) a newline to standard error.
func printError(_ message: String, newline: Bool = true) {
    var text = message
    if newline && !text.hasSuffix("\n") { text += "\n" }
    _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
}

/// Runs `body`; a thrown error (bad input, not bad usage) is printed to stderr as is, and the
/// command exits with status 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        let text = "\(error)"
        printError(text.hasPrefix("error:") || text.contains(": error: ") || text.hasPrefix("/") ? text : "error: \(text)")
        throw ExitCode(1)
    }
}
