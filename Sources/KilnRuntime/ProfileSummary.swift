/// A profiled method's times summed up: per instruction with the events its backend recorded,
/// per operator (or delegate), and the events recorded while delegates initialized.
///
/// ```swift
/// method.isProfiling = true
/// for _ in 0..<100 { try method.execute() }
/// for entry in method.profileSummary.operators { print(entry.subject, entry.share) }
/// ```
public struct ProfileSummary: Sendable {
    /// Events of one name summed: how many, and their total nanoseconds.
    public struct EventTotal: Equatable, Sendable {
        public var name: String
        public var count: Int
        public var nanoseconds: UInt64

        public init(name: String, count: Int, nanoseconds: UInt64) {
            self.name = name
            self.count = count
            self.nanoseconds = nanoseconds
        }
    }

    /// The times of one instruction, or of every instruction running one operator.
    public struct Entry: Sendable {
        /// The instruction (nil for a per-operator entry).
        public var instruction: InstructionInfo?
        /// The operator, `delegate 0 "XnnpackBackend"`, or the instruction kind.
        public var subject: String
        public var calls: Int
        public var nanoseconds: UInt64
        /// Fraction of the time over all instructions.
        public var share: Double
        /// The backend events recorded during this instruction, by name in first-seen order.
        public var events: [EventTotal]

        /// Mean nanoseconds per call (0 when never called).
        public var meanNanoseconds: Double { calls == 0 ? 0 : Double(nanoseconds) / Double(calls) }
    }

    /// Profiled runs the figures cover.
    public var executions: Int
    /// One entry per instruction, in instruction order.
    public var instructions: [Entry]
    /// One entry per subject, the slowest first.
    public var operators: [Entry]
    /// Events recorded while the delegates initialized.
    public var initializationEvents: [EventTotal]

    init(profile: InstructionProfile, infos: [InstructionInfo], events: [BackendEvent]) {
        executions = profile.executions
        let total = Double(max(profile.totalNanoseconds, 1))
        var perInstruction = [[EventTotal]](repeating: [], count: infos.count)
        var initialization: [EventTotal] = []
        for event in events {
            if event.instruction >= 0 && event.instruction < infos.count {
                Self.add(event, to: &perInstruction[event.instruction])
            } else {
                Self.add(event, to: &initialization)
            }
        }
        initializationEvents = initialization
        instructions = infos.map { info in
            let ns = profile.nanoseconds[info.index]
            return Entry(instruction: info, subject: info.subject, calls: profile.counts[info.index], nanoseconds: ns,
                         share: Double(ns) / total, events: perInstruction[info.index])
        }
        var bySubject: [String: Int] = [:]
        var operators: [Entry] = []
        for entry in instructions {
            if let at = bySubject[entry.subject] {
                operators[at].calls += entry.calls
                operators[at].nanoseconds += entry.nanoseconds
                operators[at].share += entry.share
                for event in entry.events { Self.add(event, to: &operators[at].events) }
            } else {
                bySubject[entry.subject] = operators.count
                var merged = entry
                merged.instruction = nil
                operators.append(merged)
            }
        }
        // Stable for equal times: keep first-seen order.
        self.operators = operators.enumerated()
            .sorted { ($0.element.nanoseconds, $1.offset) > ($1.element.nanoseconds, $0.offset) }
            .map(\.element)
    }

    private static func add(_ event: BackendEvent, to totals: inout [EventTotal]) {
        add(EventTotal(name: event.name, count: 1, nanoseconds: event.nanoseconds), to: &totals)
    }

    private static func add(_ event: EventTotal, to totals: inout [EventTotal]) {
        if let at = totals.firstIndex(where: { $0.name == event.name }) {
            totals[at].count += event.count
            totals[at].nanoseconds += event.nanoseconds
        } else {
            totals.append(event)
        }
    }
}

extension Method {
    /// ``profile`` and ``delegateEvents`` summed per instruction and per operator.
    public var profileSummary: ProfileSummary {
        ProfileSummary(profile: profile, infos: instructions, events: delegateEvents)
    }
}
