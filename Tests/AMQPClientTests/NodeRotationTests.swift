import AMQPClient
import PropertyBased
import Testing

@Suite("Node rotation: which broker node a connection tries next, and how long it waits")
struct NodeRotationTests {
    enum Outcome: CaseIterable { case connected, lost, failed }

    static let outcomes = Gen.int(in: 0...2).map { Outcome.allCases[$0] }
    static let delays = Duration.milliseconds(100)...Duration.seconds(5)

    static func nodes(_ count: Int) -> [AMQPConfiguration.Node] {
        (0..<count).map { AMQPConfiguration.Node(host: "rabbit-\($0)", port: 5672) }
    }

    @Test(
        "Any run of outcomes: a loss or a failure moves to the next node; only a full round of failures waits, doubling"
    )
    func rotation() async {
        await propertyCheck(
            count: 300, input: Gen.int(in: 1...5), Gen.int(in: -10...10), Self.outcomes.array(of: 0...40)
        ) { count, start, outcomes in
            var rotation = NodeRotation(nodes: Self.nodes(count), delays: Self.delays, start: start)
            var position = ((start % count) + count) % count
            var failuresInRow = 0
            var expectedWait = Self.delays.lowerBound
            var triedThisRound: Set<AMQPConfiguration.Node> = []
            var isConnected = false
            for outcome in outcomes {
                #expect(rotation.next == Self.nodes(count)[position])
                // A connection in place can only be lost; one not in place is made or fails.
                switch isConnected ? .lost : outcome == .lost ? .failed : outcome {
                case .connected:
                    isConnected = true
                    rotation.connected()
                    failuresInRow = 0
                    expectedWait = Self.delays.lowerBound
                    triedThisRound = []
                case .lost:
                    isConnected = false
                    rotation.lost()
                    position = (position + 1) % count
                case .failed:
                    // No node is tried twice before every other one has been tried.
                    #expect(!triedThisRound.contains(rotation.next))
                    triedThisRound.insert(rotation.next)
                    let wait = rotation.failed()
                    failuresInRow += 1
                    position = (position + 1) % count
                    if failuresInRow % count == 0 {
                        #expect(wait == expectedWait)
                        expectedWait = min(expectedWait * 2, Self.delays.upperBound)
                        triedThisRound = []
                    } else {
                        #expect(wait == .zero)
                    }
                }
            }
        }
    }

    @Test("One node: every failure waits, doubling to the limit, as a lone broker's back-off always did")
    func singleNode() {
        var rotation = NodeRotation(nodes: Self.nodes(1), delays: Self.delays)
        let waits = (0..<8).map { _ in rotation.failed() }
        #expect(waits == [100, 200, 400, 800, 1600, 3200, 5000, 5000].map { Duration.milliseconds($0) })
        rotation.connected()
        #expect(rotation.failed() == .milliseconds(100))
    }

    @Test("Three nodes: the first node dies; the connection is on the second at once, with no wait")
    func moveOnLoss() {
        var rotation = NodeRotation(nodes: Self.nodes(3), delays: Self.delays)
        rotation.connected()
        #expect(rotation.next.host == "rabbit-0")
        rotation.lost()
        #expect(rotation.next.host == "rabbit-1")
        // The second is down too: the third, still at once; then the round is over and it waits.
        #expect(rotation.failed() == .zero && rotation.next.host == "rabbit-2")
        #expect(rotation.failed() == .zero && rotation.next.host == "rabbit-0")
        #expect(rotation.failed() == .milliseconds(100) && rotation.next.host == "rabbit-1")
    }
}

@Suite("Broker URLs naming several nodes")
struct ClusterURLTests {
    @Test("Comma-separated hosts: each node with its port or the default, one user and virtual host")
    func commaSeparatedHosts() throws {
        let configuration = try AMQPConfiguration(url: "amqps://svc:p%2Fss@rabbit-1,rabbit-2:5673,[::1]:5674/billing")
        #expect(
            configuration.nodes == [
                .init(host: "rabbit-1", port: 5671), .init(host: "rabbit-2", port: 5673),
                .init(host: "::1", port: 5674),
            ])
        #expect(
            configuration.user == "svc" && configuration.password == "p/ss" && configuration.virtualHost == "billing")
        #expect(configuration.tls != nil)
        #expect(configuration.description == "amqps://svc:***@rabbit-1:5671,rabbit-2:5673,[::1]:5674/billing")
    }

    @Test("A list of URLs is one cluster: they must agree on scheme, user, password and virtual host")
    func listOfURLs() throws {
        let list = try AMQPConfiguration(urls: ["amqp://u:p@a:1/", "amqp://u:p@b:2/", "amqp://u:p@a:1/"])
        #expect(list.nodes == [.init(host: "a", port: 1), .init(host: "b", port: 2)])
        for urls in [
            ["amqp://u:p@a/", "amqps://u:p@b/"], ["amqp://u:p@a/", "amqp://v:p@b/"],
            ["amqp://u:p@a/", "amqp://u:q@b/"],
            ["amqp://u:p@a/x", "amqp://u:p@b/y"], [],
        ] {
            #expect(throws: AMQPError.self, "\(urls)") { try AMQPConfiguration(urls: urls) }
        }
        for url in ["amqp://u:p@a,,b/", "amqp://u:p@a,/", "amqp://u:p@,a/", "amqp://u:p@a,b:port/"] {
            #expect(throws: AMQPError.self, "\(url)") { try AMQPConfiguration(url: url) }
        }
    }
}
