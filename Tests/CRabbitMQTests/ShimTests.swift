import CRabbitMQ
import Testing

@Suite("rabbitmq-c shim")
struct ShimTests {
    @Test("The linked rabbitmq-c is 0.11 and a connection state can be made and freed")
    func linksLibrary() throws {
        let version = String(cString: amqp_version())
        #expect(version.hasPrefix("0.11."))
        let state = try #require(amqp_new_connection())
        #expect(amqp_get_sockfd(state) == -1)  // not connected yet
        #expect(amqp_destroy_connection(state) == AMQP_STATUS_OK.rawValue)
    }

}
