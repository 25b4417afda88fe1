/* The WebSocket load client of benchmarks/websockets.py: one thread, plain sockets and epoll.

   Built with the system compiler at benchmark time (gcc -O2), so that the load
   comes from a client that costs far less CPU than the server it measures.

   websockets_load PORT PATH fanout CLIENTS SENDERS MESSAGES SIZE WINDOW TIMEOUT
     Connects CLIENTS receivers and SENDERS senders to ws://127.0.0.1:PORT/PATH,
     waits until no frame has arrived for QUIET seconds (join notices), then the
     senders send MESSAGES text messages of SIZE bytes in all, round robin, while
     fewer than WINDOW messages are on their way to the slowest connection
     (closed loop: neither server is ever asked to buffer more than WINDOW
     frames per client). Stops when every connection has every message, or
     after TIMEOUT seconds. Every connection, senders too, receives every
     message; each text or binary frame received after the start counts.

   websockets_load PORT PATH idle CLIENTS TIMEOUT
     Connects CLIENTS clients (at most INFLIGHT handshakes at a time) and
     reports how long that took, then keeps reading their frames.

   Either way it prints `key value` lines, then waits for a line on stdin (the
   benchmark reads its CPU time and the server's memory meanwhile) and exits.
   Handshakes are plain HTTP/1.1 upgrades without extensions (no compression);
   client frames are masked, as RFC 6455 requires; pings are answered. */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define INFLIGHT 64
#define QUIET 0.5
#define OUTBUF (256 * 1024)

enum state { IDLE, CONNECTING, UPGRADING, OPEN, CLOSED };

struct conn {
    int fd;
    enum state state;
    int sender;
    char head[4096]; /* the handshake response, then a frame header being read */
    size_t head_len;
    unsigned char frame[14];
    size_t frame_len;
    uint64_t payload_left;
    int opcode;
    int fin;
    unsigned char control[125]; /* the payload of a ping being read */
    size_t control_len;
    unsigned char *out;
    size_t out_len, out_off;
    int want_out; /* EPOLLOUT is watched */
    long received; /* frames counted since the start */
};

static struct conn *conns;
static int nconns, epfd, port, counting;
static const char *path;
static long open_count, closed_count, failed_count, frames_total;
static double last_frame_at;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void watch(struct conn *c, uint32_t events, int op) {
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(epfd, op, c->fd, &ev) < 0) die("epoll_ctl");
}

static void close_conn(struct conn *c, int failed) {
    if (c->state == CLOSED) return;
    if (c->state == OPEN) open_count--;
    close(c->fd);
    c->state = CLOSED;
    closed_count++;
    if (failed) failed_count++;
}

static void flush_out(struct conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) break;
            close_conn(c, 1);
            return;
        }
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
    int want = c->out_len > 0;
    if (want != c->want_out || c->state == UPGRADING) {
        watch(c, EPOLLIN | (want ? EPOLLOUT : 0), EPOLL_CTL_MOD);
        c->want_out = want;
    }
}

static int queue_out(struct conn *c, const void *data, size_t len) {
    if (c->state == CLOSED) return 0;
    if (c->out_len + len > OUTBUF) return 0; /* the server stopped reading: never here */
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return 1;
}

/* A masked client frame (the mask is fixed: servers unmask, they do not judge it). */
static size_t client_frame(unsigned char *buf, int opcode, const unsigned char *data, size_t len) {
    static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    size_t n = 0;
    buf[n++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        buf[n++] = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        buf[n++] = 0x80 | 126;
        buf[n++] = (unsigned char)(len >> 8);
        buf[n++] = (unsigned char)len;
    } else {
        buf[n++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) buf[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    memcpy(buf + n, mask, 4);
    n += 4;
    for (size_t i = 0; i < len; i++) buf[n + i] = data[i] ^ mask[i % 4];
    return n + len;
}

static void start_connect(struct conn *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) die("socket");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS)
        die("connect");
    c->state = CONNECTING;
    watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void send_upgrade(struct conn *c) {
    char request[1024];
    int n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, port);
    c->state = UPGRADING;
    queue_out(c, request, (size_t)n);
    flush_out(c);
}

static void frame_done(struct conn *c) {
    if (c->opcode == 9) { /* ping: answer with the same payload */
        unsigned char pong[140];
        size_t n = client_frame(pong, 10, c->control, c->control_len);
        queue_out(c, pong, n);
        flush_out(c);
    } else if (c->opcode == 8) {
        close_conn(c, 0);
        return;
    } else if (c->fin && c->opcode != 10) {
        frames_total++;
        last_frame_at = now();
        if (counting) c->received++;
    }
    c->frame_len = 0;
    c->control_len = 0;
}

/* Consume server frames (never masked) from data; only counts and control payloads are kept. */
static void parse_frames(struct conn *c, const unsigned char *data, size_t len) {
    size_t i = 0;
    while (i < len && c->state == OPEN) {
        if (c->payload_left == 0 && c->frame_len < 14) {
            c->frame[c->frame_len++] = data[i++];
            if (c->frame_len < 2) continue;
            size_t need = 2;
            unsigned lenbyte = c->frame[1] & 0x7f;
            if (lenbyte == 126) need = 4;
            if (lenbyte == 127) need = 10;
            if (c->frame_len < need) continue;
            uint64_t plen = lenbyte;
            if (lenbyte == 126) plen = ((uint64_t)c->frame[2] << 8) | c->frame[3];
            if (lenbyte == 127) {
                plen = 0;
                for (int k = 2; k < 10; k++) plen = (plen << 8) | c->frame[k];
            }
            int opcode = c->frame[0] & 0x0f;
            if (opcode != 0) c->opcode = opcode; /* a continuation keeps its message's opcode */
            c->fin = c->frame[0] >> 7;
            c->payload_left = plen;
            c->frame_len = 14; /* header complete */
            if (plen == 0) frame_done(c);
            continue;
        }
        size_t take = len - i < c->payload_left ? len - i : (size_t)c->payload_left;
        if (c->opcode >= 8 && c->control_len + take <= sizeof c->control) {
            memcpy(c->control + c->control_len, data + i, take);
            c->control_len += take;
        }
        i += take;
        c->payload_left -= take;
        if (c->payload_left == 0) frame_done(c);
    }
}

static void on_readable(struct conn *c) {
    static unsigned char buf[256 * 1024];
    for (int once = 0; once < 1; once++) { /* epoll is level-triggered: one read per event */
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EAGAIN) return;
            close_conn(c, c->state != OPEN);
            return;
        }
        if (n == 0) {
            close_conn(c, c->state != OPEN);
            return;
        }
        size_t off = 0;
        if (c->state == UPGRADING) {
            size_t room = sizeof c->head - 1 - c->head_len;
            size_t take = (size_t)n < room ? (size_t)n : room;
            memcpy(c->head + c->head_len, buf, take);
            c->head_len += take;
            c->head[c->head_len] = 0;
            char *end = strstr(c->head, "\r\n\r\n");
            if (end == NULL) {
                if (take < (size_t)n) close_conn(c, 1);
                return;
            }
            if (strncmp(c->head, "HTTP/1.1 101", 12) != 0) {
                close_conn(c, 1);
                return;
            }
            off = (size_t)(end + 4 - c->head) - (c->head_len - take);
            c->state = OPEN;
            open_count++;
        }
        if (c->state == OPEN) parse_frames(c, buf + off, (size_t)n - off);
        if (c->state == CLOSED) return;
    }
}

static void on_event(struct conn *c, uint32_t events) {
    if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
            close_conn(c, 1);
            return;
        }
        send_upgrade(c);
        return;
    }
    if (events & EPOLLIN) on_readable(c);
    if (c->state != CLOSED && (events & EPOLLOUT)) flush_out(c);
    if (c->state != CLOSED && (events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
        close_conn(c, 1);
}

static void poll_once(int timeout_ms) {
    struct epoll_event events[512];
    int n = epoll_wait(epfd, events, 512, timeout_ms);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) on_event(events[i].data.ptr, events[i].events);
}

/* Open every connection, INFLIGHT handshakes at a time; return the seconds it took. */
static double connect_all(double timeout) {
    double started = now();
    int next = 0;
    while (now() - started < timeout) {
        int pending = 0;
        for (int i = 0; i < next; i++)
            if (conns[i].state == CONNECTING || conns[i].state == UPGRADING) pending++;
        while (next < nconns && pending < INFLIGHT) {
            start_connect(&conns[next++]);
            pending++;
        }
        if (next == nconns && pending == 0) break;
        poll_once(10);
    }
    return now() - started;
}

static void wait_quiet(double quiet, double timeout) {
    double started = now();
    last_frame_at = now();
    while (now() - last_frame_at < quiet && now() - started < timeout) poll_once(10);
}

static long min_received(void) {
    long lowest = -1;
    for (int i = 0; i < nconns; i++)
        if (conns[i].state == OPEN && (lowest < 0 || conns[i].received < lowest))
            lowest = conns[i].received;
    return lowest < 0 ? 0 : lowest;
}

static void report_and_wait(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    printf("client_cpu_seconds %.3f\n", usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
                                            usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6);
    printf("ready 1\n");
    fflush(stdout);
    /* Keep reading (and answering pings) until the benchmark writes a line. */
    struct conn input = {.fd = 0, .state = IDLE};
    watch(&input, EPOLLIN, EPOLL_CTL_ADD);
    for (;;) {
        struct epoll_event events[512];
        int n = epoll_wait(epfd, events, 512, 1000);
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == &input) return;
            on_event(events[i].data.ptr, events[i].events);
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s PORT PATH fanout|idle ...\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    path = argv[2];
    const char *mode = argv[3];
    int fanout = strcmp(mode, "fanout") == 0;
    if (fanout ? argc != 10 : argc != 6) {
        fprintf(stderr, "usage: see the comment at the top of websockets_load.c\n");
        return 2;
    }
    int clients = atoi(argv[4]);
    int senders = fanout ? atoi(argv[5]) : 0;
    long messages = fanout ? atol(argv[6]) : 0;
    size_t size = fanout ? (size_t)atol(argv[7]) : 0;
    long window = fanout ? atol(argv[8]) : 0;
    double timeout = atof(argv[fanout ? 9 : 5]);
    nconns = clients + senders;
    struct rlimit limit = {nconns + 64, nconns + 64};
    if (setrlimit(RLIMIT_NOFILE, &limit) < 0) die("setrlimit");
    conns = calloc((size_t)nconns, sizeof *conns);
    epfd = epoll_create1(0);
    if (conns == NULL || epfd < 0) die("setup");
    for (int i = 0; i < nconns; i++) {
        conns[i].out = malloc(OUTBUF);
        if (conns[i].out == NULL) die("malloc");
        conns[i].sender = i >= clients;
    }
    double connect_seconds = connect_all(timeout);
    printf("connected %ld\nconnect_seconds %.4f\nfailed %ld\n", open_count, connect_seconds,
           failed_count);
    if (!fanout) {
        wait_quiet(QUIET, timeout);
        printf("frames_received %ld\n", frames_total);
        report_and_wait();
        return 0;
    }
    wait_quiet(QUIET, timeout);
    unsigned char *payload = malloc(size);
    unsigned char *frame = malloc(size + 14);
    if (payload == NULL || frame == NULL) die("malloc");
    memset(payload, 'm', size);
    size_t frame_len = client_frame(frame, 1, payload, size);
    counting = 1;
    long sent = 0;
    int turn = 0;
    double started = now();
    for (;;) {
        long lowest = min_received();
        if (lowest >= messages || open_count == 0 || now() - started > timeout) break;
        int tries = 0;
        while (sent < messages && sent - lowest < window && tries++ < senders) {
            struct conn *c = &conns[clients + turn];
            turn = (turn + 1) % senders;
            if (c->state != OPEN) continue;
            tries = 0;
            if (!queue_out(c, frame, frame_len)) break;
            flush_out(c);
            sent++;
        }
        poll_once(10);
    }
    double elapsed = now() - started;
    long delivered = 0;
    for (int i = 0; i < nconns; i++)
        delivered += conns[i].received < messages ? conns[i].received : messages;
    printf("sent %ld\ndelivered %ld\nelapsed %.4f\nopen %ld\n", sent, delivered, elapsed,
           open_count);
    report_and_wait();
    return 0;
}
