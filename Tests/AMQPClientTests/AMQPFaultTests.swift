import AMQPClient
import Foundation
import Synchronization
import Testing

@Suite("AMQP client: TLS and broker restarts", .serialized)
struct AMQPFaultTests {
    func tlsConfiguration(
        ca: String = "ca.pem", host: String? = nil, verifyHostname: Bool = true
    ) throws
        -> AMQPConfiguration
    {
        let (url, certificates) = try Broker.tls()
        var configuration = try AMQPConfiguration(
            url: host.map { url.replacingOccurrences(of: "localhost", with: $0) } ?? url, connectionName: "tls-test",
            tls: .init(
                caFile: "\(certificates)/\(ca)", certificateFile: "\(certificates)/client.pem",
                keyFile: "\(certificates)/client-key.pem", verifyHostname: verifyHostname))
        configuration.reconnectDelay = .milliseconds(50)...(.seconds(1))
        return configuration
    }

    @Test("TLS with a CA, a client certificate and peer and host name verification carries messages")
    func tlsRoundTrip() async throws {
        let configuration = try tlsConfiguration()
        let exchange = Broker.uniqueName("tls")
        let queue = Broker.uniqueName("tls.q")
        let topology = Broker.topology(exchange: exchange, queue: queue)
        let publisher = AMQPPublisher(configuration: configuration, topology: topology)
        let consumer = AMQPConsumer(configuration: configuration, queue: queue, topology: topology)
        let collector = DeliveryCollector(consumer)
        #expect(
            try await publisher.publish(
                AMQPMessage(body: Array("secret".utf8), messageId: "t-1"), exchange: exchange, routingKey: "k")
                == .confirmed)
        #expect(await collector.wait(for: 1).first?.message.body == Array("secret".utf8))
        await consumer.stop()
        await publisher.close()
    }

    @Test("TLS refuses a broker whose certificate another CA signed")
    func tlsWrongAuthority() throws {
        let configuration = try tlsConfiguration(ca: "other-ca.pem")
        #expect {
            try AMQPTopology(exchanges: [.init(name: "tls.never")]).declare(using: configuration)
        } throws: { ($0 as? AMQPError)?.code == .connectionFailed }
    }

    @Test("TLS refuses a host name the certificate does not name, unless told not to check it")
    func tlsHostName() throws {
        // The server certificate names localhost only.
        let mismatched = try tlsConfiguration(host: "127.0.0.1")
        #expect {
            try AMQPTopology(exchanges: [.init(name: "tls.never")]).declare(using: mismatched)
        } throws: { ($0 as? AMQPError)?.code == .connectionFailed }
        let unchecked = try tlsConfiguration(host: "127.0.0.1", verifyHostname: false)
        try AMQPTopology(exchanges: [.init(name: Broker.uniqueName("tls.ok"))]).declare(using: unchecked)
    }

    /// Publishes a stream of messages, restarts the broker in the middle of it, and checks that
    /// every publish was confirmed and every confirmed message was consumed at least once.
    @Test("The broker restarts mid-stream: every confirmed message is consumed at least once")
    func brokerRestart() async throws {
        let configuration = try Broker.configuration(name: "restart-test", restartable: true)
        let exchange = Broker.uniqueName("restart")
        let queue = Broker.uniqueName("restart.q")
        let topology = Broker.topology(exchange: exchange, queue: queue)
        let events = Shared<[String]>([])
        let publisher = AMQPPublisher(configuration: configuration, topology: topology, confirmWindow: 200) { event in
            events.update { $0.append("publisher \(event)") }
        }
        let consumer = AMQPConsumer(configuration: configuration, queue: queue, topology: topology, prefetch: 50) {
            event in events.update { $0.append("consumer \(event)") }
        }
        let collector = DeliveryCollector(consumer)
        // Publish in a steady stream that starts before the restart, goes on while the broker
        // is down and coming back, and ends 500 messages after it is up again.
        let confirmedCount = Shared(0)
        let restarted = Shared(false)
        let restart = Task {
            while confirmedCount.current < 500 { try await Task.sleep(for: .milliseconds(5)) }
            try await Broker.control("restart")
            restarted.update { $0 = true }
        }
        let (total, confirmed) = try await withThrowingTaskGroup(of: String?.self) { group in
            var index = 0
            var afterRestart = 0
            while afterRestart < 500 {
                let id = "r-\(index)"
                group.addTask {
                    let result = try await publisher.publish(
                        AMQPMessage(body: Array(id.utf8), messageId: id), exchange: exchange, routingKey: "k")
                    confirmedCount.update { $0 += 1 }
                    return result == .confirmed ? id : nil
                }
                index += 1
                if restarted.current { afterRestart += 1 }
                if index % 20 == 0 { try await Task.sleep(for: .milliseconds(10)) }
            }
            var ids: Set<String> = []
            for try await id in group { if let id { ids.insert(id) } }
            return (index, ids)
        }
        try await restart.value
        #expect(confirmed.count == total)
        // Redeliveries after the restart repeat some ids: wait for every id, not for a count.
        let consumed = await collector.wait(forIds: confirmed, timeout: .seconds(120))
        #expect(
            confirmed.subtracting(consumed).isEmpty,
            "confirmed but never consumed: \(confirmed.subtracting(consumed).count)")
        // Both sides saw the connection drop and come back.
        let log = events.current
        #expect(log.contains { $0.hasPrefix("publisher disconnected") })
        #expect(log.contains { $0.hasPrefix("consumer disconnected") })
        #expect(log.filter { $0.hasPrefix("consumer connected") }.count >= 2, "\(log)")
        await consumer.stop()
        await publisher.close()
    }
}
