public import Foundation
import FoundationNetworking

/// What a webhook receiver answered.
public enum WebhookResponse: Sendable, Hashable {
    /// An HTTP status: 2xx is delivered, anything else is tried again.
    case status(Int)
    /// No answer: refused, timed out, or the address does not resolve.
    case unreachable(String)

    public var isDelivered: Bool {
        if case .status(let code) = self { return (200..<300).contains(code) }
        return false
    }

    public var statusCode: Int? {
        if case .status(let code) = self { return code }
        return nil
    }
}

/// Posts webhooks; a test gives the handler its own.
public protocol WebhookSender: Sendable {
    func post(to url: String, headers: [String: String], body: [UInt8]) async -> WebhookResponse
}

/// Posts with URLSession (libcurl on Linux), waiting at most `timeout` for an answer.
public struct HTTPWebhookSender: WebhookSender {
    let session: URLSession
    let timeout: TimeInterval

    public init(timeout: TimeInterval = 10) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.httpShouldSetCookies = false
        session = URLSession(configuration: configuration)
        self.timeout = timeout
    }

    public func post(to url: String, headers: [String: String], body: [UInt8]) async -> WebhookResponse {
        guard let address = URL(string: url), let scheme = address.scheme, ["http", "https"].contains(scheme) else {
            return .unreachable("not an http(s) URL")
        }
        var request = URLRequest(url: address, timeoutInterval: timeout)
        request.httpMethod = "POST"
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = Data(body)
        do {
            let (_, response) = try await session.data(for: request)
            guard let http = response as? HTTPURLResponse else { return .unreachable("no HTTP response") }
            return .status(http.statusCode)
        } catch {
            return .unreachable(error.localizedDescription)
        }
    }
}
