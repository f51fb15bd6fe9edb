import CovenantMessages
import Testing
import WorkerRuntime

@Suite("Event ids")
struct EventIdTests {
    @Test(
        "An event's id is its tenant, its command's id, type and key while that fits the 255 bytes of an AMQP message_id; past them, a digest of it, the same for the same command and different for another"
    )
    func longIds() throws {
        let events = EventFactory(source: "covenant/test")
        func id(causation: String, key: String? = nil, tenant: String = "acme") throws -> String {
            let message = events.event(
                "invoice.ready", tenantId: tenant, causationId: causation, data: .object([:]),
                time: "2025-02-01T00:00:00Z",
                key: key)
            let decoded = try CloudEvent.decode(message.body).get()
            #expect(decoded.id == message.messageId)
            return message.messageId
        }
        #expect(try id(causation: "cmd-1") == "acme/cmd-1:invoice.ready:0")
        // Ids are scoped by tenant: another tenant's command of the same id makes other events.
        #expect(try id(causation: "cmd-1", tenant: "beta") == "beta/cmd-1:invoice.ready:0")
        // 255 bytes exactly: as it is.
        let fits = String(repeating: "c", count: 255 - "acme/:invoice.ready:0".utf8.count)
        #expect(try id(causation: fits) == "acme/" + fits + ":invoice.ready:0")
        let long = try id(causation: "cmd-1", key: String(repeating: "é", count: 200))
        #expect(long.utf8.count <= 255 && long.hasPrefix("sha256-"))
        #expect(try id(causation: "cmd-1", key: String(repeating: "é", count: 200)) == long)
        #expect(try id(causation: "cmd-2", key: String(repeating: "é", count: 200)) != long)
        #expect(try id(causation: fits + "c") != id(causation: fits))
        #expect(try id(causation: fits + "c").utf8.count <= 255)
    }
}
