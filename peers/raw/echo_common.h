/*
 * What the library-free echo servers (echo_epoll.c, echo_uring.c) share:
 * the command line (--addr HOST:PORT), the fd limit, SIGINT/SIGTERM
 * setting `stop`, the listening socket and the "listening on" line that
 * benches/echo_compare.sh waits for. A header of static functions: each
 * server is one translation unit.
 */
#ifndef ECHO_COMMON_H
#define ECHO_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int parse_addr(const char *s, struct sockaddr_in *sin)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -1;
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((unsigned short)port);
    return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
}

/*
 * Parses `--addr`, raises the fd limit to the hard limit, installs the
 * signal handlers and returns a listening socket (backlog 4096,
 * SO_REUSEADDR, `sock_flags` added to the socket type, e.g. SOCK_NONBLOCK).
 * Exits with a message on bad arguments or a failed bind.
 */
static int listen_from_args(const char *name, int argc, char **argv, int sock_flags)
{
    const char *addr = "127.0.0.1:7878";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--addr") && i + 1 < argc) {
            addr = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--addr 127.0.0.1:PORT]\n", name);
            exit(2);
        }
    }
    struct sockaddr_in sin;
    if (parse_addr(addr, &sin) < 0) {
        fprintf(stderr, "%s: bad address %s\n", name, addr);
        exit(2);
    }
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | sock_flags, 0);
    int one = 1;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(lfd, 4096) < 0) {
        fprintf(stderr, "%s: bind/listen %s: %s\n", name, addr, strerror(errno));
        exit(1);
    }
    return lfd;
}

/* Prints "NAME: listening on HOST:PORT pid=PID" once the server is ready. */
static void announce(const char *name, int lfd)
{
    struct sockaddr_in sin;
    socklen_t slen = sizeof sin;
    getsockname(lfd, (struct sockaddr *)&sin, &slen);
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sin.sin_addr, host, sizeof host);
    printf("%s: listening on %s:%u pid=%d\n", name, host, ntohs(sin.sin_port), (int)getpid());
    fflush(stdout);
}

#endif
