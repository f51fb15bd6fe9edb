import CovenantMessages
public import Foundation
public import Logging
public import ServiceLifecycle
import WorkerStores

/// Runs the ``BillingClockTicker`` in the provisioning process until a graceful shutdown.
public struct BillingClockService: Service {
    /// Where the clock reads the time.
    public enum TimeSource: Sendable {
        /// The system clock: production.
        case system
        /// An RFC 3339 instant read from a file at each tick, for demos and tests that move
        /// time on by writing it (`COVENANT_CLOCK_FILE`). Never for production.
        case file(String)

        public func now() -> Date? {
            switch self {
            case .system: return Date()
            case .file(let path):
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
                return RFC3339.instant(text.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
    }

    let ticker: BillingClockTicker
    let time: TimeSource
    let interval: Duration
    let logger: Logger

    public init(ticker: BillingClockTicker, time: TimeSource, interval: Duration, logger: Logger) {
        self.ticker = ticker
        self.time = time
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if let now = time.now() {
                do {
                    let tick = try await ticker.tick(at: now)
                    for (tenant, runs) in tick.runs.sorted(by: { $0.key < $1.key }) {
                        logger.info(
                            "billing runs started",
                            metadata: ["tenant.id": "\(tenant)", "as_of": "\(runs.map(\.description))"])
                    }
                    for contract in tick.reminders {
                        logger.info("contract.expiring published", metadata: ["contract.id": "\(contract)"])
                    }
                } catch {
                    logger.warning(
                        "clock tick failed; trying again", metadata: ["error": "\(loggableDescription(of: error))"])
                }
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
