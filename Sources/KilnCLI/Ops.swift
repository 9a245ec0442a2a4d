import ArgumentParser
import KilnOps

/// `kiln ops`: what the op table holds.
struct Ops: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the ops Kiln knows, or show one op's signature.",
        discussion: """
            Core ops are emitted to .pte as the ExecuTorch operator shown; the others are \
            decomposed into core ops before portable emission.
            """
    )

    @ArgumentParser.Argument(help: "An op name (as written in .kir, e.g. add.Tensor) to show in full.")
    var name: String?

    func run() throws {
        try reportingErrors {
            if let name {
                guard let op = OpTable.schema(named: name) else {
                    throw ValidationError("unknown op '\(name)'; `kiln ops` lists them")
                }
                print(op.signature)
                print("  \(op.summary)")
                print("  .pte: \(op.pte?.description ?? "none (decomposed before portable emission)")")
                return
            }
            let width = OpTable.all.map(\.name.count).max() ?? 0
            for op in OpTable.all {
                let pte = op.pte?.description ?? "(decomposed)"
                print(padded(op.name, width + 2) + padded(pte, 52) + op.summary)
            }
        }
    }
}

/// `text` followed by spaces up to `width` characters.
func padded(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}
