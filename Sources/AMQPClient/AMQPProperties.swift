import CRabbitMQ

/// A message's properties to and from rabbitmq-c's `amqp_basic_properties_t`.
extension AMQPMessage {
    /// The properties to publish the message with, their bytes in `arena`; `userId` is the
    /// `user_id` it goes out with.
    func properties(in arena: CArena, userId: String?) -> amqp_basic_properties_t {
        var properties = amqp_basic_properties_t()
        var flags: amqp_flags_t = covenant_flag_delivery_mode
        properties.delivery_mode = persistent ? 2 : 1
        func text(_ value: String?, _ flag: amqp_flags_t) -> amqp_bytes_t {
            guard let value else { return amqp_bytes_t(len: 0, bytes: nil) }
            flags |= flag
            return arena.bytes(value)
        }
        properties.content_type = text(contentType, covenant_flag_content_type)
        properties.message_id = text(messageId, covenant_flag_message_id)
        properties.type = text(type, covenant_flag_type)
        properties.correlation_id = text(correlationId, covenant_flag_correlation_id)
        properties.app_id = text(appId, covenant_flag_app_id)
        properties.user_id = text(userId, covenant_flag_user_id)
        if let timestamp {
            properties.timestamp = timestamp
            flags |= covenant_flag_timestamp
        }
        if !headers.isEmpty {
            properties.headers = arena.table(headers)
            flags |= covenant_flag_headers
        }
        properties._flags = flags
        return properties
    }

    /// A delivered message: its body and the properties rabbitmq-c read.
    init(body: [UInt8], properties: amqp_basic_properties_t) {
        let flags = properties._flags
        func text(_ flag: amqp_flags_t, _ bytes: amqp_bytes_t) -> String? {
            flags & flag != 0 ? FieldTableDecoding.string(bytes) : nil
        }
        self.init(
            body: body, messageId: text(covenant_flag_message_id, properties.message_id),
            contentType: text(covenant_flag_content_type, properties.content_type),
            type: text(covenant_flag_type, properties.type),
            timestamp: flags & covenant_flag_timestamp != 0 ? properties.timestamp : nil,
            correlationId: text(covenant_flag_correlation_id, properties.correlation_id),
            appId: text(covenant_flag_app_id, properties.app_id),
            userId: text(covenant_flag_user_id, properties.user_id),
            headers: flags & covenant_flag_headers != 0 ? FieldTableDecoding.table(properties.headers) : [:],
            persistent: flags & covenant_flag_delivery_mode != 0 && properties.delivery_mode == 2)
    }
}
