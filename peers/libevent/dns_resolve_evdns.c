/*
 * libevent evdns resolver load for benches/dns_compare.sh: N A lookups of
 * NAME against one nameserver with C requests in flight (each completion
 * starts the next), on one event_base. evdns has no cache, so every lookup
 * is a query.
 *
 *   gcc -O2 -o target/dns_resolve_evdns libevent/dns_resolve_evdns.c \
 *       $(pkg-config --cflags --libs libevent)
 *   target/dns_resolve_evdns 127.0.0.1:5353 host1.test 100000 100
 *
 * Prints: dns_resolve impl=evdns n=100000 c=100 secs=1.234 qps=81037 errors=0
 */
#include <event2/dns.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static struct evdns_base *dns;
static struct event_base *base;
static const char *name;
static long total, started, done, errors;

static void on_reply(int result, char type, int count, int ttl, void *addresses, void *arg);

static void start_one(void) {
    if (started >= total)
        return;
    started++;
    if (!evdns_base_resolve_ipv4(dns, name, DNS_QUERY_NO_SEARCH, on_reply, NULL)) {
        errors++;
        done++;
    }
}

static void on_reply(int result, char type, int count, int ttl, void *addresses, void *arg) {
    (void)type; (void)ttl; (void)addresses; (void)arg;
    if (result != DNS_ERR_NONE || count < 1)
        errors++;
    done++;
    start_one();
    if (done >= total)
        event_base_loopexit(base, NULL);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s ADDR:PORT NAME N C\n", argv[0]);
        return 2;
    }
    name = argv[2];
    total = atol(argv[3]);
    long c = atol(argv[4]);
    base = event_base_new();
    dns = evdns_base_new(base, 0);
    if (evdns_base_nameserver_ip_add(dns, argv[1]) != 0) {
        fprintf(stderr, "bad nameserver %s\n", argv[1]);
        return 1;
    }
    char inflight[32];
    snprintf(inflight, sizeof inflight, "%ld", c + 1);
    evdns_base_set_option(dns, "max-inflight:", inflight);
    evdns_base_set_option(dns, "timeout:", "5");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < c; i++)
        start_one();
    event_base_dispatch(base);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("dns_resolve impl=evdns n=%ld c=%ld secs=%.3f qps=%.0f errors=%ld\n", total, c, secs,
           total / secs, errors);
    evdns_base_free(dns, 0);
    event_base_free(base);
    return 0;
}
