import KilnPTE
import KilnTensor

/// A loaded `.pte` program: the file mapped into memory and verified, every operator resolved
/// to a kernel, every delegate to a registered backend, constants viewed in place.
///
/// Loading does all the checking (ExecuTorch's "AOT does the thinking, the runtime loads and
/// runs"), so a method that loads runs without surprises from the file: a bad file, an unknown
/// operator (`aten::foo.out (operator 3, used by instruction 7)`) or a missing backend fails
/// here, naming what is wrong.
///
/// ```swift
/// let program = try Program.load(path: "mlp.pte")
/// let forward = try program.method()               // the only method
/// let outputs = try forward([input])
/// ```
public final class Program: @unchecked Sendable {
    /// The file's path.
    public let path: String
    /// The mapped file; constants and delegate payloads point into it.
    let file: MappedFile
    /// The verified program, read in place.
    let view: PTEProgramView
    let plans: [MethodPlan]

    private init(path: String, file: MappedFile, view: PTEProgramView, plans: [MethodPlan]) {
        self.path = path
        self.file = file
        self.view = view
        self.plans = plans
    }

    /// Maps, verifies and resolves the program at `path`.
    ///
    /// - Parameters:
    ///   - path: a `.pte` file (read-only is fine: the mapping is private).
    ///   - backends: where delegates find their backend runtimes.
    /// - Throws: ``RuntimeError``: `.io` when the file cannot be read; `.invalidProgram` when
    ///   verification fails (the message names the field); `.unknownOperator`,
    ///   `.missingKernel` or `.invalidArguments` for a KernelCall this runtime cannot run;
    ///   `.unknownBackend` or `.backendUnavailable` for a delegate; `.unsupported` for a valid
    ///   program using something this runtime does not run.
    public static func load(path: String, backends: BackendRegistry = .shared) throws(RuntimeError) -> Program {
        let file: MappedFile
        do {
            file = try MappedFile(path: path)
        } catch {
            throw RuntimeError(.io, (error as? TensorError)?.message ?? "\(error)", path: path)
        }
        do throws(RuntimeError) {
            let view: PTEProgramView
            do {
                view = try PTEProgramView(file: file.bytes, path: path, verify: true)
            } catch {
                throw RuntimeError(error)
            }
            let decoder = MethodPlanDecoder(program: view, file: file, backends: backends)
            var plans: [MethodPlan] = []
            for index in 0..<view.executionPlans.count {
                let plan: PTEExecutionPlanView
                do { plan = try view.executionPlans.element(at: index) } catch { throw RuntimeError(error) }
                plans.append(try decoder.decode(plan))
            }
            return Program(path: path, file: file, view: view, plans: plans)
        } catch {
            throw error.inFile(path)
        }
    }

    /// The names of the program's methods, in file order.
    public var methodNames: [String] { plans.map(\.name) }

    /// Creates a runnable instance of method `name` (nil: the program's only method): allocates
    /// its planned memory, packs the constant weights its kernels pack, starts its threads and
    /// initializes its delegates.
    ///
    /// - Parameters:
    ///   - threads: the threads kernels and delegates split their work across, the calling
    ///     thread included (1: everything runs on the caller). Results do not depend on it.
    ///   - prepacksWeights: pack constant weights once into the layout their kernels read fastest
    ///     (memory the method owns, as large as those weights); false keeps every constant a view
    ///     into the file and packs per call instead. Results do not depend on it.
    /// - Throws: ``RuntimeError`` `.methodNotFound` listing the method names, or
    ///   `.delegateInit` when a backend fails to initialize a delegate.
    public func method(_ name: String? = nil, threads: Int = 1,
                       prepacksWeights: Bool = true) throws(RuntimeError) -> Method {
        let names = methodNames.map { "\"\($0)\"" }.joined(separator: ", ")
        let plan: MethodPlan
        if let name {
            guard let found = plans.first(where: { $0.name == name }) else {
                throw RuntimeError(.methodNotFound, "no method \"\(name)\"; the program has \(names.isEmpty ? "none" : names)",
                                   path: path)
            }
            plan = found
        } else {
            guard plans.count == 1 else {
                throw RuntimeError(.methodNotFound, plans.isEmpty ? "the program has no methods"
                                   : "the program has \(plans.count) methods (\(names)); name one", path: path)
            }
            plan = plans[0]
        }
        do {
            return try Method(program: self, plan: plan, threads: threads, prepacksWeights: prepacksWeights)
        } catch {
            throw error.inFile(path)
        }
    }
}
