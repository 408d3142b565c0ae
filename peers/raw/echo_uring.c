/*
 * An io_uring echo server (liburing), used by benches/echo_compare.sh to
 * see how far a completion-based server gets past the readiness bound on
 * this kernel: one thread, one ring (SINGLE_ISSUER | DEFER_TASKRUN when the
 * kernel has them), a multishot accept, and per connection a 16 KiB buffer
 * cycling recv -> send -> recv. All SQEs queued while handling a batch of
 * completions go to the kernel in the next io_uring_submit_and_wait, so a
 * busy server makes about one system call per batch, not two per message.
 * TCP_NODELAY on, backlog 4096.
 *
 * Build: gcc -O2 -o echo_uring echo_uring.c -luring   (Debian: liburing-dev)
 * Usage: echo_uring [--addr 127.0.0.1:PORT]   (default 127.0.0.1:7878)
 * Prints "echo_uring: listening on 127.0.0.1:PORT pid=PID"; SIGINT or
 * SIGTERM stops it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo_common.h"

#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

#define BUF_SIZE 16384
#define OP_ACCEPT 0u
#define OP_RECV 1u
#define OP_SEND 2u

struct conn {
    int fd;
    unsigned len; /* bytes received, being sent back */
    unsigned sent;
    char buf[BUF_SIZE];
};

/* user_data: the conn pointer with the op in its low 2 bits (conns are
 * 8-byte aligned), or OP_ACCEPT alone. */
static inline uint64_t tag(struct conn *c, unsigned op)
{
    return (uint64_t)(uintptr_t)c | op;
}

static struct io_uring_sqe *sqe_of(struct io_uring *ring)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (!sqe) {
        io_uring_submit(ring);
        sqe = io_uring_get_sqe(ring);
    }
    return sqe;
}

static void queue_recv(struct io_uring *ring, struct conn *c)
{
    struct io_uring_sqe *sqe = sqe_of(ring);
    io_uring_prep_recv(sqe, c->fd, c->buf, BUF_SIZE, 0);
    io_uring_sqe_set_data64(sqe, tag(c, OP_RECV));
}

static void queue_send(struct io_uring *ring, struct conn *c)
{
    struct io_uring_sqe *sqe = sqe_of(ring);
    io_uring_prep_send(sqe, c->fd, c->buf + c->sent, c->len - c->sent, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, tag(c, OP_SEND));
}

static void queue_accept(struct io_uring *ring, int lfd)
{
    struct io_uring_sqe *sqe = sqe_of(ring);
    io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, OP_ACCEPT);
}

static void drop_conn(struct conn *c)
{
    close(c->fd);
    free(c);
}

int main(int argc, char **argv)
{
    int lfd = listen_from_args("echo_uring", argc, argv, 0);
    int one = 1;

    struct io_uring ring;
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    p.cq_entries = 16384;
    p.flags |= IORING_SETUP_CQSIZE;
    int r = io_uring_queue_init_params(4096, &ring, &p);
    if (r < 0) {
        memset(&p, 0, sizeof p);
        p.cq_entries = 16384;
        p.flags = IORING_SETUP_CQSIZE;
        r = io_uring_queue_init_params(4096, &ring, &p);
    }
    if (r < 0) {
        fprintf(stderr, "echo_uring: io_uring_queue_init: %s\n", strerror(-r));
        return 1;
    }

    announce("echo_uring", lfd);

    queue_accept(&ring, lfd);
    while (!stop) {
        r = io_uring_submit_and_wait(&ring, 1);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
            fprintf(stderr, "echo_uring: submit: %s\n", strerror(-r));
            return 1;
        }
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            seen++;
            uint64_t ud = cqe->user_data;
            unsigned op = (unsigned)(ud & 3u);
            struct conn *c = (struct conn *)(uintptr_t)(ud & ~(uint64_t)3u);
            int res = cqe->res;
            if (op == OP_ACCEPT) {
                if (res >= 0) {
                    setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *n = aligned_alloc(64, sizeof *n);
                    if (!n) {
                        close(res);
                    } else {
                        n->fd = res;
                        queue_recv(&ring, n);
                    }
                }
                if (!(cqe->flags & IORING_CQE_F_MORE))
                    queue_accept(&ring, lfd); /* multishot ended (error or EMFILE) */
            } else if (op == OP_RECV) {
                if (res <= 0) {
                    if (res == -EINTR || res == -EAGAIN)
                        queue_recv(&ring, c);
                    else
                        drop_conn(c);
                } else {
                    c->len = (unsigned)res;
                    c->sent = 0;
                    queue_send(&ring, c);
                }
            } else {
                if (res < 0 && res != -EINTR && res != -EAGAIN) {
                    drop_conn(c);
                } else {
                    if (res > 0)
                        c->sent += (unsigned)res;
                    if (c->sent < c->len)
                        queue_send(&ring, c);
                    else
                        queue_recv(&ring, c);
                }
            }
        }
        io_uring_cq_advance(&ring, seen);
    }
    io_uring_queue_exit(&ring);
    return 0;
}
