import ArgumentParser
import KilnPartition

/// `--backends LIST|auto` as the compile, plan and compare commands read it.
struct BackendSelection {
    var entries: [BackendCatalog.Entry]
    var isAuto: Bool
    /// Backends `auto` left out because this build has no compiler for them.
    var skipped: [String]

    static let help = ArgumentHelp(
        "Backends to delegate to, in the order they claim nodes (comma-separated), or `auto` to let the "
            + "descriptors' cost figures choose per region. `kiln backends` lists them.",
        valueName: "LIST|auto")

    /// Checks the syntax: names separated by commas, or `auto` alone.
    static func validate(_ text: String) throws {
        let names = split(text)
        guard !names.isEmpty else { throw ValidationError("--backends needs at least one backend name, or auto") }
        if names.contains("auto") && names.count > 1 {
            throw ValidationError("--backends auto chooses among every backend; it cannot be combined with names")
        }
    }

    static func split(_ text: String) -> [String] {
        text.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
    }

    /// The registered backends `text` names. With `needsCompiler`, a named backend without a
    /// compiler is an error ("npu: no compiler in this build") and `auto` skips such backends.
    static func resolve(_ text: String, needsCompiler: Bool) throws -> BackendSelection {
        KilnBackends.registerAll()
        let names = split(text)
        if names == ["auto"] {
            let all = BackendCatalog.shared.all
            let usable = needsCompiler ? all.filter { $0.compiler != nil } : all
            let skipped = all.filter { e in !usable.contains { $0.descriptor.name == e.descriptor.name } }.map(\.descriptor.name)
            return BackendSelection(entries: usable, isAuto: true, skipped: skipped)
        }
        let entries = try BackendCatalog.shared.resolve(names)
        if needsCompiler, let missing = entries.first(where: { $0.compiler == nil }) {
            throw PartitionError(.noCompiler, "\(missing.descriptor.name): no compiler in this build "
                                 + "(its descriptor is here, so `kiln plan --backends \(missing.descriptor.name)` shows what it would take)")
        }
        return BackendSelection(entries: entries, isAuto: false, skipped: [])
    }
}
