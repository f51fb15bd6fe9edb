import Testing

@testable import WorkerRuntime

@Suite("Rejections of messages without a message_id")
struct AnonymousCommandTests {
    @Test("The id comes from the body: the same for every delivery of it, different for another body")
    func idFromBody() {
        let first = Worker.anonymousCommandId(of: Array("{not json".utf8))
        #expect(first == Worker.anonymousCommandId(of: Array("{not json".utf8)))
        #expect(first != Worker.anonymousCommandId(of: Array("{not json!".utf8)))
        #expect(first.hasPrefix("delivery-") && first.utf8.count == "delivery-".utf8.count + 16)
        #expect(Worker.anonymousCommandId(of: []).hasPrefix("delivery-"))
    }
}
