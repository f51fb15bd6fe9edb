internal import CRabbitMQ
import Foundation
import Glibc
import Synchronization

/// What a ``ConnectionLoop`` drives: the publisher's or the consumer's protocol work. Every
/// method is called on the loop's thread, the only thread that touches the connection.
protocol ConnectionDriver: AnyObject, Sendable {
    /// After each (re)connection: declare, subscribe, resend.
    func connected(_ connection: RabbitConnection, epoch: Int) throws(AMQPError)
    /// Something the broker sent.
    func handle(_ event: RabbitConnection.Event, on connection: RabbitConnection) throws(AMQPError)
    /// Work callers queued (publishes, acknowledgements, a cancel).
    func runCommands(on connection: RabbitConnection) throws(AMQPError)
    /// The connection broke (or could not be made).
    func disconnected(_ error: AMQPError)
    /// No work is left: close and end the loop.
    var isFinished: Bool { get }
    /// The loop has ended; the connection is closed.
    func loopEnded()
    /// Whether queued work waits for ``runCommands(on:)`` (checked before the loop sleeps).
    var hasPendingCommands: Bool { get }
    /// Whether to read nothing more from the broker for now (a consumer holding all the bytes
    /// it may): the broker's sending backs up in TCP, and the loop sends heartbeats alone.
    var isInputPaused: Bool { get }
}

extension ConnectionDriver {
    var isInputPaused: Bool { false }
}

/// The thread that owns one connection.
///
/// rabbitmq-c connections must not be shared between threads, so each publisher and each
/// consumer runs one dedicated thread. The thread connects, lets its driver declare and
/// subscribe, then loops: run queued commands, read every frame already received, and sleep in
/// `poll(2)` on the socket and an `eventfd` that callers write to when they queue work. The poll
/// timeout is half the heartbeat interval, so heartbeats go out while handlers run elsewhere.
/// When the connection breaks it reconnects with doubling back-off.
final class ConnectionLoop: Sendable {
    let configuration: AMQPConfiguration
    private let driver: any ConnectionDriver
    private let wakeDescriptor: Int32
    private let name: String
    /// Set while the thread sleeps in `poll`: only then does a caller need to write the eventfd.
    private let sleeping = Atomic(false)

    init(configuration: AMQPConfiguration, driver: any ConnectionDriver, name: String) {
        self.configuration = configuration
        self.driver = driver
        self.name = name
        self.wakeDescriptor = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
    }

    deinit {
        close(wakeDescriptor)
    }

    func start() {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Wakes the thread to run newly queued commands (called after queueing them). A busy
    /// thread runs them on its next turn anyway: only a sleeping one is woken, which saves a
    /// system call per message under load. The store of `sleeping` before the loop's last look
    /// at its queue, and the load here after queueing, are sequentially consistent, so one of
    /// the two always sees the other.
    func wake() {
        guard sleeping.load(ordering: .sequentiallyConsistent) else { return }
        forceWake()
    }

    private func forceWake() {
        var one: UInt64 = 1
        _ = write(wakeDescriptor, &one, 8)
    }

    private func run() {
        var connection: RabbitConnection?
        var epoch = 0
        var rotation = NodeRotation(
            nodes: configuration.nodes, delays: configuration.reconnectDelay,
            start: Int.random(in: 0..<configuration.nodes.count))
        var pausedSince: ContinuousClock.Instant?
        while true {
            guard let open = connection else {
                if driver.isFinished { break }
                let node = rotation.next
                do throws(AMQPError) {
                    let fresh = try RabbitConnection(configuration, node: node)
                    epoch += 1
                    do throws(AMQPError) {
                        try driver.connected(fresh, epoch: epoch)
                    } catch {
                        fresh.close(politely: false)
                        throw error
                    }
                    connection = fresh
                    rotation.connected()
                } catch {
                    driver.disconnected(error.at(node))
                    let wait = rotation.failed()
                    sleeping.store(true, ordering: .sequentiallyConsistent)
                    if !driver.isFinished && wait > .zero { sleep(for: wait) }
                    sleeping.store(false, ordering: .sequentiallyConsistent)
                }
                continue
            }
            do throws(AMQPError) {
                try driver.runCommands(on: open)
                if driver.isFinished {
                    open.close(politely: true)
                    connection = nil
                    break
                }
                // Holding back input, for at most `longestPause` at a time: the broker closes a
                // connection whose writes stay blocked (its TCP send timeout), so past it one
                // round of what waits is read, and the pause starts again.
                let paused = driver.isInputPaused
                if !paused { pausedSince = nil }
                let since = pausedSince ?? .now
                if paused, ContinuousClock.now - since < Self.longestPause {
                    pausedSince = since
                    sleeping.store(true, ordering: .sequentiallyConsistent)
                    if !driver.hasPendingCommands && !driver.isFinished { sleep(for: heartbeatWait) }
                    sleeping.store(false, ordering: .sequentiallyConsistent)
                    try open.sendHeartbeat()
                    continue
                }
                if paused { pausedSince = .now }
                var handled = 0
                while handled < 512, paused || !driver.isInputPaused, let event = try open.nextEvent() {
                    try driver.handle(event, on: open)
                    handled += 1
                }
                open.releaseBuffers()
                if handled == 0 && !open.hasBufferedInput {
                    sleeping.store(true, ordering: .sequentiallyConsistent)
                    if !driver.hasPendingCommands && !driver.isFinished {
                        waitForActivity(socket: open.socketDescriptor)
                    }
                    sleeping.store(false, ordering: .sequentiallyConsistent)
                }
            } catch {
                open.close(politely: false)
                connection = nil
                driver.disconnected(error.at(open.node))
                rotation.lost()
            }
        }
        driver.loopEnded()
    }

    /// The longest input is held back at once (RabbitMQ closes a connection whose writes are
    /// blocked for its `send_timeout`, 30 s by default).
    static let longestPause = Duration.seconds(10)

    /// Half a heartbeat, at most a second: the longest the loop sleeps.
    private var heartbeatWait: Duration {
        let heartbeat = configuration.heartbeatSeconds
        return .milliseconds(heartbeat > 0 ? min(heartbeat * 500, 1000) : 1000)
    }

    /// Sleeps until the socket is readable, a caller wakes the loop, or half a heartbeat passes.
    private func waitForActivity(socket: Int32) {
        sleep(for: heartbeatWait, orUntilReadable: socket)
    }

    /// Sleeps for `delay` (a back-off, a pause), or until a caller wakes the loop (to stop, say)
    /// or, when given, the socket is readable.
    private func sleep(for delay: Duration, orUntilReadable socket: Int32? = nil) {
        var descriptors = [pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)]
        if let socket { descriptors.append(pollfd(fd: socket, events: Int16(POLLIN), revents: 0)) }
        let milliseconds = delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000
        _ = poll(&descriptors, nfds_t(descriptors.count), Int32(milliseconds))
        drainWakeups()
    }

    private func drainWakeups() {
        var count: UInt64 = 0
        _ = read(wakeDescriptor, &count, 8)
    }
}

extension AMQPTopology {
    /// Declares the topology once over a short-lived connection (what the ops CLI does).
    public func declare(using configuration: AMQPConfiguration) throws(AMQPError) {
        let connection = try RabbitConnection.toAnyNode(of: configuration)
        defer { connection.close(politely: true) }
        try connection.declare(self)
    }
}

/// Queue depths for operators: messages ready and consumers attached.
public func inspectQueues(
    _ names: [String], using configuration: AMQPConfiguration
) throws(AMQPError) -> [(
    queue: String, messages: Int, consumers: Int
)] {
    var result: [(String, Int, Int)] = []
    for name in names {
        // A passive declare of a missing queue closes the channel: one connection per queue.
        let connection = try RabbitConnection.toAnyNode(of: configuration)
        defer { connection.close(politely: true) }
        let (messages, consumers) = try connection.inspect(queue: name)
        result.append((name, messages, consumers))
    }
    return result
}
