/* The blocking publish and consume+ack scenarios on rabbitmq-c (librabbitmq),
 * the C client, as the floor of client CPU per message.
 *
 * `run.py` compiles this file at bench time when a C compiler and
 * librabbitmq's headers are present (Debian: librabbitmq-dev), and runs it
 * like `scenarios.py`:
 *
 *     rabbitmq_c URL blocking_publish SECONDS
 *     rabbitmq_c URL blocking_consume COUNT
 *
 * It prints one JSON object with the same keys as `scenarios.py` (count,
 * elapsed_s, msgs_per_s, cpu_us_per_msg, sys_us_per_msg), or {"error": ...}
 * and exit status 1. The work is the Python scenarios': 128-byte bodies to
 * a fresh queue through the default exchange, no properties; consuming
 * with prefetch 1000 and one basic.ack per message; the measured window
 * covers the same part (publishing ends with a queue.declare round trip;
 * the queue is filled before consuming starts).
 */
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define CHANNEL 1
#define BODY_SIZE 128
#define PREFETCH 1000

static char body_bytes[BODY_SIZE];

static void fail(const char *what) {
    printf("{\"error\": \"rabbitmq-c: %s\"}\n", what);
    exit(1);
}

static void check_reply(amqp_rpc_reply_t reply, const char *what) {
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        fail(what);
    }
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void cpu(double *user, double *system) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    *user = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6;
    *system = usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

struct window {
    double start, user, system;
};

static void window_open(struct window *w) {
    cpu(&w->user, &w->system);
    w->start = now();
}

static void window_report(const struct window *w, long count) {
    double elapsed = now() - w->start, user, system;
    cpu(&user, &system);
    user -= w->user;
    system -= w->system;
    printf("{\"count\": %ld, \"elapsed_s\": %.6f, \"msgs_per_s\": %.1f, "
           "\"cpu_us_per_msg\": %.4f, \"sys_us_per_msg\": %.4f, "
           "\"library\": \"rabbitmq-c %s\"}\n",
           count, elapsed, count / elapsed, (user + system) / count * 1e6,
           system / count * 1e6, amqp_version());
}

static amqp_connection_state_t open_connection(char *url) {
    struct amqp_connection_info info;
    amqp_default_connection_info(&info);
    if (amqp_parse_url(url, &info) != AMQP_STATUS_OK) {
        fail("cannot parse the URL");
    }
    if (info.vhost[0] == '\0') {
        info.vhost = "/"; /* as pika.URLParameters reads an empty path */
    }
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *socket = amqp_tcp_socket_new(conn);
    if (socket == NULL || amqp_socket_open(socket, info.host, info.port) != AMQP_STATUS_OK) {
        fail("cannot connect");
    }
    check_reply(amqp_login(conn, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user,
                           info.password),
                "login refused");
    amqp_channel_open(conn, CHANNEL);
    check_reply(amqp_get_rpc_reply(conn), "channel.open failed");
    return conn;
}

static uint32_t declare(amqp_connection_state_t conn, amqp_bytes_t queue, int passive) {
    amqp_queue_declare_ok_t *ok =
        amqp_queue_declare(conn, CHANNEL, queue, passive, 0, 0, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(conn), "queue.declare failed");
    return ok->message_count;
}

static void publish(amqp_connection_state_t conn, amqp_bytes_t queue) {
    amqp_bytes_t body = {BODY_SIZE, body_bytes};
    if (amqp_basic_publish(conn, CHANNEL, amqp_empty_bytes, queue, 0, 0, NULL, body) !=
        AMQP_STATUS_OK) {
        fail("basic.publish failed");
    }
}

static void finish(amqp_connection_state_t conn, amqp_bytes_t queue) {
    amqp_queue_delete(conn, CHANNEL, queue, 0, 0);
    amqp_channel_close(conn, CHANNEL, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
}

static void blocking_publish(amqp_connection_state_t conn, amqp_bytes_t queue, double seconds) {
    struct window w;
    long sent = 0;
    window_open(&w);
    double deadline = now() + seconds;
    while (now() < deadline) {
        for (int i = 0; i < 1000; i++) {
            publish(conn, queue);
        }
        sent += 1000;
    }
    declare(conn, queue, 1);
    window_report(&w, sent);
}

static void blocking_consume(amqp_connection_state_t conn, amqp_bytes_t queue, long count) {
    for (long i = 0; i < count; i++) {
        publish(conn, queue);
    }
    double deadline = now() + 60;
    while (declare(conn, queue, 1) < count) {
        if (now() > deadline) {
            fail("the queue never held every message");
        }
        usleep(50000);
    }
    amqp_basic_qos(conn, CHANNEL, 0, PREFETCH, 0);
    check_reply(amqp_get_rpc_reply(conn), "basic.qos failed");
    amqp_basic_consume(conn, CHANNEL, queue, amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(conn), "basic.consume failed");
    struct window w;
    window_open(&w);
    for (long received = 0; received < count; received++) {
        amqp_envelope_t envelope;
        amqp_maybe_release_buffers(conn);
        check_reply(amqp_consume_message(conn, &envelope, NULL, 0), "consuming failed");
        if (envelope.message.body.len != BODY_SIZE) {
            fail("a body of the wrong size");
        }
        if (amqp_basic_ack(conn, CHANNEL, envelope.delivery_tag, 0) != AMQP_STATUS_OK) {
            fail("basic.ack failed");
        }
        amqp_destroy_envelope(&envelope);
    }
    window_report(&w, count);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s URL blocking_publish SECONDS | blocking_consume COUNT\n",
                argv[0]);
        return 2;
    }
    memset(body_bytes, 'x', BODY_SIZE);
    char name[64];
    snprintf(name, sizeof name, "bench-c-%ld-%ld", (long)getpid(), (long)time(NULL));
    amqp_bytes_t queue = amqp_cstring_bytes(name);
    amqp_connection_state_t conn = open_connection(argv[1]);
    declare(conn, queue, 0);
    if (strcmp(argv[2], "blocking_publish") == 0) {
        blocking_publish(conn, queue, atof(argv[3]));
    } else if (strcmp(argv[2], "blocking_consume") == 0) {
        blocking_consume(conn, queue, atol(argv[3]));
    } else {
        fail("unknown scenario");
    }
    finish(conn, queue);
    return 0;
}
