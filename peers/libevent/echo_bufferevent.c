/*
 * A libevent echo server with bufferevents, the peer of the root crate's
 * examples/echo.rs in benches/echo_compare.sh: an evconnlistener accepts,
 * each connection gets a socket bufferevent whose read callback moves its
 * input buffer to its output buffer (evbuffer_add_buffer); EOF or an error
 * frees it. TCP_NODELAY on, backlog 4096.
 *
 * Build: gcc -O2 -o echo_bufferevent echo_bufferevent.c $(pkg-config --cflags --libs libevent)
 * Usage: echo_bufferevent [--addr 127.0.0.1:PORT | -p PORT]   (default 127.0.0.1:7878)
 * Prints "echo_bufferevent: listening on 127.0.0.1:PORT pid=PID method=M";
 * SIGINT or SIGTERM stops it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

static void readcb(struct bufferevent *bev, void *ctx)
{
    (void)ctx;
    evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

static void eventcb(struct bufferevent *bev, short what, void *ctx)
{
    (void)ctx;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        bufferevent_free(bev);
}

static void acceptcb(struct evconnlistener *listener, evutil_socket_t fd,
                     struct sockaddr *sa, int socklen, void *arg)
{
    (void)sa;
    (void)socklen;
    (void)arg;
    struct event_base *base = evconnlistener_get_base(listener);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct bufferevent *bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    bufferevent_setcb(bev, readcb, NULL, eventcb, NULL);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void errorcb(struct evconnlistener *listener, void *arg)
{
    (void)listener;
    (void)arg;
    perror("echo_bufferevent: accept");
}

static void signalcb(evutil_socket_t sig, short events, void *arg)
{
    (void)events;
    fprintf(stderr, "echo_bufferevent: signal %d: exiting\n", (int)sig);
    event_base_loopexit((struct event_base *)arg, NULL);
}

static void usage(const char *msg)
{
    fprintf(stderr, "echo_bufferevent: %s\nusage: echo_bufferevent [--addr 127.0.0.1:PORT | -p PORT]\n", msg);
    exit(2);
}

int main(int argc, char **argv)
{
    char host[64] = "127.0.0.1";
    int port = 7878;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage("missing value");
        if (!strcmp(argv[i], "--addr")) {
            const char *colon = strrchr(argv[++i], ':');
            if (!colon || (size_t)(colon - argv[i]) >= sizeof(host))
                usage("bad --addr");
            memcpy(host, argv[i], (size_t)(colon - argv[i]));
            host[colon - argv[i]] = '\0';
            port = atoi(colon + 1);
        } else if (!strcmp(argv[i], "-p") || !strcmp(argv[i], "--port")) {
            port = atoi(argv[++i]);
        } else {
            usage("unknown flag");
        }
    }

    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }

    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
        usage("--addr: not an IPv4 address");

    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "echo_bufferevent: event_base_new failed\n");
        return 1;
    }
    struct evconnlistener *listener = evconnlistener_new_bind(
        base, acceptcb, NULL, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
        4096, (struct sockaddr *)&sin, sizeof(sin));
    if (!listener) {
        perror("echo_bufferevent: bind");
        return 1;
    }
    evconnlistener_set_error_cb(listener, errorcb);

    struct event *sigint = evsignal_new(base, SIGINT, signalcb, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, signalcb, base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);

    struct sockaddr_in bound;
    socklen_t blen = sizeof(bound);
    getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&bound, &blen);
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &bound.sin_addr, buf, sizeof(buf));
    printf("echo_bufferevent: listening on %s:%d pid=%d method=%s\n", buf, ntohs(bound.sin_port),
           (int)getpid(), event_base_get_method(base));
    fflush(stdout);

    event_base_dispatch(base);

    event_free(sigint);
    event_free(sigterm);
    evconnlistener_free(listener);
    event_base_free(base);
    return 0;
}
