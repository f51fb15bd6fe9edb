import CovenantMessages
public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
public import Prometheus
public import ServiceLifecycle

/// What `/health` says of a worker.
public struct HealthReport: Sendable, Hashable {
    public var queue: String
    public var broker: Bool
    public var consuming: Bool
    /// Events committed and not yet confirmed by the broker (nil when the database did not answer).
    public var outboxBacklog: Int?

    /// Whether the database answered.
    public var database: Bool { outboxBacklog != nil }

    public var isReady: Bool { broker && database && consuming }

    var json: JSONValue {
        var members: JSONObject = [
            "status": .string(isReady ? "ready" : "not_ready"), "queue": .string(queue), "broker": .bool(broker),
            "database": .bool(database), "consuming": .bool(consuming),
        ]
        if let outboxBacklog { members["outbox_backlog"] = .number(String(outboxBacklog)) }
        return .object(members)
    }
}

/// The worker's operations endpoint on `host:port`: `GET /health` (200 when ready, else 503,
/// with what is and is not up) and `GET /metrics` (Prometheus text format).
public struct OperationsServer: Service {
    let host: String
    let port: Int
    let registry: PrometheusCollectorRegistry
    let health: @Sendable () async -> HealthReport
    let logger: Logger

    public init(
        host: String, port: Int, registry: PrometheusCollectorRegistry,
        health: @escaping @Sendable () async -> HealthReport, logger: Logger
    ) {
        self.host = host
        self.port = port
        self.registry = registry
        self.health = health
        self.logger = logger
    }

    public func run() async throws {
        let registry = registry
        let health = health
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(
                        OperationsHandler(registry: registry, health: health))
                }
            }
            .bind(host: host, port: port).get()
        logger.info("operations endpoint listening", metadata: ["address": "\(host):\(port)"])
        try? await gracefulShutdown()
        try await channel.close()
    }
}

/// Answers one request at a time on a connection: `/health`, `/metrics`, 404 otherwise.
final class OperationsHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let registry: PrometheusCollectorRegistry
    let health: @Sendable () async -> HealthReport

    init(registry: PrometheusCollectorRegistry, health: @escaping @Sendable () async -> HealthReport) {
        self.registry = registry
        self.health = health
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let request) = unwrapInboundIn(data) else { return }
        let path = request.uri.split(separator: "?").first.map(String.init) ?? request.uri
        let keepAlive = request.isKeepAlive
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let promise = context.eventLoop.makePromise(of: (HTTPResponseStatus, String, [UInt8]).self)
        let registry = registry
        let health = health
        promise.completeWithTask {
            switch (request.method, path) {
            case (.GET, "/health"):
                let report = await health()
                return (report.isReady ? .ok : .serviceUnavailable, "application/json", report.json.serialized())
            case (.GET, "/metrics"):
                _ = await health()  // refreshes the sampled gauges (outbox backlog)
                return (.ok, "text/plain; version=0.0.4", registry.emitToBuffer())
            default:
                return (.notFound, "text/plain", Array("not found\n".utf8))
            }
        }
        promise.futureResult.whenSuccess { status, contentType, body in
            let context = bound.value
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: contentType)
            headers.add(name: "Content-Length", value: String(body.count))
            headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
            context.write(
                NIOAny(
                    HTTPServerResponsePart.head(
                        HTTPResponseHead(version: request.version, status: status, headers: headers))),
                promise: nil)
            context.write(
                NIOAny(HTTPServerResponsePart.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))),
                promise: nil)
            let done = context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)))
            if !keepAlive { done.whenComplete { _ in bound.value.close(promise: nil) } }
        }
    }
}
