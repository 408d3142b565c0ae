/*
 * The baseline for the static file server in benches/http_compare.sh: the
 * least a readiness-loop server can do to send one file over HTTP/1.1. No
 * library, one thread, one edge-triggered epoll set (each socket
 * registered once for EPOLLIN | EPOLLOUT), and per request: the request
 * head is read and not parsed (each "\r\n\r\n" is one GET), a fixed
 * response head is sent with MSG_MORE, then the file with sendfile(2) until
 * it is all sent or the socket is full (EAGAIN: wait for EPOLLOUT).
 * Keep-alive; pipelined requests are answered one after the other.
 *
 * Build: gcc -O2 -o sendfile_epoll sendfile_epoll.c
 * Usage: sendfile_epoll --file PATH [--addr 127.0.0.1:PORT]   (default 127.0.0.1:7878)
 * Prints "sendfile_epoll: listening on 127.0.0.1:PORT pid=PID"; SIGINT or
 * SIGTERM stops it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include "echo_common.h"

struct conn {
    int fd;
    int pending;      /* requests whose answer has not started */
    int in_body;      /* a response is being sent */
    size_t head_sent; /* bytes of the response head sent */
    off_t offset;     /* bytes of the file sent */
    char tail[3];     /* the last bytes read, to find "\r\n\r\n" across reads */
    int tail_len;
};

static int file_fd;
static off_t file_size;
static char head[256];
static size_t head_len;

static void close_conn(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Counts the request heads ("\r\n\r\n") in what arrived; 0 on EOF or error
 * (close), 1 otherwise. */
static int on_readable(struct conn *c)
{
    char buf[16384];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n == 0)
            return 0;
        if (n < 0)
            return errno == EAGAIN ? 1 : 0;
        char scan[sizeof buf + 3];
        memcpy(scan, c->tail, (size_t)c->tail_len);
        memcpy(scan + c->tail_len, buf, (size_t)n);
        size_t len = (size_t)c->tail_len + (size_t)n;
        for (size_t i = 0; i + 4 <= len; i++)
            if (!memcmp(scan + i, "\r\n\r\n", 4))
                c->pending++;
        c->tail_len = len < 3 ? (int)len : 3;
        memcpy(c->tail, scan + len - (size_t)c->tail_len, (size_t)c->tail_len);
        if ((size_t)n < sizeof buf)
            return 1;
    }
}

/* Sends what can be sent; 0 on error (close), 1 otherwise. */
static int on_writable(struct conn *c)
{
    for (;;) {
        if (!c->in_body) {
            if (c->pending == 0)
                return 1;
            c->pending--;
            c->in_body = 1;
            c->head_sent = 0;
            c->offset = 0;
        }
        while (c->head_sent < head_len) {
            ssize_t n = send(c->fd, head + c->head_sent, head_len - c->head_sent, MSG_MORE);
            if (n < 0)
                return errno == EAGAIN ? 1 : 0;
            c->head_sent += (size_t)n;
        }
        while (c->offset < file_size) {
            ssize_t n = sendfile(c->fd, file_fd, &c->offset, (size_t)(file_size - c->offset));
            if (n < 0)
                return errno == EAGAIN ? 1 : 0;
            if (n == 0)
                return 0;
        }
        c->in_body = 0;
    }
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    char *rest[4] = {argv[0]};
    int nrest = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--file") && i + 1 < argc)
            path = argv[++i];
        else if (nrest < 3)
            rest[nrest++] = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: sendfile_epoll --file PATH [--addr 127.0.0.1:PORT]\n");
        return 2;
    }
    file_fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (file_fd < 0 || fstat(file_fd, &st) < 0) {
        fprintf(stderr, "sendfile_epoll: %s: %s\n", path, strerror(errno));
        return 1;
    }
    file_size = st.st_size;
    head_len = (size_t)snprintf(head, sizeof head,
                                "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
                                "content-length: %lld\r\n\r\n",
                                (long long)file_size);

    /* A client that closes mid-file must not kill the server. */
    signal(SIGPIPE, SIG_IGN);
    int lfd = listen_from_args("sendfile_epoll", nrest, rest, SOCK_NONBLOCK);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    announce("sendfile_epoll", lfd);

    struct epoll_event events[256];
    while (!stop) {
        int n = epoll_wait(ep, events, 256, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (!c) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0)
                        break;
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *nc = calloc(1, sizeof *nc);
                    nc->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                              .data.ptr = nc};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                }
                continue;
            }
            if (events[i].events & (EPOLLERR | EPOLLHUP)) {
                close_conn(ep, c);
                continue;
            }
            if ((events[i].events & (EPOLLIN | EPOLLRDHUP)) && !on_readable(c)) {
                close_conn(ep, c);
                continue;
            }
            if (!on_writable(c))
                close_conn(ep, c);
        }
    }
    close(lfd);
    close(ep);
    return 0;
}
