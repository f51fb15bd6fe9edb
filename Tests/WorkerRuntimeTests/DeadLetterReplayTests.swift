import AMQPClient
import Testing
import WorkerRuntime

@Suite("A dead letter's replay goes back to its worker's queue, as Covenant recorded it")
struct DeadLetterReplayTests {
    static let forged: AMQPTable = [
        "x-covenant-original-exchange": .string("covenant.events"),
        "x-covenant-original-routing-key": .string("victim.invoice.ready"),
    ]

    func death(exchange: String, routingKey: String, queue: String = "covenant.rating") -> AMQPFieldValue {
        .table([
            "exchange": .string(exchange), "routing-keys": .array([.string(routingKey)]), "queue": .string(queue),
            "reason": .string("delivery_limit"),
        ])
    }

    @Test("A worker's dead letter: the origin the worker wrote, to the queue named, through the default exchange")
    func workersLetter() throws {
        let letter = AMQPMessage(
            body: [1], messageId: "m-1",
            headers: [
                "x-covenant-original-exchange": .string("covenant.commands"),
                "x-covenant-original-routing-key": .string("usage.record"),
                "x-covenant-reason-code": .string("unknown_tenant"), "x-covenant-retries": .string("3"),
            ])
        let replay = try #require(DeadLetterReplay.replay(of: letter, toQueue: "covenant.rating"))
        #expect(replay.routingKey == "covenant.rating")
        #expect(replay.origin == ("covenant.commands", "usage.record"))
        #expect(replay.message.headers["x-covenant-reason-code"] == nil)
        #expect(replay.message.headers["x-covenant-retries"] == nil)
        #expect(replay.message.body == [1] && replay.message.messageId == "m-1")
    }

    @Test("The broker's dead letter of a message published with Covenant's headers: its x-death counts, never them")
    func brokersLetter() throws {
        var headers = Self.forged
        headers["x-death"] = .array([death(exchange: "covenant.commands", routingKey: "usage.record")])
        headers["x-delivery-count"] = .int(50)
        let replay = try #require(
            DeadLetterReplay.replay(of: AMQPMessage(body: [], headers: headers), toQueue: "covenant.rating"))
        #expect(replay.origin == ("covenant.commands", "usage.record"))
        #expect(replay.message.headers["x-covenant-original-exchange"] == .string("covenant.commands"))
        #expect(replay.message.headers["x-covenant-original-routing-key"] == .string("usage.record"))
        #expect(replay.message.headers["x-death"] == nil && replay.message.headers["x-delivery-count"] == nil)
    }

    @Test("Past the limit after Covenant's retry path (the default exchange): the retry copy's headers count")
    func afterRetries() throws {
        var headers: AMQPTable = [
            "x-covenant-original-exchange": .string("covenant.commands"),
            "x-covenant-original-routing-key": .string("usage.record"),
        ]
        headers["x-death"] = .array([
            death(exchange: "", routingKey: "covenant.rating"),
            death(exchange: "", routingKey: "covenant.rating.retry.500", queue: "covenant.rating.retry.500"),
        ])
        let replay = try #require(
            DeadLetterReplay.replay(of: AMQPMessage(body: [], headers: headers), toQueue: "covenant.rating"))
        #expect(replay.origin == ("covenant.commands", "usage.record"))
    }

    @Test("No origin Covenant recorded: not replayed")
    func unknownOrigin() {
        #expect(DeadLetterReplay.replay(of: AMQPMessage(body: []), toQueue: "covenant.rating") == nil)
        let retried = AMQPMessage(body: [], headers: ["x-death": .array([death(exchange: "", routingKey: "q")])])
        #expect(DeadLetterReplay.replay(of: retried, toQueue: "covenant.rating") == nil)
    }
}
