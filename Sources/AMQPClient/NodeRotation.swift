/// Which of a cluster's nodes a connection tries next, and how long it waits first.
///
/// A connection starts at one node (``init(nodes:delays:start:)``: spread over the cluster) and
/// stays while it lasts. When it is lost, the next node is tried at once: the lost one is likely
/// gone, the others likely not. A failed attempt moves on to the next node too, at once while
/// some node of the round is untried; once every node has failed in a row, the wait is the
/// back-off, doubling from the first delay to the last. A connection made ends the round and the
/// back-off. With one node this is the plain back-off: every failure waits.
public struct NodeRotation: Sendable {
    public let nodes: [AMQPConfiguration.Node]
    public let delays: ClosedRange<Duration>
    private var index: Int
    private var failuresInRow = 0
    private var delay: Duration

    public init(nodes: [AMQPConfiguration.Node], delays: ClosedRange<Duration>, start: Int = 0) {
        precondition(!nodes.isEmpty, "a broker has at least one node")
        self.nodes = nodes
        self.delays = delays
        self.index = ((start % nodes.count) + nodes.count) % nodes.count
        self.delay = delays.lowerBound
    }

    /// The node to try now.
    public var next: AMQPConfiguration.Node { nodes[index] }

    /// A connection to ``next`` was made.
    public mutating func connected() {
        failuresInRow = 0
        delay = delays.lowerBound
    }

    /// The connection to ``next`` was lost: the following node is tried at once.
    public mutating func lost() {
        index = (index + 1) % nodes.count
    }

    /// An attempt on ``next`` failed: moves on, and returns how long to wait before trying.
    public mutating func failed() -> Duration {
        index = (index + 1) % nodes.count
        failuresInRow += 1
        guard failuresInRow % nodes.count == 0 else { return .zero }
        let wait = delay
        delay = min(delay * 2, delays.upperBound)
        return wait
    }
}
