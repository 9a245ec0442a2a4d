import KilnOps
import KilnTensor

/// Reads the `.kir` text form into a verified ``Graph``.
///
/// Errors give `file:line:column` and what was expected:
/// `mlp.kir:7:23: error: expected ')' after the arguments of linear, found ':'`.
///
/// ```swift
/// let g = try KIRParser.parse(text, file: "mlp.kir")
/// ```
public enum KIRParser {
    /// Opens the sidecar file a `.kir` names (relative names are resolved by the caller).
    public typealias SidecarResolver = (String) throws -> MappedFile

    /// Parses and verifies `text`. `sidecar` opens the file named by a `sidecar "..."` line;
    /// without it, text that refers to a sidecar is an error.
    public static func parse(_ text: String, file: String? = nil,
                             sidecar: SidecarResolver? = nil) throws(IRError) -> Graph {
        do {
            var lexer = Lexer(text)
            var parser = Parser(tokens: try lexer.tokenize(), resolver: sidecar)
            return try parser.module()
        } catch {
            var e = error
            if e.file == nil { e.file = file }
            throw e
        }
    }
}

/// One argument as written, before it is checked against its parameter's kind.
fileprivate indirect enum RawArgument {
    case value(String)
    case list([(RawArgument, Token)])
    case int(Int)
    case float(Double)
    case bool(Bool)
    case none
    case word(String)
    case string(String)
}

/// The recursive-descent reader behind ``KIRParser``; constants are read in Parser+Constants.swift.
struct Parser {
    var tokens: [Token]
    var position = 0
    let resolver: KIRParser.SidecarResolver?
    var builder = GraphBuilder(name: "")
    var valuesByName: [String: ValueID] = [:]
    var symbols: [String: Symbol] = [:]
    var sidecarName: String?
    var sidecarToken: Token?
    var sidecarFile: MappedFile?
    var handles: Set<Int> = []
    /// Open lists and parentheses around the current token.
    var nesting = 0

    /// Lists and dim expressions nest at most this deep; deeper text would exhaust the stack.
    static let maxNesting = 64

    init(tokens: [Token], resolver: KIRParser.SidecarResolver?) {
        self.tokens = tokens
        self.resolver = resolver
    }

    // MARK: Token helpers

    var current: Token { tokens[position] }

    mutating func take() -> Token {
        let t = tokens[position]
        if position < tokens.count - 1 { position += 1 }
        return t
    }

    func error(_ kind: IRError.Kind, _ message: String, at token: Token? = nil) -> IRError {
        let t = token ?? current
        return IRError(kind, message, line: t.line, column: t.column)
    }

    func expected(_ what: String, _ context: String) -> IRError {
        error(.expectedToken, "expected \(what) \(context), found \(current.display)")
    }

    mutating func accept(_ p: String) -> Bool {
        if current.kind == .punct(p) { _ = take(); return true }
        return false
    }

    mutating func expect(_ p: String, _ context: String) throws(IRError) {
        guard accept(p) else { throw expected("'\(p)'", context) }
    }

    mutating func acceptWord(_ w: String) -> Bool {
        if current.kind == .identifier(w) { _ = take(); return true }
        return false
    }

    mutating func expectWord(_ w: String, _ context: String) throws(IRError) {
        guard acceptWord(w) else { throw expected("'\(w)'", context) }
    }

    mutating func identifier(_ context: String) throws(IRError) -> String {
        guard case .identifier(let s) = current.kind else { throw expected("a name", context) }
        _ = take()
        return s
    }

    mutating func integer(_ context: String) throws(IRError) -> Int {
        let negative = accept("-")
        switch current.kind {
        case .integer(let v):
            _ = take()
            return negative ? -v : v
        case .hugeInteger(let s):
            if negative, s == Parser.intMinMagnitude {
                _ = take()
                return Int.min
            }
            throw error(.badNumber, "integer \(negative ? "-" : "")\(s) does not fit in 64 bits")
        default:
            throw expected("an integer", context)
        }
    }

    /// The digits of `-Int.min`, which lex as a huge integer but are a valid 64-bit value after '-'.
    static let intMinMagnitude = "9223372036854775808"

    /// Enters one more level of nesting (a list, a parenthesis, a floordiv) for the caller's scope.
    mutating func enterNesting(_ context: String) throws(IRError) {
        guard nesting < Parser.maxNesting else {
            throw expected("at most \(Parser.maxNesting) levels of nesting", context)
        }
        nesting += 1
    }

    mutating func valueName(_ context: String) throws(IRError) -> (String, Token) {
        guard case .value(let name) = current.kind else { throw expected("a value name like %x", context) }
        return (name, take())
    }

    // MARK: Module

    mutating func module() throws(IRError) -> Graph {
        if acceptWord("kir") {
            let t = current
            let version = try integer("after 'kir'")
            guard version == 1 else {
                throw error(.badVersion, "this Kiln reads .kir version 1, the file is version \(version)", at: t)
            }
        }
        while true {
            if current.kind == .identifier("sidecar") {
                sidecarToken = take()
                guard case .string(let name) = current.kind else { throw expected("the sidecar file name as a string", "after 'sidecar'") }
                _ = take()
                sidecarName = name
            } else if acceptWord("symbol") {
                try symbolDeclaration()
            } else {
                break
            }
        }
        try expectWord("graph", "to start the graph (or 'kir', 'sidecar', 'symbol' before it)")
        guard case .global(let name) = current.kind else { throw expected("the graph name like @forward", "after 'graph'") }
        _ = take()
        let declared = builder.graph.symbols
        builder = GraphBuilder(name: name)
        for s in declared { builder.symbol(s.name, range: s.range) }
        try expect("(", "after the graph name")
        if !accept(")") {
            repeat {
                let (input, t) = try valueName("in the graph's inputs")
                try expect(":", "after input %\(input)")
                let type = try tensorType("of input %\(input)")
                try define(input, at: t) { (b: inout GraphBuilder) throws(IRError) in [try b.input(input, type)] }
            } while accept(",")
            try expect(")", "after the graph's inputs")
        }
        try expect("{", "to open the graph body")
        while !accept("}") {
            if current.kind == .end { throw expected("'}'", "to close the graph body") }
            if acceptWord("return") {
                var outputs: [ValueID] = []
                repeat {
                    let (name, t) = try valueName("after 'return'")
                    guard let id = valuesByName[name] else {
                        throw error(.unknownValue, "%\(name) is not defined", at: t)
                    }
                    outputs.append(id)
                } while accept(",")
                builder.output(outputs)
                guard current.kind == .punct("}") else { throw expected("'}'", "after the return statement") }
                continue
            }
            try statement()
        }
        guard current.kind == .end else { throw expected("end of file", "after the graph") }
        let graph = builder.graph
        if graph.outputs.isEmpty {
            throw error(.noOutputs, "graph @\(graph.name) has no 'return'", at: tokens[Swift.max(position - 1, 0)])
        }
        try Verifier.verify(graph)
        return graph
    }

    mutating func symbolDeclaration() throws(IRError) {
        let t = current
        let name = try identifier("after 'symbol'")
        try expectWord("in", "after symbol \(name)")
        let lo = try integer("as the smallest size of \(name)")
        try expect("...", "between the bounds of \(name)")
        let hi = try integer("as the largest size of \(name)")
        guard lo >= 0, lo <= hi else {
            throw error(.symbolRange, "symbol \(name) has range \(lo)...\(hi); expected 0 <= lower <= upper", at: t)
        }
        guard symbols[name] == nil else { throw error(.duplicateSymbol, "symbol \(name) is declared twice", at: t) }
        symbols[name] = Symbol(name, range: lo...hi)
        builder.symbol(name, range: lo...hi)
    }

    /// Runs a builder step that defines values, recording their names for later lookup.
    mutating func define(_ name: String, at token: Token,
                         _ step: (inout GraphBuilder) throws(IRError) -> [ValueID]) throws(IRError) {
        guard valuesByName[name] == nil else {
            throw error(.duplicateName, "value %\(name) is defined more than once", at: token)
        }
        do {
            for id in try step(&builder) { valuesByName[builder.graph[id].name] = id }
        } catch {
            var e = error
            e.line = token.line
            e.column = token.column
            throw e
        }
    }

    // MARK: Statements

    mutating func statement() throws(IRError) {
        var results: [(String, Token)] = []
        repeat {
            let r = try valueName("to start a statement (or 'return')")
            if let earlier = results.first(where: { $0.0 == r.0 }) ?? valuesByName[r.0].map({ _ in r }) {
                throw error(.duplicateName, "value %\(earlier.0) is defined more than once", at: r.1)
            }
            results.append(r)
        } while accept(",")
        try expect("=", "after the result names")
        let opToken = current
        let opName = try identifier("after '='")
        if opName == "constant" {
            guard results.count == 1 else { throw error(.resultCount, "a constant defines one value", at: results[1].1) }
            try constant(results[0].0, at: results[0].1)
            return
        }
        if opName == OpSchema.delegateCallName {
            throw error(.unknownOp, "\(opName): a lowered delegate's payload is not part of the text form, so a graph "
                            + "after the `lower` stage cannot be read back; dump after `partition` instead", at: opToken)
        }
        guard let schema = OpTable.schema(named: opName) else {
            throw error(.unknownOp, "unknown op '\(opName)'\(OpSuggestion.hint(for: opName))", at: opToken)
        }
        let arguments = try callArguments(schema, at: opToken)
        var types: [TensorType]?
        if accept(":") {
            var list: [TensorType] = []
            repeat { list.append(try tensorType("of a result of \(opName)")) } while accept(",")
            types = list
        }
        var handle: Int?
        if current.kind == .punct("#") {
            let t = take()
            let h = try integer("after '#' (the debug handle)")
            guard h >= 0 else { throw error(.badNumber, "debug handles are non-negative, got \(h)", at: t) }
            guard handles.insert(h).inserted else {
                throw error(.duplicateHandle, "debug handle #\(h) is used by an earlier node", at: t)
            }
            handle = h
        }
        var location: SourceLocation?
        if acceptWord("loc") {
            try expect("(", "after 'loc'")
            guard case .string(let s) = current.kind else { throw expected("a string", "in loc(...)") }
            _ = take()
            try expect(")", "after the location")
            location = SourceLocation(s)
        }
        let annotations = try annotationDictionary()
        if handle == nil {
            // One more than the largest so far, unless that is taken (only when #Int.max is).
            let next = Swift.max(builder.graph.nextDebugHandle, 0)
            guard !handles.contains(next) else {
                throw error(.duplicateHandle, "no debug handle is free after #\(next); give this node one with '#N'",
                            at: opToken)
            }
            handle = next
        }
        let names = results.map(\.0)
        try define(names[0], at: opToken) { (b: inout GraphBuilder) throws(IRError) in
            try b.append(schema, arguments: arguments, resultNames: names, resultTypes: types,
                         debugHandle: handle, location: location)
        }
        if let h = builder.graph.nodes.last?.debugHandle { handles.insert(h) }
        if !annotations.isEmpty { builder.setAnnotations(annotations, ofNode: builder.graph.nodes.count - 1) }
    }

    /// `{key = value, ...}` after a node (nothing when absent): strings, integers, floats, bools.
    mutating func annotationDictionary() throws(IRError) -> [String: Annotation] {
        guard accept("{") else { return [:] }
        var annotations: [String: Annotation] = [:]
        if accept("}") { return annotations }
        repeat {
            let keyToken = current
            let key = try identifier("as an annotation key")
            try expect("=", "after annotation key '\(key)'")
            let value: Annotation
            let negative = accept("-")
            switch current.kind {
            case .string(let s) where !negative: value = .string(s)
            case .integer(let v): value = .int(negative ? -v : v)
            case .float(let v, _): value = .float(negative ? -v : v)
            case .identifier("inf"): value = .float(negative ? -.infinity : .infinity)
            case .identifier("nan") where !negative: value = .float(.nan)
            case .identifier("true") where !negative: value = .bool(true)
            case .identifier("false") where !negative: value = .bool(false)
            default: throw expected("a string, number or bool", "as the value of annotation '\(key)'")
            }
            _ = take()
            guard annotations.updateValue(value, forKey: key) == nil else {
                throw error(.duplicateName, "annotation '\(key)' is given twice", at: keyToken)
            }
        } while accept(",")
        try expect("}", "to close the annotations")
        return annotations
    }

    // MARK: Call arguments

    /// The arguments of a call; problems no single argument is at fault for (one missing) are
    /// reported at `opToken`.
    mutating func callArguments(_ schema: OpSchema, at opToken: Token) throws(IRError) -> [Argument<ValueID>] {
        try expect("(", "after \(schema.name)")
        var positional: [(RawArgument, Token)] = []
        var keywords: [(String, RawArgument, Token)] = []
        if !accept(")") {
            repeat {
                if case .identifier(let name) = current.kind, tokens[position + 1].kind == .punct("=") {
                    let t = take()
                    _ = take()
                    keywords.append((name, try rawArgument(), t))
                } else {
                    let t = current
                    guard keywords.isEmpty else {
                        throw error(.positionalArgument, "positional arguments must come before name=value arguments", at: t)
                    }
                    positional.append((try rawArgument(), t))
                }
            } while accept(",")
            try expect(")", "after the arguments of \(schema.name)")
        }
        let tensorSlots = schema.parameters.indices.filter { schema.parameters[$0].kind.isTensorLike }
        var boundPositional: [Argument<ValueID>] = []
        for (i, (raw, t)) in positional.enumerated() {
            guard i < tensorSlots.count else {
                throw error(.positionalArgument,
                            "\(schema.name) takes \(tensorSlots.count) tensor arguments, \(positional.count) given "
                                + "(other arguments are written name=value)", at: t)
            }
            boundPositional.append(try convert(raw, to: schema.parameters[tensorSlots[i]], of: schema, at: t))
        }
        var boundKeywords: [(name: String, value: Argument<ValueID>)] = []
        for (name, raw, t) in keywords {
            guard let i = schema.parameterIndex(name) else {
                let known = schema.parameters.map(\.name).joined(separator: ", ")
                throw error(.unknownArgument, "\(schema.name) has no argument '\(name)' (it has: \(known))", at: t)
            }
            boundKeywords.append((name, try convert(raw, to: schema.parameters[i], of: schema, at: t)))
        }
        do {
            return try ArgumentBinding.bind(schema, positional: boundPositional, keywords: boundKeywords)
        } catch {
            // A keyword given twice is reported at its second use.
            let at = error.keyword.flatMap { k in keywords.last { $0.0 == k }?.2 } ?? opToken
            throw self.error(error.kind, error.message, at: at)
        }
    }

    fileprivate mutating func rawArgument() throws(IRError) -> RawArgument {
        let t = current
        switch t.kind {
        case .value(let name):
            _ = take()
            return .value(name)
        case .punct("["):
            try enterNesting("in an argument")
            defer { nesting -= 1 }
            _ = take()
            var items: [(RawArgument, Token)] = []
            if !accept("]") {
                repeat {
                    let it = current
                    items.append((try rawArgument(), it))
                } while accept(",")
                try expect("]", "to close the list")
            }
            return .list(items)
        case .punct("-"):
            _ = take()
            switch current.kind {
            case .integer(let v): _ = take(); return .int(-v)
            case .hugeInteger(Parser.intMinMagnitude): _ = take(); return .int(Int.min)
            case .float(let v, _): _ = take(); return .float(-v)
            case .identifier("inf"): _ = take(); return .float(-.infinity)
            case .identifier("nan"): _ = take(); return .float(-.nan)
            default: throw expected("a number", "after '-'")
            }
        case .integer(let v):
            _ = take()
            return .int(v)
        case .hugeInteger(let s):
            throw error(.badNumber, "integer \(s) does not fit in 64 bits")
        case .float(let v, _):
            _ = take()
            return .float(v)
        case .string(let text):
            _ = take()
            return .string(text)
        case .identifier(let w):
            _ = take()
            switch w {
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "none": return .none
            case "inf": return .float(.infinity)
            case "nan": return .float(.nan)
            default: return .word(w)
            }
        default:
            throw expected("an argument", "")
        }
    }

    fileprivate func convert(_ raw: RawArgument, to parameter: Parameter, of schema: OpSchema,
                 at token: Token) throws(IRError) -> Argument<ValueID> {
        func mismatch(_ got: String) -> IRError {
            error(.argumentKind, "argument '\(parameter.name)' of \(schema.name) expects \(parameter.kind), got \(got)",
                  at: token)
        }
        func lookup(_ name: String, _ t: Token) throws(IRError) -> ValueID {
            guard let id = valuesByName[name] else { throw error(.unknownValue, "%\(name) is not defined", at: t) }
            return id
        }
        var kind = parameter.kind
        if case .optional(let inner) = kind {
            if case .none = raw { return .none }
            kind = inner
        }
        switch (kind, raw) {
        case (.tensor, .value(let name)):
            return .tensor(try lookup(name, token))
        case (.tensorList, .list(let items)):
            var ids: [ValueID] = []
            for (item, t) in items {
                guard case .value(let name) = item else { throw mismatch("a list with a non-value element") }
                ids.append(try lookup(name, t))
            }
            return .tensorList(ids)
        case (.int, .int(let v)), (.scalar, .int(let v)):
            return .int(v)
        case (.float, .float(let v)), (.scalar, .float(let v)):
            return .float(v)
        case (.float, .int(let v)):
            return .float(Double(v))
        case (.bool, .bool(let v)):
            return .bool(v)
        case (.intList, .list(let items)):
            var values: [Int] = []
            for (item, _) in items {
                guard case .int(let v) = item else { throw mismatch("a list with a non-integer element") }
                values.append(v)
            }
            return .intList(values)
        case (.floatList, .list(let items)):
            var values: [Double] = []
            for (item, _) in items {
                switch item {
                case .float(let v): values.append(v)
                case .int(let v): values.append(Double(v))
                default: throw mismatch("a list with a non-numeric element")
                }
            }
            return .floatList(values)
        case (.string, .string(let text)):
            return .string(text)
        case (.dtype, .word(let w)):
            guard let d = DType(textName: w) else {
                throw error(.unknownDType, "unknown dtype '\(w)' (expected one of \(DType.allCases.map(\.textName).joined(separator: ", ")))",
                            at: token)
            }
            return .dtype(d)
        default:
            throw mismatch(Parser.describe(raw))
        }
    }

    fileprivate static func describe(_ raw: RawArgument) -> String {
        switch raw {
        case .value(let n): return "value %\(n)"
        case .list: return "a list"
        case .int(let v): return "the integer \(v)"
        case .float(let v): return "the float \(v)"
        case .bool(let v): return "\(v)"
        case .none: return "none"
        case .word(let w): return "'\(w)'"
        case .string(let text): return "the string \(quoted(text))"
        }
    }

    // MARK: Types

    mutating func tensorType(_ context: String) throws(IRError) -> TensorType {
        let t = current
        let name = try identifier(context)
        guard let dtype = DType(textName: name) else {
            throw error(.unknownDType, "unknown dtype '\(name)' (expected one of \(DType.allCases.map(\.textName).joined(separator: ", ")))",
                        at: t)
        }
        try expect("[", "after the dtype \(context)")
        var dims: [Dim] = []
        if !accept("]") {
            repeat { dims.append(try dimSum()) } while accept(",")
            try expect("]", "to close the shape \(context)")
        }
        return TensorType(dtype, dims)
    }

    /// `term (('+' | '-') term)*`
    mutating func dimSum() throws(IRError) -> Dim {
        var value = try dimProduct()
        while true {
            let t = current
            if accept("+") {
                value = try arithmetic(at: t) { [value] in try value + $0 }
            } else if accept("-") {
                value = try arithmetic(at: t) { [value] in try value - $0 }
            } else {
                break
            }
        }
        return value
    }

    mutating func arithmetic(at t: Token, _ op: (Dim) throws -> Dim) throws(IRError) -> Dim {
        let rhs = try dimProduct()
        do { return try op(rhs) } catch { throw self.error(.badNumber, "dimension arithmetic overflows", at: t) }
    }

    /// `factor ('*' factor)*`, with an optional leading '-'.
    mutating func dimProduct() throws(IRError) -> Dim {
        let t = current
        let negate = accept("-")
        var value = try dimFactor()
        while accept("*") {
            let rhs = try dimFactor()
            do { value = try value * rhs } catch { throw self.error(.badNumber, "dimension arithmetic overflows", at: t) }
        }
        if negate {
            do { value = try -value } catch { throw self.error(.badNumber, "dimension arithmetic overflows", at: t) }
        }
        return value
    }

    /// An integer, a symbol, `floordiv(expr, n)` or `(expr)`.
    mutating func dimFactor() throws(IRError) -> Dim {
        let t = current
        switch t.kind {
        case .integer(let v):
            _ = take()
            return Dim(v)
        case .identifier("floordiv"):
            try enterNesting("in a dimension")
            defer { nesting -= 1 }
            _ = take()
            try expect("(", "after floordiv")
            let numerator = try dimSum()
            try expect(",", "between floordiv's arguments")
            let dt = current
            let divisor = try integer("as floordiv's divisor")
            try expect(")", "after floordiv's arguments")
            guard divisor > 0 else { throw error(.badNumber, "floordiv needs a positive divisor, got \(divisor)", at: dt) }
            do { return try numerator.floorDivided(by: divisor) } catch {
                throw self.error(.badNumber, "\(error)", at: t)
            }
        case .identifier(let name):
            _ = take()
            guard let s = symbols[name] else {
                throw error(.unknownSymbol, "unknown symbol '\(name)'; declare it with 'symbol \(name) in LO...HI'", at: t)
            }
            return Dim(s)
        case .punct("("):
            try enterNesting("in a dimension")
            defer { nesting -= 1 }
            _ = take()
            let inner = try dimSum()
            try expect(")", "to close the parenthesized dimension")
            return inner
        case .hugeInteger(let s):
            throw error(.badNumber, "dimension \(s) does not fit in 64 bits")
        default:
            throw expected("a dimension (an integer or a symbol)", "in the shape")
        }
    }
}
