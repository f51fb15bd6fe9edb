import Foundation
public import Glibc

/// Helper processes of the tests (workers, a webhook receiver): spawned with default signal
/// handling and nothing blocked (the test runner's threads may block SIGTERM, and a child
/// inherits its parent thread's mask), so SIGTERM stops them as it would in production.
public enum ChildProcess {
    /// Starts `path` with `arguments`, this process's environment plus `environment`, and its
    /// output appended to `output` (discarded when `nil`).
    public static func spawn(
        _ path: String, arguments: [String] = [], environment: [String: String] = [:], output: String? = nil
    ) throws -> pid_t {
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        var all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let target = output ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 1, target, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var pid: pid_t = 0
        let status = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard status == 0 else { throw SpawnError(path: path, code: status) }
        return pid
    }

    /// The wait status once `pid` exits.
    public static func waitForExit(_ pid: pid_t) async -> Int32 {
        await Task.detached {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            return status
        }.value
    }

    public struct SpawnError: Error, CustomStringConvertible {
        public let path: String
        public let code: Int32
        public var description: String { "posix_spawn \(path) failed: \(String(cString: strerror(code)))" }
    }
}

/// Children a test started: stopped with SIGTERM at the test's end, or killed when the test
/// leaves early (a failed `#require`), so no worker outlives its test and competes for the
/// next test's queue.
public final class ChildGroup {
    private var running: [pid_t] = []

    public init() {}

    public func add(_ pid: pid_t) { running.append(pid) }

    /// SIGTERM to every child, then each one's wait status.
    public func stop() async -> [Int32] {
        let children = running
        running = []
        for pid in children { kill(pid, SIGTERM) }
        var statuses: [Int32] = []
        for pid in children { statuses.append(await ChildProcess.waitForExit(pid)) }
        return statuses
    }

    deinit {
        for pid in running {
            kill(pid, SIGKILL)
            waitpid(pid, nil, 0)
        }
    }
}
