import AMQPClient
import Testing
import WorkerRuntime

@Suite("What a worker logs of its broker connections")
struct BrokerLinkLogTests {
    static let one = AMQPConfiguration.Node(host: "rabbit-1", port: 5672)
    static let two = AMQPConfiguration.Node(host: "rabbit-2", port: 5672)

    @Test("A node dies: the loss names it, failed attempts follow, and the move names both nodes")
    func moveToAnotherNode() {
        var log = BrokerLinkLog()
        let lost = AMQPError(.connectionClosed, "node rabbit-1:5672: reading: connection reset")
        let refused = AMQPError(.connectionFailed, "node rabbit-1:5672: cannot connect: connection refused")
        let lines = [
            log.record(.connected(epoch: 1, node: Self.one)), log.record(.disconnected(lost)),
            log.record(.disconnected(refused)), log.record(.connected(epoch: 2, node: Self.two)),
        ]
        #expect(lines[0] == .connected(to: Self.one))
        #expect(lines[1] == .lost(from: Self.one, reason: lost.description))
        #expect(lines[2] == .attemptFailed(reason: refused.description))
        #expect(lines[3] == .reconnected(to: Self.two, from: Self.one))
        #expect(
            lines[3].text(link: "consumer")
                == "consumer moved from broker node rabbit-1:5672 to broker node rabbit-2:5672")
        #expect(log.current == Self.two)
        // Back on the same node (a lone broker restarted): no move is claimed.
        _ = log.record(.disconnected(lost))
        let again = log.record(.connected(epoch: 3, node: Self.two))
        #expect(again.text(link: "relay") == "relay connected again to broker node rabbit-2:5672")
    }
}
