/*
 * The C baseline for the AMQP client benchmark: the same work as Benchmarks/AMQPThroughput,
 * written directly against rabbitmq-c 0.11 in a tight single-threaded loop.
 *
 *   baseline publish HOST PORT QUEUE COUNT SIZE WINDOW   persistent messages, confirms pipelined
 *   baseline consume HOST PORT QUEUE COUNT PREFETCH      manual ack of every message
 *
 * Prints "<messages per second>" on one line.
 */
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void check(amqp_rpc_reply_t reply, const char *what) {
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        fprintf(stderr, "%s failed (%d)\n", what, reply.reply_type);
        exit(1);
    }
}

static amqp_connection_state_t open_connection(const char *host, int port, const char *queue) {
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *socket = amqp_tcp_socket_new(conn);
    if (amqp_socket_open(socket, host, port) != AMQP_STATUS_OK) {
        fprintf(stderr, "cannot connect\n");
        exit(1);
    }
    check(amqp_login(conn, "/", 0, 131072, 30, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
    amqp_channel_open(conn, 1);
    check(amqp_get_rpc_reply(conn), "channel.open");
    amqp_table_entry_t entry = {.key = amqp_cstring_bytes("x-queue-type"),
                                .value = {.kind = AMQP_FIELD_KIND_UTF8,
                                          .value = {.bytes = amqp_cstring_bytes("quorum")}}};
    amqp_table_t args = {.num_entries = 1, .entries = &entry};
    amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, args);
    check(amqp_get_rpc_reply(conn), "queue.declare");
    return conn;
}

static int publish(const char *host, int port, const char *queue, long count, int size, long window) {
    amqp_connection_state_t conn = open_connection(host, port, queue);
    amqp_confirm_select(conn, 1);
    check(amqp_get_rpc_reply(conn), "confirm.select");
    char *body = malloc(size);
    memset(body, 'x', size);
    amqp_bytes_t payload = {.len = size, .bytes = body};
    long sent = 0, confirmed = 0;
    char id[32];
    double start = now();
    while (confirmed < count) {
        while (sent < count && sent - confirmed < window) {
            amqp_basic_properties_t props;
            snprintf(id, sizeof id, "m-%ld", sent);
            props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                           AMQP_BASIC_CONTENT_TYPE_FLAG;
            props.delivery_mode = 2;
            props.message_id = amqp_cstring_bytes(id);
            props.content_type = amqp_cstring_bytes("application/cloudevents+json");
            if (amqp_basic_publish(conn, 1, amqp_empty_bytes, amqp_cstring_bytes(queue), 1, 0,
                                   &props, payload) != AMQP_STATUS_OK) {
                fprintf(stderr, "publish failed\n");
                return 1;
            }
            sent++;
        }
        amqp_frame_t frame;
        if (amqp_simple_wait_frame(conn, &frame) != AMQP_STATUS_OK) {
            fprintf(stderr, "wait failed\n");
            return 1;
        }
        if (frame.frame_type == AMQP_FRAME_METHOD && frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *ack = frame.payload.method.decoded;
            confirmed = ack->multiple ? (long)ack->delivery_tag : confirmed + 1;
        }
        amqp_maybe_release_buffers(conn);
    }
    double elapsed = now() - start;
    printf("%.0f\n", count / elapsed);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    return 0;
}

static int consume(const char *host, int port, const char *queue, long count, int prefetch) {
    amqp_connection_state_t conn = open_connection(host, port, queue);
    amqp_basic_qos(conn, 1, 0, prefetch, 0);
    check(amqp_get_rpc_reply(conn), "basic.qos");
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    check(amqp_get_rpc_reply(conn), "basic.consume");
    long received = 0;
    double start = 0;
    while (received < count) {
        amqp_envelope_t envelope;
        amqp_maybe_release_buffers(conn);
        check(amqp_consume_message(conn, &envelope, NULL, 0), "consume");
        if (received == 0) start = now();
        amqp_basic_ack(conn, 1, envelope.delivery_tag, 0);
        amqp_destroy_envelope(&envelope);
        received++;
    }
    double elapsed = now() - start;
    printf("%.0f\n", (count - 1) / elapsed);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 7 && strcmp(argv[1], "publish") == 0 && argc == 8)
        return publish(argv[2], atoi(argv[3]), argv[4], atol(argv[5]), atoi(argv[6]), atol(argv[7]));
    if (argc == 7 && strcmp(argv[1], "consume") == 0)
        return consume(argv[2], atoi(argv[3]), argv[4], atol(argv[5]), atoi(argv[6]));
    fprintf(stderr, "usage: baseline publish HOST PORT QUEUE COUNT SIZE WINDOW | consume HOST PORT QUEUE COUNT PREFETCH\n");
    return 2;
}
