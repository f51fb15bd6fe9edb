import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

/// What a webhook receiver answered, or why it could not.
public enum WebhookResponse: Sendable, Hashable {
    /// An HTTP status: 2xx is delivered, anything else is tried again.
    case status(Int)
    /// No answer, or not called at all (``WebhookFailure/isFinal``).
    case failed(WebhookFailure)

    public var isDelivered: Bool {
        if case .status(let code) = self { return (200..<300).contains(code) }
        return false
    }

    public var statusCode: Int? {
        if case .status(let code) = self { return code }
        return nil
    }

    /// The reason `notification.failed` and the delivery log give: `http_<status>` or a code.
    public var reason: String {
        switch self {
        case .status(let code): "http_\(code)"
        case .failed(let failure): failure.reason
        }
    }

    /// No retry can mend it: the delivery fails at once.
    public var isFinal: Bool {
        if case .failed(let failure) = self { return failure.isFinal }
        return false
    }
}

/// Posts webhooks; a test gives the handler its own.
public protocol WebhookSender: Sendable {
    func post(to url: String, headers: [String: String], body: [UInt8]) async -> WebhookResponse
}

/// Posts with async-http-client under ``WebhookAddressPolicy``: the host resolved and every
/// address checked, the connection made to the address checked (the client's DNS overridden for
/// the host; TLS still verifies the host's name), no redirects followed, `deadline` for the whole
/// delivery and at most `maximumResponseBytes` of an answer read.
public struct HTTPWebhookSender: WebhookSender {
    let policy: WebhookAddressPolicy
    let resolver: HostResolver
    let deadline: Duration
    let maximumResponseBytes: Int

    public init(
        policy: WebhookAddressPolicy, resolver: HostResolver = HostResolver(), deadline: Duration = .seconds(15),
        maximumResponseBytes: Int = 65_536
    ) {
        self.policy = policy
        self.resolver = resolver
        self.deadline = deadline
        self.maximumResponseBytes = maximumResponseBytes
    }

    public func post(to url: String, headers: [String: String], body: [UInt8]) async -> WebhookResponse {
        let target: WebhookAddressPolicy.Target
        switch policy.target(of: url) {
        case .failure(let failure): return .failed(failure)
        case .success(let checked): target = checked
        }
        let limit = deadline
        do {
            return try await withThrowingTaskGroup(of: WebhookResponse.self) { group in
                group.addTask { try await self.deliver(url, target, headers, body) }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return .failed(.timeout)
                }
                defer { group.cancelAll() }
                return try await group.next() ?? .failed(.timeout)
            }
        } catch {
            return .failed(Self.failure(of: error))
        }
    }

    private func deliver(
        _ url: String, _ target: WebhookAddressPolicy.Target, _ headers: [String: String], _ body: [UInt8]
    ) async throws -> WebhookResponse {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(10))
        configuration.decompression = .disabled
        if !target.isAllowedByOperator {
            let addresses = await resolver.addresses(of: target.host)
            try Task.checkCancellation()
            guard let first = addresses.first else { return .failed(.unresolvable) }
            guard addresses.allSatisfy(WebhookAddressPolicy.isPublic) else { return .failed(.addressNotAllowed) }
            // The client connects to this address for the host, whatever a second lookup would say.
            configuration.dnsOverride = [target.host: first.description, target.host.lowercased(): first.description]
        }
        let maximum = maximumResponseBytes
        let limit = TimeAmount(deadline)
        return try await HTTPClient.withHTTPClient(configuration: configuration) { client in
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(body)
            let response = try await client.execute(request, deadline: .now() + limit)
            _ = try await response.body.collect(upTo: maximum)
            return .status(Int(response.status.code))
        }
    }

    /// The code for a failure; its own text (addresses, library messages) stays out of events.
    static func failure(of error: any Error) -> WebhookFailure {
        if let failure = error as? WebhookFailure { return failure }
        if error is NIOTooManyBytesError { return .responseTooLarge }
        if error is CancellationError { return .timeout }
        if let client = error as? HTTPClientError {
            switch client {
            case .connectTimeout, .readTimeout, .writeTimeout, .deadlineExceeded: return .timeout
            default: break
            }
        }
        if let io = error as? IOError, io.errnoCode == ECONNREFUSED { return .refused }
        let text = String(reflecting: error)
        if text.contains("ECONNREFUSED") || text.contains("Connection refused") { return .refused }
        if text.contains("SSL") || text.contains("TLS") || text.contains("certificate") { return .tls }
        return .connectionFailed
    }
}
