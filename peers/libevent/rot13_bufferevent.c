/*
 * The seed's last ROT13 server (the bufferevent version from "A tiny
 * introduction to asynchronous IO"), unchanged except for:
 *   - an address flag: --addr IP:PORT (default 0.0.0.0:40713, the seed's
 *     port on every interface; port 0 picks a free port);
 *   - a start-up line on stdout: "rot13_bufferevent: listening on IP:PORT pid=N",
 *     the same format as the runtime and tokio servers;
 *   - exit(0) on SIGINT/SIGTERM (evsignal), so benchmark scripts can stop it.
 *
 * Build: gcc -O2 -o rot13_bufferevent rot13_bufferevent.c $(pkg-config --cflags --libs libevent)
 */

/* For sockaddr_in */
#include <netinet/in.h>
/* For socket functions */
#include <sys/socket.h>
#include <arpa/inet.h>
/* For fcntl */
#include <fcntl.h>
#include <signal.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/util.h>

#include <assert.h>
#include <unistd.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <errno.h>

#define MAX_LINE 16384

char
rot13_char(char c)
{
    /* We don't want to use isalpha here; setting the locale would change
     * which characters are considered alphabetical. */
    if ((c >= 'a' && c <= 'm') || (c >= 'A' && c <= 'M'))
        return c + 13;
    else if ((c >= 'n' && c <= 'z') || (c >= 'N' && c <= 'Z'))
        return c - 13;
    else
        return c;
}

void
readcb(struct bufferevent *bev, void *ctx)
{
    struct evbuffer *input, *output;
    char *line;
    size_t n;
    int i;
    input = bufferevent_get_input(bev);
    output = bufferevent_get_output(bev);

    while ((line = evbuffer_readln(input, &n, EVBUFFER_EOL_LF))) {
        for (i = 0; i < n; ++i)
            line[i] = rot13_char(line[i]);
        evbuffer_add(output, line, n);
        evbuffer_add(output, "\n", 1);
        free(line);
    }

    if (evbuffer_get_length(input) >= MAX_LINE) {
        /* Too long; just process what there is and go on so that the buffer
         * doesn't grow infinitely long. */
        char buf[1024];
        while (evbuffer_get_length(input)) {
            int n = evbuffer_remove(input, buf, sizeof(buf));
            for (i = 0; i < n; ++i)
                buf[i] = rot13_char(buf[i]);
            evbuffer_add(output, buf, n);
        }
        evbuffer_add(output, "\n", 1);
    }
}

void
errorcb(struct bufferevent *bev, short error, void *ctx)
{
    if (error & BEV_EVENT_EOF) {
        /* connection has been closed, do any clean up here */
        /* ... */
    } else if (error & BEV_EVENT_ERROR) {
        /* check errno to see what error occurred */
        /* ... */
    } else if (error & BEV_EVENT_TIMEOUT) {
        /* must be a timeout event handle, handle it */
        /* ... */
    }
    bufferevent_free(bev);
}

void
do_accept(evutil_socket_t listener, short event, void *arg)
{
    struct event_base *base = arg;
    struct sockaddr_storage ss;
    socklen_t slen = sizeof(ss);
    int fd = accept(listener, (struct sockaddr*)&ss, &slen);
    if (fd < 0) {
        perror("accept");
    } else if (fd > FD_SETSIZE) {
        close(fd);
    } else {
        struct bufferevent *bev;
        evutil_make_socket_nonblocking(fd);
        bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
        bufferevent_setcb(bev, readcb, NULL, errorcb, NULL);
        bufferevent_setwatermark(bev, EV_READ, 0, MAX_LINE);
        bufferevent_enable(bev, EV_READ|EV_WRITE);
    }
}

static void
on_signal(evutil_socket_t sig, short events, void *arg)
{
    struct event_base *base = arg;
    fprintf(stderr, "rot13_bufferevent: signal %d: exiting\n", (int)sig);
    event_base_loopbreak(base);
}

void
run(const char *addr)
{
    evutil_socket_t listener;
    struct sockaddr_in sin;
    struct event_base *base;
    struct event *listener_event, *sigint, *sigterm;
    char shown[64];

    base = event_base_new();
    if (!base)
        return; /*XXXerr*/

    memset(&sin, 0, sizeof(sin));
    {
        /* IP:PORT (evutil_parse_sockaddr_port refuses port 0). */
        char host[64];
        const char *colon = strrchr(addr, ':');
        char *end;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        size_t hlen = colon ? (size_t)(colon - addr) : 0;
        if (!colon || *end || port < 0 || port > 65535 || hlen == 0 || hlen >= sizeof(host)) {
            fprintf(stderr, "rot13_bufferevent: --addr: not IP:PORT: %s\n", addr);
            exit(2);
        }
        memcpy(host, addr, hlen);
        host[hlen] = 0;
        sin.sin_family = AF_INET;
        sin.sin_port = htons((unsigned short)port);
        if (evutil_inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
            fprintf(stderr, "rot13_bufferevent: --addr: not an IPv4 address: %s\n", host);
            exit(2);
        }
    }

    listener = socket(AF_INET, SOCK_STREAM, 0);
    evutil_make_socket_nonblocking(listener);

#ifndef WIN32
    {
        int one = 1;
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
#endif

    if (bind(listener, (struct sockaddr*)&sin, sizeof(sin)) < 0) {
        perror("bind");
        return;
    }

    if (listen(listener, 16)<0) {
        perror("listen");
        return;
    }

    {
        struct sockaddr_in bound;
        socklen_t blen = sizeof(bound);
        getsockname(listener, (struct sockaddr*)&bound, &blen);
        evutil_inet_ntop(AF_INET, &bound.sin_addr, shown, sizeof(shown));
        printf("rot13_bufferevent: listening on %s:%d pid=%d method=%s\n", shown,
            ntohs(bound.sin_port), (int)getpid(), event_base_get_method(base));
    }

    listener_event = event_new(base, listener, EV_READ|EV_PERSIST, do_accept, (void*)base);
    /*XXX check it */
    event_add(listener_event, NULL);
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);

    event_base_dispatch(base);
}

int
main(int c, char **v)
{
    const char *addr = "0.0.0.0:40713";
    int i;
    setvbuf(stdout, NULL, _IONBF, 0);

    for (i = 1; i < c; ++i) {
        if (!strcmp(v[i], "--addr") && i + 1 < c) {
            addr = v[++i];
        } else {
            fprintf(stderr, "usage: rot13_bufferevent [--addr IP:PORT]\n");
            return 2;
        }
    }
    run(addr);
    return 0;
}
