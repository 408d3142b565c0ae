/*
 * A libevent evhttp hello server, the peer of the root crate's
 * examples/http_hello.rs in benches/http_compare.sh: a generic callback
 * (evhttp_set_gencb) answers every request "200 OK" with the body
 * "Hello, world!\n" (evhttp_send_reply), keep-alive as evhttp does it.
 * Bound through evhttp_bind_socket_with_handle (backlog 128, libevent's
 * default).
 *
 * Build: gcc -O2 -o http_hello_evhttp http_hello_evhttp.c $(pkg-config --cflags --libs libevent)
 * Usage: http_hello_evhttp [--addr 127.0.0.1:PORT]   (default 127.0.0.1:8080)
 * Prints "http_hello_evhttp: listening on 127.0.0.1:PORT pid=PID method=M";
 * SIGINT or SIGTERM stops it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

static const char HELLO[] = "Hello, world!\n";

static void hello_cb(struct evhttp_request *req, void *arg)
{
    struct evbuffer *body = (struct evbuffer *)arg;
    /* The body is added by reference: no copy per request, as our server
     * shares its static body. */
    evbuffer_add_reference(body, HELLO, sizeof(HELLO) - 1, NULL, NULL);
    evhttp_send_reply(req, HTTP_OK, "OK", body);
}

static void signalcb(evutil_socket_t sig, short events, void *arg)
{
    (void)events;
    fprintf(stderr, "http_hello_evhttp: signal %d: exiting\n", (int)sig);
    event_base_loopexit((struct event_base *)arg, NULL);
}

static void usage(const char *msg)
{
    fprintf(stderr, "http_hello_evhttp: %s\nusage: http_hello_evhttp [--addr 127.0.0.1:PORT]\n", msg);
    exit(2);
}

int main(int argc, char **argv)
{
    char host[64] = "127.0.0.1";
    int port = 8080;
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
        } else {
            usage("unknown flag");
        }
    }

    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }

    struct event_base *base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    struct evbuffer *body = evbuffer_new();
    if (!http || !body) {
        fprintf(stderr, "http_hello_evhttp: setup failed\n");
        return 1;
    }
    evhttp_set_gencb(http, hello_cb, body);
    struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
    if (!sock) {
        perror("http_hello_evhttp: bind");
        return 1;
    }

    struct event *sigint = evsignal_new(base, SIGINT, signalcb, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, signalcb, base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);

    struct sockaddr_in bound;
    socklen_t blen = sizeof(bound);
    getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&bound, &blen);
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &bound.sin_addr, buf, sizeof(buf));
    printf("http_hello_evhttp: listening on %s:%d pid=%d method=%s\n", buf, ntohs(bound.sin_port),
           (int)getpid(), event_base_get_method(base));
    fflush(stdout);

    event_base_dispatch(base);

    event_free(sigint);
    event_free(sigterm);
    evhttp_free(http);
    evbuffer_free(body);
    event_base_free(base);
    return 0;
}
