#ifndef COVENANT_CRABBITMQ_SHIM_H
#define COVENANT_CRABBITMQ_SHIM_H

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#include <poll.h>
#include <sys/eventfd.h>

/// `amqp_login` and `amqp_login_with_properties` are variadic: Swift cannot call them.
/// These wrap their two SASL forms with fixed arguments.
static inline amqp_rpc_reply_t covenant_amqp_login_plain(
    amqp_connection_state_t state, const char *vhost, int channel_max, int frame_max,
    int heartbeat, const amqp_table_t *properties, const char *user, const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat,
                                      properties, AMQP_SASL_METHOD_PLAIN, user, password);
}

static inline amqp_rpc_reply_t covenant_amqp_login_external(
    amqp_connection_state_t state, const char *vhost, int channel_max, int frame_max,
    int heartbeat, const amqp_table_t *properties, const char *identity) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat,
                                      properties, AMQP_SASL_METHOD_EXTERNAL, identity);
}

/// Method ids and property flags are macros with casts, which Swift does not import.
static const amqp_method_number_t covenant_basic_deliver = AMQP_BASIC_DELIVER_METHOD;
static const amqp_method_number_t covenant_basic_ack = AMQP_BASIC_ACK_METHOD;
static const amqp_method_number_t covenant_basic_nack = AMQP_BASIC_NACK_METHOD;
static const amqp_method_number_t covenant_basic_return = AMQP_BASIC_RETURN_METHOD;
static const amqp_method_number_t covenant_basic_cancel = AMQP_BASIC_CANCEL_METHOD;
static const amqp_method_number_t covenant_basic_cancel_ok = AMQP_BASIC_CANCEL_OK_METHOD;
static const amqp_method_number_t covenant_channel_close = AMQP_CHANNEL_CLOSE_METHOD;
static const amqp_method_number_t covenant_channel_close_ok = AMQP_CHANNEL_CLOSE_OK_METHOD;
static const amqp_method_number_t covenant_connection_close = AMQP_CONNECTION_CLOSE_METHOD;
static const amqp_method_number_t covenant_connection_close_ok = AMQP_CONNECTION_CLOSE_OK_METHOD;
static const amqp_method_number_t covenant_connection_blocked = AMQP_CONNECTION_BLOCKED_METHOD;
static const amqp_method_number_t covenant_connection_unblocked = AMQP_CONNECTION_UNBLOCKED_METHOD;

static const amqp_flags_t covenant_flag_content_type = AMQP_BASIC_CONTENT_TYPE_FLAG;
static const amqp_flags_t covenant_flag_headers = AMQP_BASIC_HEADERS_FLAG;
static const amqp_flags_t covenant_flag_delivery_mode = AMQP_BASIC_DELIVERY_MODE_FLAG;
static const amqp_flags_t covenant_flag_correlation_id = AMQP_BASIC_CORRELATION_ID_FLAG;
static const amqp_flags_t covenant_flag_message_id = AMQP_BASIC_MESSAGE_ID_FLAG;
static const amqp_flags_t covenant_flag_timestamp = AMQP_BASIC_TIMESTAMP_FLAG;
static const amqp_flags_t covenant_flag_type = AMQP_BASIC_TYPE_FLAG;
static const amqp_flags_t covenant_flag_app_id = AMQP_BASIC_APP_ID_FLAG;
static const amqp_flags_t covenant_flag_user_id = AMQP_BASIC_USER_ID_FLAG;

#endif
