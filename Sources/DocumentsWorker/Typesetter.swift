import Dispatch
import Foundation
import Glibc
import Synchronization

/// A warm typesetter process (`scripts/typesetter`: Typst, kept warm in one process, fed the
/// document's data as JSON) and the one request it works on at a time.
///
/// The process is started at the first request and again after it ends (a crash, a kill, a
/// request that outlasted ``Configuration/timeout``, after which it is killed). Requests queue
/// behind each other; the blocking reads and writes run on a dispatch queue of its own, never on
/// Swift's cooperative threads. A worker keeps one typesetter per core.
public final class Typesetter: Sendable {
    public struct Configuration: Sendable {
        /// The Python that has `typst` (scripts/install-deps makes its venv).
        public var python: String
        /// `scripts/typesetter`.
        public var script: String
        /// The Typst template (`templates/invoice.typ`).
        public var template: String
        /// Where logos are cached for the compiler (its root).
        public var cacheDirectory: String
        /// The longest one document may take before the process is killed.
        public var timeout: Duration = .seconds(30)

        public init(python: String, script: String, template: String, cacheDirectory: String) {
            self.python = python
            self.script = script
            self.template = template
            self.cacheDirectory = cacheDirectory
        }
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// The typesetter refused this document (its data does not fit the template): the same
        /// data would fail again.
        case refused(String)
        /// The process could not be started, ended, or took too long: another try may succeed.
        case unavailable(String)

        public var description: String {
            switch self {
            case .refused(let message): "the typesetter refused the document: \(message)"
            case .unavailable(let message): "the typesetter is unavailable: \(message)"
            }
        }
    }

    private final class Child: @unchecked Sendable {
        let process: Process
        let input: FileHandle
        let output: FileHandle
        init(process: Process, input: FileHandle, output: FileHandle) {
            self.process = process
            self.input = input
            self.output = output
        }
    }

    public let configuration: Configuration
    private let queue = DispatchQueue(label: "covenant.typesetter")
    private let child = Mutex<Child?>(nil)
    /// Processes started so far (a restart shows here).
    private let starts = Atomic(0)

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    deinit {
        if let running = child.withLock({ $0 }) { kill(running.process.processIdentifier, SIGKILL) }
    }

    public var processesStarted: Int { starts.load(ordering: .relaxed) }

    /// The PDF of one document's data.
    public func typeset(_ data: [UInt8]) async throws(Failure) -> [UInt8] {
        let result: Result<[UInt8], Failure> = await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.typesetNow(data)) }
        }
        return try result.get()
    }

    /// Stops the process: SIGKILL (it keeps nothing worth a goodbye). Waiting for it to end
    /// at the end of its input could wait for ever: a typesetter started beside it may hold a
    /// copy of its input's write end, and the input never ends while that one runs.
    public func stop() {
        queue.sync {
            child.withLock { child in
                if let running = child {
                    kill(running.process.processIdentifier, SIGKILL)
                    try? running.input.close()
                    running.process.waitUntilExit()
                }
                child = nil
            }
        }
    }

    private func typesetNow(_ data: [UInt8]) -> Result<[UInt8], Failure> {
        let running: Child
        do {
            running = try current()
        } catch {
            return .failure(error)
        }
        // Killed if it takes too long (SIGKILL: a SIGTERM the process inherited as ignored would
        // not stop it): the read below then ends.
        let deadline = DispatchWorkItem { kill(running.process.processIdentifier, SIGKILL) }
        DispatchQueue.global().asyncAfter(
            deadline: .now() + .seconds(Int(configuration.timeout.components.seconds)), execute: deadline)
        defer { deadline.cancel() }
        do {
            var length = UInt32(data.count).bigEndian
            try running.input.write(contentsOf: Data(bytes: &length, count: 4) + Data(data))
            let header = try read(5, from: running.output)
            let size = Int(
                UInt32(header[1]) << 24 | UInt32(header[2]) << 16 | UInt32(header[3]) << 8 | UInt32(header[4]))
            let body = try read(size, from: running.output)
            if header[0] == 0 { return .success(body) }
            return .failure(.refused(String(decoding: body, as: UTF8.self)))
        } catch {
            kill(running.process.processIdentifier, SIGKILL)
            child.withLock { $0 = nil }
            return .failure(.unavailable("the process ended (\(error))"))
        }
    }

    private struct EndOfOutput: Error {}

    private func read(_ count: Int, from handle: FileHandle) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            guard let chunk = try handle.read(upToCount: count - bytes.count), !chunk.isEmpty else {
                throw EndOfOutput()
            }
            bytes += chunk
        }
        return bytes
    }

    private func current() throws(Failure) -> Child {
        if let running = child.withLock({ $0 }), running.process.isRunning { return running }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: configuration.python)
        process.arguments = [configuration.script, configuration.template, configuration.cacheDirectory]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw .unavailable("cannot start \(configuration.python) \(configuration.script): \(error)")
        }
        starts.add(1, ordering: .relaxed)
        let started = Child(process: process, input: input.fileHandleForWriting, output: output.fileHandleForReading)
        child.withLock { $0 = started }
        return started
    }
}
