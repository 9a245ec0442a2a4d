#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KilnTensor

/// A fixed set of worker threads that kernels and delegates split their work across.
///
/// A pool of `threads` runs each parallel region on the calling thread and `threads - 1`
/// workers (pthreads, created once). Between regions a worker keeps looking for the next one
/// for ``spinNanoseconds`` (yielding the core between looks), then sleeps on a condition
/// variable: a method's kernels run back to back, and waking a sleeping thread costs tens of
/// microseconds on some machines (about 50 on the reference VM), looking again a fraction of
/// one. The caller waits for the workers the same way. Task `t`
/// of a region runs on thread `t % threadCount` (the caller is thread 0); a caller that wants
/// working memory per thread makes `threadCount` tasks and gives task `t` part `t`.
/// Dispatching a region allocates nothing: the work is a value conforming to ``ParallelWork``
/// (a struct holding what the tasks share), or a C-convention function with a context pointer.
/// (Not a closure: handing a closure to other threads makes it escaping, and Swift then
/// allocates its context.) A region started from inside a region (or while another thread has
/// one running) runs all its tasks on the calling thread, so nesting is safe, not parallel.
///
/// The runtime makes one pool per ``KilnRuntime/Method`` (`Program.method(threads:)`) and hands
/// it to every kernel call (``KernelCall/threadPool``) and delegate.
///
/// ```swift
/// struct Scale: ParallelWork {
///     let x: UnsafeMutablePointer<Float>, count: Int, parts: Int
///     func run(_ part: Int) {
///         for i in (part * count / parts)..<((part + 1) * count / parts) { x[i] *= 2 }
///     }
/// }
/// let pool = ThreadPool(threads: 2)
/// pool.parallelFor(2, Scale(x: x, count: n, parts: 2))
/// ```
public final class ThreadPool: @unchecked Sendable {
    /// Threads a region runs on, the caller included (1: everything runs on the caller).
    public let threadCount: Int
    private let state: UnsafeMutablePointer<PoolState>
    private let workerArguments: UnsafeMutablePointer<WorkerArgument>
    private var workers: [pthread_t] = []

    /// A pool with one thread: every region runs on the caller. The default of ``KernelCall``.
    public static let serial = ThreadPool(threads: 1)

    /// How long an idle worker (or a caller waiting for its workers) keeps looking before it
    /// sleeps.
    public static let spinNanoseconds: UInt64 = 200_000

    /// The work of one region: called as `task(context, taskIndex)`.
    public typealias Task = @convention(c) (UnsafeMutableRawPointer?, Int) -> Void

    /// Starts `threads - 1` worker threads (none for `threads <= 1`). When the system refuses a
    /// thread, the pool keeps the ones it got (``threadCount`` says how many run).
    public init(threads: Int) {
        let wanted = Swift.max(threads, 1)
        state = .allocate(capacity: 1)
        state.initialize(to: PoolState())
        pthread_mutex_init(&state.pointee.mutex, nil)
        pthread_cond_init(&state.pointee.work, nil)
        pthread_cond_init(&state.pointee.done, nil)
        workerArguments = .allocate(capacity: wanted)
        var started: [pthread_t] = []
        for index in 1..<wanted {
            (workerArguments + index).initialize(to: WorkerArgument(state: state, index: index))
            #if canImport(Glibc)
            var thread = pthread_t()
            guard pthread_create(&thread, nil, workerMain, UnsafeMutableRawPointer(workerArguments + index)) == 0 else {
                break
            }
            started.append(thread)
            #else
            var thread: pthread_t?
            guard pthread_create(&thread, nil, workerMain, UnsafeMutableRawPointer(workerArguments + index)) == 0,
                  let thread else { break }
            started.append(thread)
            #endif
        }
        workers = started
        threadCount = started.count + 1
        state.pointee.threadCount = threadCount
    }

    deinit {
        pthread_mutex_lock(&state.pointee.mutex)
        state.pointee.stop = true
        pthread_cond_broadcast(&state.pointee.work)
        pthread_mutex_unlock(&state.pointee.mutex)
        for thread in workers { pthread_join(thread, nil) }
        pthread_cond_destroy(&state.pointee.work)
        pthread_cond_destroy(&state.pointee.done)
        pthread_mutex_destroy(&state.pointee.mutex)
        state.deinitialize(count: 1)
        state.deallocate()
        workerArguments.deallocate()
    }

    /// Runs `task(context, t)` for every `t` in `0..<tasks` and returns when all are done.
    /// Task `t` runs on thread `t % threadCount` (0 is the caller).
    public func run(tasks: Int, context: UnsafeMutableRawPointer?, _ task: Task) {
        guard tasks > 0 else { return }
        guard threadCount > 1, tasks > 1, begin(tasks: tasks, context: context, task) else {
            for t in 0..<tasks { task(context, t) }
            return
        }
        var t = 0
        while t < tasks {
            task(context, t)
            t += threadCount
        }
        pthread_mutex_lock(&state.pointee.mutex)
        if state.pointee.pending > 0 {
            spin(state) { $0.pending > 0 }
        }
        while state.pointee.pending > 0 {
            state.pointee.callerSleeping = true
            pthread_cond_wait(&state.pointee.done, &state.pointee.mutex)
            state.pointee.callerSleeping = false
        }
        state.pointee.busy = false
        state.pointee.task = nil
        state.pointee.context = nil
        pthread_mutex_unlock(&state.pointee.mutex)
    }

    /// Runs `work.run(t)` for every `t` in `0..<tasks`, task `t` on thread `t % threadCount`,
    /// and returns when all are done. `run` must be safe to call from several threads at once.
    public func parallelFor<Work: ParallelWork>(_ tasks: Int, _ work: Work) {
        var job = work
        withUnsafeMutablePointer(to: &job) { pointer in
            // A one-word existential: it fits the existential's inline buffer, so it is not boxed.
            var runner: any PartRunner = WorkPointer(work: pointer)
            withUnsafeMutablePointer(to: &runner) { context in
                run(tasks: tasks, context: UnsafeMutableRawPointer(context)) { context, task in
                    context?.assumingMemoryBound(to: (any PartRunner).self).pointee.run(task)
                }
            }
        }
    }

    /// Publishes a region to the workers; false when one is already running (the caller then
    /// runs this one alone).
    private func begin(tasks: Int, context: UnsafeMutableRawPointer?, _ task: Task) -> Bool {
        pthread_mutex_lock(&state.pointee.mutex)
        defer { pthread_mutex_unlock(&state.pointee.mutex) }
        guard !state.pointee.busy else { return false }
        state.pointee.busy = true
        state.pointee.task = task
        state.pointee.context = context
        state.pointee.tasks = tasks
        state.pointee.pending = threadCount - 1
        state.pointee.generation &+= 1
        if state.pointee.sleepingWorkers > 0 { pthread_cond_broadcast(&state.pointee.work) }
        return true
    }
}

/// The work of a parallel region: a value holding what its tasks share, whose ``run(_:)`` does
/// task `index` (``ThreadPool/parallelFor(_:_:)``).
public protocol ParallelWork {
    /// Does task `index`. Called from several threads at once, each with its own indices.
    func run(_ index: Int)
}

/// Runs a region's tasks through a pointer to its work, whatever its type.
private protocol PartRunner {
    func run(_ index: Int)
}

private struct WorkPointer<Work: ParallelWork>: PartRunner {
    let work: UnsafeMutablePointer<Work>
    func run(_ index: Int) { work.pointee.run(index) }
}

/// What the caller and the workers share, guarded by `mutex`.
private struct PoolState {
    var mutex = pthread_mutex_t()
    /// Signalled when a region starts (or the pool stops).
    var work = pthread_cond_t()
    /// Signalled when the last worker finishes its part of a region.
    var done = pthread_cond_t()
    var threadCount = 1
    /// Counts regions; a worker runs a region when this differs from the last one it ran.
    var generation = 0
    var task: ThreadPool.Task?
    var context: UnsafeMutableRawPointer?
    var tasks = 0
    /// Workers still running their part of the current region.
    var pending = 0
    var busy = false
    var stop = false
    /// Workers waiting on `work`, and whether the caller waits on `done` (else no signal is needed).
    var sleepingWorkers = 0
    var callerSleeping = false
}

/// With `state`'s mutex held: releases it and takes it again, yielding the core in between, while
/// `waiting` holds, for at most ``ThreadPool/spinNanoseconds``. Returns with the mutex held.
private func spin(_ state: UnsafeMutablePointer<PoolState>, while waiting: (PoolState) -> Bool) {
    let deadline = monotonicNanoseconds() &+ ThreadPool.spinNanoseconds
    var looks = 0
    while waiting(state.pointee) {
        pthread_mutex_unlock(&state.pointee.mutex)
        sched_yield()
        looks += 1
        let expired = looks % 16 == 0 && monotonicNanoseconds() > deadline
        pthread_mutex_lock(&state.pointee.mutex)
        if expired { return }
    }
}

private struct WorkerArgument {
    let state: UnsafeMutablePointer<PoolState>
    let index: Int
}

/// A worker: waits for each region and runs its tasks (`index`, `index + threadCount`, ...).
#if canImport(Glibc)
private func workerMain(_ raw: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let raw else { return nil }
    workerLoop(raw.assumingMemoryBound(to: WorkerArgument.self).pointee)
    return nil
}
#else
private func workerMain(_ raw: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer? {
    workerLoop(raw.assumingMemoryBound(to: WorkerArgument.self).pointee)
    return nil
}
#endif

private func workerLoop(_ argument: WorkerArgument) {
    let state = argument.state
    pthread_mutex_lock(&state.pointee.mutex)
    // Regions start only after the pool's init, which made this thread: the first is generation 1.
    var seen = 0
    while true {
        if state.pointee.generation == seen && !state.pointee.stop {
            spin(state) { $0.generation == seen && !$0.stop }
        }
        while state.pointee.generation == seen && !state.pointee.stop {
            state.pointee.sleepingWorkers += 1
            pthread_cond_wait(&state.pointee.work, &state.pointee.mutex)
            state.pointee.sleepingWorkers -= 1
        }
        if state.pointee.stop { break }
        seen = state.pointee.generation
        let task = state.pointee.task, context = state.pointee.context
        let tasks = state.pointee.tasks, stride = state.pointee.threadCount
        pthread_mutex_unlock(&state.pointee.mutex)
        if let task {
            var t = argument.index
            while t < tasks {
                task(context, t)
                t += stride
            }
        }
        pthread_mutex_lock(&state.pointee.mutex)
        state.pointee.pending -= 1
        if state.pointee.pending == 0 && state.pointee.callerSleeping { pthread_cond_signal(&state.pointee.done) }
    }
    pthread_mutex_unlock(&state.pointee.mutex)
}
