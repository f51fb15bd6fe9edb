import BillingDomain
import PropertyBased
import Testing
import WorkerRuntime
import WorkerStores

/// The runtime's decisions, without a broker or a store: what a batch of deliveries becomes,
/// how a committed run settles, what follows a commit, how long a fault waits.
@Suite("Delivery plan")
struct DeliveryPlanTests {
    typealias Intake = DeliveryPlan.Intake

    static let intake = zip(Gen.bool(0.2), Gen.bool(0.7), Gen.int(in: 1...400)).map {
        Intake(redelivered: $0, batchable: $1, weight: $2)
    }

    static func indexes(of step: DeliveryPlan.Step) -> [Int] {
        switch step {
        case .run(let indexes): indexes
        case .alone(let index), .redelivery(let index): [index]
        }
    }

    @Test("Every delivery is planned once, in order; runs hold only fresh batchable ones within the batch size")
    func stepsCoverEveryDelivery() async {
        await propertyCheck(count: 400, input: Self.intake.array(of: 0...60), Gen.int(in: 1...500)) {
            intakes, batchSize in
            let steps = DeliveryPlan.steps(intakes, batchSize: batchSize)
            #expect(steps.flatMap(Self.indexes) == Array(intakes.indices))
            for step in steps {
                switch step {
                case .run(let indexes):
                    #expect(!indexes.isEmpty)
                    #expect(indexes.allSatisfy { intakes[$0].batchable && !intakes[$0].redelivered })
                    let weight = indexes.reduce(0) { $0 + intakes[$1].weight }
                    #expect(weight <= batchSize || indexes.count == 1)
                case .alone(let index):
                    #expect(!intakes[index].batchable && !intakes[index].redelivered)
                case .redelivery(let index):
                    #expect(intakes[index].redelivered)
                }
            }
            // A run closes only when the next would not fit: two runs side by side are too heavy together.
            for (left, right) in zip(steps, steps.dropFirst()) {
                guard case .run(let first) = left, case .run(let second) = right else { continue }
                let together = (first + [second[0]]).reduce(0) { $0 + intakes[$1].weight }
                #expect(together > batchSize)
            }
        }
    }

    @Test("A redelivery and a message of another type each split a run; a heavy event is a run of its own")
    func stepsExamples() {
        let fresh = Intake(redelivered: false, batchable: true)
        let other = Intake(redelivered: false, batchable: false)
        let again = Intake(redelivered: true, batchable: true)
        let heavy = Intake(redelivered: false, batchable: true, weight: 900)
        #expect(
            DeliveryPlan.steps([fresh, fresh, again, fresh, other, fresh, heavy, fresh], batchSize: 250) == [
                .run([0, 1]), .redelivery(2), .run([3]), .alone(4), .run([5]), .run([6]), .run([7]),
            ])
        #expect(DeliveryPlan.steps([fresh, fresh, fresh], batchSize: 2) == [.run([0, 1]), .run([2])])
        #expect(DeliveryPlan.steps([], batchSize: 250).isEmpty)
    }

    @Test("A run's repeats are the later copies of an id")
    func firstSeen() {
        let split = DeliveryPlan.firstSeen(["a", "b", "a", "c", "b", "a"])
        #expect(split.first == [0, 1, 3])
        #expect(split.repeats == [2, 4, 5])
    }

    static let decided = Gen.int(in: 0...4).map {
        [DeliveryPlan.Decided.commit, .reject, .wait, .requeue(recording: false), .requeue(recording: true)][$0]
    }
    static let result = Gen.int(in: 0...2).map {
        [CommitOutcome.committed, .alreadyHandled, .versionConflict(kind: "ledger", key: "c-1")][$0]
    }

    @Test("A committed run settles each message by what was decided, and a version conflict goes alone")
    func settlements() async {
        await propertyCheck(count: 400, input: Self.decided.array(of: 0...40), Self.result.array(of: 40...40)) {
            decided, pool in
            let results = Array(pool.prefix(decided.count { $0 != .requeue(recording: false) }))
            let settled = DeliveryPlan.settlements(decided, results: results)
            #expect(settled.count == decided.count)
            var next = results.makeIterator()
            for (index, (decision, settlement)) in zip(decided, settled).enumerated() {
                let result = decision == .requeue(recording: false) ? nil : next.next()
                let expected: DeliveryPlan.Settlement =
                    switch (decision, result) {
                    case (.requeue(recording: false), _): .requeue(index)
                    case (_, .versionConflict?): .alone(index)
                    case (.requeue, _): .requeue(index)
                    case (.commit, _): .handled(index)
                    case (.reject, _): .rejected(index)
                    case (.wait, _): .deferred(index)
                    }
                #expect(settlement == expected)
            }
        }
    }

    @Test("A failed commit, or results that do not line up with the units, send every message alone")
    func settlementsWithoutResults() {
        let decided: [DeliveryPlan.Decided] = [.commit, .requeue(recording: false), .reject]
        let alone = [DeliveryPlan.Settlement.alone(0), .alone(1), .alone(2)]
        #expect(DeliveryPlan.settlements(decided, results: nil) == alone)
        #expect(DeliveryPlan.settlements(decided, results: [.committed]) == alone)
        #expect(DeliveryPlan.settlements(decided, results: [.committed, .committed, .committed]) == alone)
        #expect(
            DeliveryPlan.settlements(decided, results: [.committed, .alreadyHandled]) == [
                .handled(0), .requeue(1), .rejected(2),
            ])
        // What a waiting message records commits, and the message still goes back to the queue.
        #expect(
            DeliveryPlan.settlements([.requeue(recording: true), .wait], results: [.committed, .committed]) == [
                .requeue(0), .deferred(1),
            ])
    }

    @Test("After a commit: acknowledge, decide again on a conflict, requeue when conflicts persist")
    func afterCommit() {
        let conflict = CommitOutcome.versionConflict(kind: "contract", key: "k")
        #expect(DeliveryPlan.afterCommit(.committed, attempt: 20, conflictRetries: 20) == .acknowledge)
        #expect(DeliveryPlan.afterCommit(.alreadyHandled, attempt: 1, conflictRetries: 20) == .acknowledge)
        #expect(DeliveryPlan.afterCommit(conflict, attempt: 19, conflictRetries: 20) == .decideAgain)
        #expect(DeliveryPlan.afterCommit(conflict, attempt: 20, conflictRetries: 20) == .requeue)
    }

    @Test("Back-off grows, never shrinks, stays within its maximum, and never traps")
    func backoff() async {
        await propertyCheck(count: 300, input: Gen.int(in: -5...10_000), Gen.int(in: 1...120)) { attempt, seconds in
            let maximum = Duration.seconds(seconds)
            let wait = DeliveryPlan.backoff(attempt: attempt, maximum: maximum)
            #expect(wait > .zero && wait <= maximum)
            #expect(DeliveryPlan.backoff(attempt: attempt + 1, maximum: maximum) >= wait)
        }
        #expect(DeliveryPlan.backoff(attempt: 1, maximum: .seconds(10)) == .milliseconds(100))
        #expect(DeliveryPlan.backoff(attempt: Int.max, maximum: .seconds(10)) == .seconds(10))
    }

    @Test("A bounded wait waits while it has waits left and a queue to wait in, then is rejected")
    func boundedWait() {
        let missing = Rejection(.unknownService, "service s-1 is not known")
        let outcome = HandlerOutcome.rejectUnlessItArrives(missing, attempts: 4, after: .milliseconds(500))
        guard case .retryLater(let reason, let delay, _) = DeliveryPlan.bounded(outcome, waitsSoFar: 3, canWait: true)
        else {
            Issue.record("the fourth wait is allowed")
            return
        }
        #expect(reason == "service s-1 is not known (yet)" && delay == .milliseconds(500))
        for (waits, canWait) in [(4, true), (0, false)] {
            guard case .reject(let rejection) = DeliveryPlan.bounded(outcome, waitsSoFar: waits, canWait: canWait)
            else {
                Issue.record("rejected after \(waits) waits (queue: \(canWait))")
                continue
            }
            #expect(rejection == missing)
        }
        guard case .commit = DeliveryPlan.bounded(.commit(UnitOfWork(messageId: nil)), waitsSoFar: 99, canWait: false)
        else {
            Issue.record("a commit stands")
            return
        }
    }
}
