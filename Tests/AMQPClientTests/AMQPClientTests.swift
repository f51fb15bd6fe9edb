import AMQPClient
import Foundation
import Glibc
import Testing

@Suite("AMQP client against a real RabbitMQ", .serialized)
struct AMQPClientTests {
    @Test("A message round-trips with its properties and headers")
    func roundTrip() async throws {
        let configuration = try Broker.configuration()
        let exchange = Broker.uniqueName("roundtrip")
        let queue = Broker.uniqueName("roundtrip.q")
        let topology = Broker.topology(exchange: exchange, queue: queue)
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        let consumer = AMQPConsumer(configuration: configuration, queue: queue, topology: topology)
        let collector = DeliveryCollector(consumer)
        let message = AMQPMessage(
            body: Array(#"{"hello":"world"}"#.utf8), messageId: "msg-1", contentType: "application/cloudevents+json",
            type: "usage.record", timestamp: 1_736_933_400, correlationId: "corr-1", appId: "tests",
            headers: [
                "tenant": .string("acme"), "attempt": .int(3), "flag": .bool(true),
                "nested": .table(["a": .array([.string("x"), .int(1)])]),
            ])
        let confirmation = try await publisher.publish(message, exchange: exchange, routingKey: "usage.record")
        #expect(confirmation == .confirmed)
        let deliveries = await collector.wait(for: 1)
        let delivery = try #require(deliveries.first)
        // Stamped with the connection's user, which the broker checked (`user_id`).
        var stamped = message
        stamped.userId = configuration.user
        #expect(delivery.message == stamped)
        #expect(delivery.routingKey == "usage.record" && delivery.exchange == exchange)
        #expect(delivery.redelivered == false)
        await consumer.stop()
        await publisher.close()
    }

    @Test("Given a node that is down and one that is up, publisher, consumer and declarations use the live one")
    func deadNodeSkipped() async throws {
        var configuration = try Broker.configuration(name: "cluster-test")
        // A loopback port nothing listens on: refused at once, as a killed node's is.
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length)
                return getsockname(socket, pointer, &length)
            }
        }
        close(socket)
        let dead = AMQPConfiguration.Node(host: "127.0.0.1", port: Int(UInt16(bigEndian: address.sin_port)))
        let live = try #require(configuration.nodes.first)
        configuration.nodes = [dead, live]
        let exchange = Broker.uniqueName("nodes")
        let queue = Broker.uniqueName("nodes.q")
        let topology = Broker.topology(exchange: exchange, queue: queue)
        try topology.declare(using: configuration)
        let events = Shared<[AMQPConnectionEvent]>([])
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        let consumer = AMQPConsumer(
            configuration: configuration, queue: queue, topology: topology,
            onConnectionEvent: { event in events.update { $0.append(event) } })
        let collector = DeliveryCollector(consumer)
        for n in 0..<3 {
            let message = AMQPMessage(body: Array("m\(n)".utf8), messageId: "n-\(n)")
            #expect(try await publisher.publish(message, exchange: exchange, routingKey: "k") == .confirmed)
        }
        #expect(await collector.wait(for: 3).count == 3)
        // Connected to the live node, after at most one refusal by the dead one, which names it.
        let seen = events.current
        let connectedTo = seen.compactMap { if case .connected(_, let node) = $0 { node } else { nil } }
        let refusals = seen.compactMap { if case .disconnected(let error) = $0 { error } else { nil } }
        #expect(connectedTo == [live])
        #expect(refusals.count <= 1 && refusals.allSatisfy { $0.message.hasPrefix("node \(dead): cannot connect") })
        await consumer.stop()
        await publisher.close()
    }

    @Test("Confirms pipelined with 1,000 in flight: 5,000 messages all confirmed and all consumed")
    func confirmWindow() async throws {
        let configuration = try Broker.configuration()
        let exchange = Broker.uniqueName("window")
        let queue = Broker.uniqueName("window.q")
        let topology = Broker.topology(exchange: exchange, queue: queue)
        let publisher = AMQPPublisher(configuration: configuration, topology: topology, confirmWindow: 1000)
        let count = 5000
        let confirmed = try await withThrowingTaskGroup(of: PublishConfirmation.self) { group in
            for index in 0..<count {
                group.addTask {
                    try await publisher.publish(
                        AMQPMessage(body: Array(repeating: 7, count: 256), messageId: "m-\(index)"), exchange: exchange,
                        routingKey: "k")
                }
            }
            var confirmations: [PublishConfirmation] = []
            for try await confirmation in group { confirmations.append(confirmation) }
            return confirmations
        }
        #expect(confirmed.count == count && confirmed.allSatisfy { $0 == .confirmed })
        let consumer = AMQPConsumer(configuration: configuration, queue: queue, topology: topology, prefetch: 500)
        let collector = DeliveryCollector(consumer)
        let deliveries = await collector.wait(for: count)
        #expect(Set(deliveries.compactMap(\.message.messageId)) == Set((0..<count).map { "m-\($0)" }))
        await consumer.stop()
        await publisher.close()
    }

    @Test("A mandatory message no queue is bound for is reported unroutable")
    func unroutable() async throws {
        let configuration = try Broker.configuration()
        let exchange = Broker.uniqueName("unroutable")
        let publisher = AMQPPublisher(
            configuration: configuration, topology: AMQPTopology(exchanges: [.init(name: exchange)]))
        let result = try await publisher.publish(
            AMQPMessage(body: [1], messageId: "lost"), exchange: exchange, routingKey: "nobody.listens")
        #expect(result == .unroutable(replyCode: 312, replyText: "NO_ROUTE"))
        // A routed one after it is confirmed normally.
        let bound = Broker.uniqueName("unroutable.q")
        let withQueue = AMQPPublisher(
            configuration: configuration,
            topology: AMQPTopology(
                exchanges: [.init(name: exchange)], queues: [.init(name: bound, bindings: [(exchange, "listened")])]))
        #expect(
            try await withQueue.publish(AMQPMessage(body: [2]), exchange: exchange, routingKey: "listened")
                == .confirmed)
        await publisher.close()
        await withQueue.close()
    }

    @Test("Publishing on a closed publisher fails with shutdown, one message or a batch")
    func closedPublisher() async throws {
        let publisher = AMQPPublisher(configuration: try Broker.configuration())
        await publisher.close()
        await #expect {
            try await publisher.publish(AMQPMessage(body: [1]), exchange: "", routingKey: "nowhere")
        } throws: { ($0 as? AMQPError)?.code == .shutdown }
        await #expect {
            try await publisher.publish([OutgoingMessage(AMQPMessage(body: [2]), exchange: "", routingKey: "nowhere")])
        } throws: { ($0 as? AMQPError)?.code == .shutdown }
    }

    @Test("A rejected message is dead-lettered, and its x-death reason is readable")
    func deadLetter() async throws {
        let configuration = try Broker.configuration()
        let exchange = Broker.uniqueName("dlx")
        let queue = Broker.uniqueName("dlx.q")
        let topology = Broker.topology(exchange: exchange, queue: queue)
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        let consumer = AMQPConsumer(configuration: configuration, queue: queue, topology: topology)
        let collector = DeliveryCollector(consumer, acknowledge: false)
        _ = try await publisher.publish(
            AMQPMessage(
                body: Array("bad".utf8), messageId: "poison", headers: ["x-covenant-reason": .string("invalid_message")]
            ),
            exchange: exchange, routingKey: "usage.record")
        let delivery = try #require(await collector.wait(for: 1).first)
        consumer.reject(delivery)

        let dead = AMQPConsumer(configuration: configuration, queue: "\(queue).dead", topology: topology)
        let deadCollector = DeliveryCollector(dead)
        let letter = try #require(await deadCollector.wait(for: 1).first)
        #expect(letter.message.messageId == "poison")
        #expect(letter.message.headers["x-covenant-reason"] == .string("invalid_message"))
        let death = try #require(letter.deaths.first)
        #expect(death["reason"] == .string("rejected"))
        #expect(death["queue"] == .string(queue))
        await consumer.stop()
        await dead.stop()
        await publisher.close()
    }

    @Test("A consumer that stops without acknowledging: the message is redelivered to the next")
    func redelivery() async throws {
        let configuration = try Broker.configuration()
        let exchange = Broker.uniqueName("redeliver")
        let queue = Broker.uniqueName("redeliver.q")
        let topology = Broker.topology(exchange: exchange, queue: queue)
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        _ = try await publisher.publish(AMQPMessage(body: [1], messageId: "once"), exchange: exchange, routingKey: "k")

        let first = AMQPConsumer(configuration: configuration, queue: queue, topology: topology)
        let firstCollector = DeliveryCollector(first, acknowledge: false)
        let delivered = try #require(await firstCollector.wait(for: 1).first)
        #expect(delivered.redelivered == false)
        await first.stop()  // never acknowledged

        let second = AMQPConsumer(configuration: configuration, queue: queue, topology: topology)
        let secondCollector = DeliveryCollector(second)
        let again = try #require(await secondCollector.wait(for: 1).first)
        #expect(again.message.messageId == "once")
        #expect(again.redelivered == true)
        #expect(again.deliveryCount == 1)
        await second.stop()
        await publisher.close()
    }

    @Test("A requeued message comes back with a delivery count; past the delivery limit it is dead-lettered")
    func deliveryLimit() async throws {
        let configuration = try Broker.configuration()
        let exchange = Broker.uniqueName("limit")
        let queue = Broker.uniqueName("limit.q")
        let topology = AMQPTopology(
            exchanges: [.init(name: exchange), .init(name: "\(exchange).dead")],
            queues: [
                .init(
                    name: queue, bindings: [(exchange, "#")], deadLetterExchange: "\(exchange).dead", deliveryLimit: 2)
            ])
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        _ = try await publisher.publish(AMQPMessage(body: [1], messageId: "flaky"), exchange: exchange, routingKey: "k")
        let consumer = AMQPConsumer(configuration: configuration, queue: queue, topology: topology)
        var counts: [Int64] = []
        for await delivery in consumer.deliveries {
            counts.append(delivery.deliveryCount)
            consumer.requeue(delivery)
            if counts.count == 3 { break }
        }
        #expect(counts == [0, 1, 2])
        let dead = AMQPConsumer(configuration: configuration, queue: "\(queue).dead", topology: topology)
        let letter = try #require(await DeliveryCollector(dead).wait(for: 1).first)
        #expect(letter.deaths.first?["reason"] == .string("delivery_limit"))
        await consumer.stop()
        await dead.stop()
        await publisher.close()
    }

    @Test("A wrong password is a non-retryable authentication failure")
    func badLogin() throws {
        var configuration = try Broker.configuration()
        configuration.password = "not-the-password"
        #expect {
            try AMQPTopology(exchanges: [.init(name: "never")]).declare(using: configuration)
        } throws: { error in
            (error as? AMQPError)?.code == .authenticationFailed && (error as? AMQPError)?.isRetryable == false
        }
        // The description never shows the password.
        #expect(!configuration.description.contains("not-the-password"))
    }

    @Test("URLs: defaults, percent-decoding and the TLS scheme")
    func urls() throws {
        let plain = try AMQPConfiguration(url: "amqp://svc%40acme:p%2Fss@rabbit.internal:5673/billing%2Feu")
        #expect(plain.user == "svc@acme" && plain.password == "p/ss" && plain.nodes.map(\.host) == ["rabbit.internal"])
        #expect(plain.nodes.map(\.port) == [5673] && plain.virtualHost == "billing/eu" && plain.tls == nil)
        let defaults = try AMQPConfiguration(url: "amqps://broker")
        #expect(defaults.nodes.map(\.port) == [5671] && defaults.virtualHost == "/" && defaults.user == "guest")
        #expect(defaults.tls?.verifyPeer == true && defaults.tls?.verifyHostname == true)
        #expect(try AMQPConfiguration(url: "amqp://h/%2F").virtualHost == "/")
        #expect(throws: AMQPError.self) { try AMQPConfiguration(url: "http://broker") }
        #expect(throws: AMQPError.self) { try AMQPConfiguration(url: "amqp://") }
    }
}
