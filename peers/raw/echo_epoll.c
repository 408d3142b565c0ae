/*
 * The cheapest readiness-loop echo server we know how to write, used by
 * benches/echo_compare.sh as the bound any epoll-based server (runtime,
 * tokio, libevent) can reach on this machine: no library, one thread, one
 * edge-triggered epoll set, each socket registered once for EPOLLIN, and
 * per ready socket one recv into a 16 KiB stack buffer (again only when it
 * filled the buffer: a short read drained the socket) and one send of what
 * it got (a short send waits with a blocking poll: echo messages here are
 * 64 bytes and never hit it). Level-triggered registration measured no
 * cheaper here: epoll re-polls every socket it reported. No allocation per connection beyond
 * the kernel's. TCP_NODELAY on, backlog 4096, the fd limit raised to the
 * hard limit.
 *
 * Build: gcc -O2 -o echo_epoll echo_epoll.c
 * Usage: echo_epoll [--addr 127.0.0.1:PORT]   (default 127.0.0.1:7878)
 * Prints "echo_epoll: listening on 127.0.0.1:PORT pid=PID"; SIGINT or
 * SIGTERM stops it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "echo_common.h"

static void close_conn(int ep, int fd)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
}

/* Sends all of buf; 0 on success, -1 when the peer is gone. */
static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                poll(&p, 1, 1000);
                continue;
            }
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int lfd = listen_from_args("echo_epoll", argc, argv, SOCK_NONBLOCK);
    int one = 1;
    announce("echo_epoll", lfd);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = lfd };
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        perror("echo_epoll: epoll");
        return 1;
    }
    struct epoll_event events[1024];
    char buf[16384];
    while (!stop) {
        int n = epoll_wait(ep, events, 1024, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("echo_epoll: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == lfd) {
                for (;;) {
                    int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0)
                        break; /* EAGAIN, or EMFILE: retried on the next event */
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = { .events = EPOLLIN | EPOLLET, .data.fd = c };
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev) < 0)
                        close(c);
                }
                continue;
            }
            for (;;) {
                ssize_t got = recv(fd, buf, sizeof buf, 0);
                if (got < 0 && errno == EINTR)
                    continue;
                if (got < 0 && errno == EAGAIN)
                    break;
                if (got <= 0 || send_all(fd, buf, (size_t)got) < 0) {
                    close_conn(ep, fd);
                    break;
                }
                if ((size_t)got < sizeof buf)
                    break; /* drained: the next edge brings more */
            }
        }
    }
    return 0;
}
