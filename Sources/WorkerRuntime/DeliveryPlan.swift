/// The runtime's decisions about a batch of deliveries, made without I/O: what the batch becomes
/// (runs decided together, messages handled alone), how a decided run's commit settles into
/// acknowledgements, requeues and second tries, and what follows a single commit. The shell
/// (`Worker+Batches`, `Worker+OneByOne`) carries out what these return and decides nothing of
/// its own; `DeliveryPlanTests` cover them without a broker.
public enum DeliveryPlan {
    /// What the plan needs to know of one delivery.
    public struct Intake: Sendable, Hashable {
        /// The broker's `redelivered` flag: the message may have killed a worker.
        public var redelivered: Bool
        /// Accepted by the envelope check, and of a type the handler decides in batches.
        public var batchable: Bool
        /// What it weighs in a run: its records (a `usage.rated` carries many), at least 1.
        public var weight: Int

        public init(redelivered: Bool, batchable: Bool, weight: Int = 1) {
            self.redelivered = redelivered
            self.batchable = batchable
            self.weight = max(1, weight)
        }
    }

    /// One step of a batch, in the deliveries' order.
    public enum Step: Sendable, Hashable {
        /// Consecutive batchable deliveries (their indexes), decided together.
        case run([Int])
        /// A delivery handled alone, once everything before it has committed.
        case alone(Int)
        /// A redelivered one: alone, its try recorded first (`Worker+Redeliveries`).
        case redelivery(Int)
    }

    /// The steps of a batch: runs of consecutive batchable deliveries weighing at most
    /// `batchSize` together (a delivery heavier than that is a run of its own), and every other
    /// delivery alone, in order. A redelivered message is never in a run.
    public static func steps(_ intakes: [Intake], batchSize: Int) -> [Step] {
        var steps: [Step] = []
        var run: [Int] = []
        var weight = 0
        func closeRun() {
            if !run.isEmpty { steps.append(.run(run)) }
            run = []
            weight = 0
        }
        for (index, intake) in intakes.enumerated() {
            if !intake.redelivered, intake.batchable {
                if weight + intake.weight > batchSize { closeRun() }
                run.append(index)
                weight += intake.weight
                continue
            }
            closeRun()
            steps.append(intake.redelivered ? .redelivery(index) : .alone(index))
        }
        closeRun()
        return steps
    }

    /// A run's messages by id: the first of each id, and the repeats (a redelivery of a message
    /// already in the run, handled alone after it, when the first has landed).
    public static func firstSeen(_ ids: [String]) -> (first: [Int], repeats: [Int]) {
        var seen = Set<String>()
        var first: [Int] = []
        var repeats: [Int] = []
        for (index, id) in ids.enumerated() {
            if seen.insert(id).inserted { first.append(index) } else { repeats.append(index) }
        }
        return (first, repeats)
    }
}
