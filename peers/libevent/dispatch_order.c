/* The order in which libevent runs callbacks around loopcontinue and
 * max_dispatch_interval, to check tests/compat_events.rs against:
 *
 *   gcc -O2 -o /tmp/dispatch_order peers/libevent/dispatch_order.c \
 *       $(pkg-config --cflags --libs libevent) && /tmp/dispatch_order
 *
 * Events a and b (priority 1) are active when the loop starts. a's callback
 * activates event c (priority 1) and writes a byte to a socketpair whose
 * read event r has priority 0; then, depending on the mode, it calls
 * event_base_loopcontinue ("continue"), or the base was configured with
 * event_config_set_max_dispatch_interval(cfg, NULL, 1, 0) ("max_dispatch
 * 1"), or neither ("plain"). libevent 2.1.12 prints:
 *
 *   plain: a b c r
 *   continue: a r b c
 *   max_dispatch 1: a r b c
 *   urgent: a u b
 *
 * c, activated during the iteration, goes behind b in the active queue;
 * r becomes active only when the loop polls, which it does at once after
 * a with loopcontinue or a one-callback dispatch limit, and r's priority
 * runs first then. runtime's callback layer gives the same order for the
 * last two lines; on the first it gives a b r c, because its executor runs
 * a task woken during an iteration in the next one, after a poll, where
 * libevent's loop keeps running the priority's queue until it is empty.
 *
 * "urgent": a and b (priority 1) are active, and a's callback activates u
 * (priority 0): event_active of an event more urgent than the running
 * priority ends the iteration (event_continue), so u runs before b.
 */
#include <event2/event.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct event_base *base;
static struct event *c_ev, *u_ev;
static int mode, sv[2];

static void cb(evutil_socket_t fd, short what, void *arg) {
    const char *name = arg;
    (void)what;
    printf(" %s", name);
    if (strcmp(name, "r") == 0) {
        char ch;
        if (read(fd, &ch, 1) != 1)
            perror("read");
    }
    if (strcmp(name, "a") == 0 && u_ev) {
        event_active(u_ev, EV_TIMEOUT, 0);
    } else if (strcmp(name, "a") == 0) {
        event_active(c_ev, EV_TIMEOUT, 0);
        if (write(sv[0], "x", 1) != 1)
            perror("write");
        if (mode == 1)
            event_base_loopcontinue(base);
    }
}

int main(void) {
    static const char *names[] = {"plain", "continue", "max_dispatch 1"};
    for (mode = 0; mode < 3; mode++) {
        struct event_config *cfg = event_config_new();
        if (mode == 2)
            event_config_set_max_dispatch_interval(cfg, NULL, 1, 0);
        base = event_base_new_with_config(cfg);
        event_base_priority_init(base, 2);
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
            perror("socketpair");
            return 1;
        }
        struct event *r = event_new(base, sv[1], EV_READ, cb, "r");
        struct event *a = event_new(base, -1, 0, cb, "a");
        struct event *b = event_new(base, -1, 0, cb, "b");
        c_ev = event_new(base, -1, 0, cb, "c");
        event_priority_set(r, 0);
        event_priority_set(a, 1);
        event_priority_set(b, 1);
        event_priority_set(c_ev, 1);
        event_add(r, NULL);
        event_active(a, EV_TIMEOUT, 0);
        event_active(b, EV_TIMEOUT, 0);
        printf("%s:", names[mode]);
        event_base_dispatch(base);
        printf("\n");
        event_free(a);
        event_free(b);
        event_free(c_ev);
        event_free(r);
        event_base_free(base);
        event_config_free(cfg);
        close(sv[0]);
        close(sv[1]);
    }

    base = event_base_new();
    event_base_priority_init(base, 2);
    struct event *a = event_new(base, -1, 0, cb, "a");
    struct event *b = event_new(base, -1, 0, cb, "b");
    u_ev = event_new(base, -1, 0, cb, "u");
    event_priority_set(a, 1);
    event_priority_set(b, 1);
    event_priority_set(u_ev, 0);
    event_active(a, EV_TIMEOUT, 0);
    event_active(b, EV_TIMEOUT, 0);
    printf("urgent:");
    event_base_dispatch(base);
    printf("\n");
    event_free(a);
    event_free(b);
    event_free(u_ev);
    event_base_free(base);
    return 0;
}
