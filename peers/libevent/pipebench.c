/*
 * pipebench.c — libevent's classic "many fds, few active" loop benchmark
 * (the method of libevent's test/bench.c), written from the method's
 * description for the runtime project's comparison benchmarks.
 *
 * Setup: N non-blocking AF_UNIX SOCK_STREAM socketpairs form a ring; one
 * EV_READ|EV_PERSIST event per read end.
 * Each round: (untimed) delete + re-assign + re-add every event, run one
 * non-blocking loop pass so the backend is up to date, and write one byte
 * into A "active" pipes spaced N/A apart; then (timed, as bench.c times it)
 * loop event_base_loop(EVLOOP_ONCE|EVLOOP_NONBLOCK) until every byte written
 * has been read. Each read callback reads one byte and, while the write budget W
 * lasts, writes one byte into the next pipe of the ring.
 *
 * Build: gcc -O2 -o pipebench_libevent pipebench.c $(pkg-config --cflags --libs libevent)
 * Usage: pipebench_libevent [-n N] [-a A] [-w W] [-r R] [-m METHOD] [-v]
 *        defaults: N=100, A=1, W=N, R=25, METHOD = libevent's choice (epoll)
 *        -m avoids every other backend, as bench.c's -m does
 * Output: with -v one line per round ("round I usec X"); always one summary
 *   pipebench impl=libevent method=M n=N a=A w=W r=R usec_per_round=X
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

static int num_pipes = 100;
static int num_active = 1;
static int num_writes = -1; /* -1: default to num_pipes */
static int num_rounds = 25;
static int verbose;

static int *fds;              /* fds[2*i] = read end, fds[2*i+1] = write end */
static struct event **events; /* one per read end */

static long bytes_read;   /* bytes read by callbacks this round */
static long bytes_fired;  /* bytes written this round (initial + chained) */
static long writes_left;  /* remaining chained-write budget this round */
static long failures;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static double now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	long idx = (long)(intptr_t)arg;
	unsigned char byte;
	ssize_t n;

	(void)what;
	n = recv(fd, &byte, 1, 0);
	if (n >= 0)
		bytes_read += n;
	else
		failures++;

	if (writes_left > 0) {
		long next = idx + 1;
		if (next >= num_pipes)
			next = 0;
		if (send(fds[2 * next + 1], "e", 1, 0) != 1)
			failures++;
		writes_left--;
		bytes_fired++;
	}
}

static double run_round(struct event_base *base)
{
	long i, space, loops = 0;
	double start, end;

	/* Untimed: re-add every event and flush the backend's change list. */
	for (i = 0; i < num_pipes; i++) {
		if (event_initialized(events[i]))
			event_del(events[i]);
		if (event_assign(events[i], base, fds[2 * i], EV_READ | EV_PERSIST,
				 on_readable, (void *)(intptr_t)i) != 0 ||
		    event_add(events[i], NULL) != 0) {
			fprintf(stderr, "event_assign/event_add failed for pipe %ld\n", i);
			exit(1);
		}
	}
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);

	bytes_read = 0;
	bytes_fired = 0;
	writes_left = num_writes;
	space = num_pipes / num_active;

	/* Untimed, as in bench.c: the initial writes into the active pipes. */
	for (i = 0; i < num_active; i++) {
		if (send(fds[2 * (i * space) + 1], "e", 1, 0) != 1)
			failures++;
		bytes_fired++;
	}
	/* Timed: the loop passes until every byte written has been read. */
	start = now_usec();
	do {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		loops++;
	} while (bytes_read != bytes_fired);
	end = now_usec();

	if (verbose && loops != bytes_read)
		fprintf(stderr, "note: %ld loop passes for %ld bytes read\n", loops, bytes_read);
	return end - start;
}

static int parse_int(const char *s, const char *flag, int min)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > 1000000000L) {
		fprintf(stderr, "bad value for %s: %s\n", flag, s);
		exit(2);
	}
	return (int)v;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-n pipes] [-a active] [-w writes] [-r rounds] [-m method] [-v]\n"
			"defaults: -n 100 -a 1 -w <pipes> -r 25\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	struct event_base *base;
	const char *method = NULL;
	int c, i;
	double total = 0.0;

	while ((c = getopt(argc, argv, "n:a:w:r:m:vh")) != -1) {
		switch (c) {
		case 'n': num_pipes = parse_int(optarg, "-n", 1); break;
		case 'a': num_active = parse_int(optarg, "-a", 1); break;
		case 'w': num_writes = parse_int(optarg, "-w", 0); break;
		case 'r': num_rounds = parse_int(optarg, "-r", 1); break;
		case 'm': method = optarg; break;
		case 'v': verbose = 1; break;
		default: usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);
	if (num_writes < 0)
		num_writes = num_pipes;
	if (num_active > num_pipes) {
		fprintf(stderr, "-a (%d) must not exceed -n (%d)\n", num_active, num_pipes);
		return 2;
	}

	rl.rlim_cur = rl.rlim_max = (rlim_t)num_pipes * 2 + 50;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		/* Fall back to raising only the soft limit up to the hard one. */
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
			die("getrlimit");
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)num_pipes * 2 + 50) {
			fprintf(stderr, "RLIMIT_NOFILE hard limit %lu too low for %d pipes\n",
				(unsigned long)rl.rlim_max, num_pipes);
			return 1;
		}
		rl.rlim_cur = (rlim_t)num_pipes * 2 + 50;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			die("setrlimit");
	}

	fds = calloc((size_t)num_pipes * 2, sizeof(*fds));
	events = calloc((size_t)num_pipes, sizeof(*events));
	if (!fds || !events)
		die("calloc");

	if (method) {
		/* Force one backend by avoiding every other supported one. */
		const char **methods = event_get_supported_methods();
		struct event_config *cfg = event_config_new();
		int known = 0;
		if (!cfg)
			die("event_config_new");
		for (i = 0; methods && methods[i]; i++) {
			if (strcmp(methods[i], method) == 0)
				known = 1;
			else
				event_config_avoid_method(cfg, methods[i]);
		}
		if (!known) {
			fprintf(stderr, "unsupported method '%s'; supported:", method);
			for (i = 0; methods && methods[i]; i++)
				fprintf(stderr, " %s", methods[i]);
			fprintf(stderr, "\n");
			return 2;
		}
		base = event_base_new_with_config(cfg);
		event_config_free(cfg);
	} else {
		base = event_base_new();
	}
	if (!base) {
		fprintf(stderr, "event_base_new failed\n");
		return 1;
	}

	for (i = 0; i < num_pipes; i++) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, &fds[2 * i]) == -1)
			die("socketpair");
		if (evutil_make_socket_nonblocking(fds[2 * i]) == -1 ||
		    evutil_make_socket_nonblocking(fds[2 * i + 1]) == -1)
			die("make nonblocking");
		events[i] = calloc(1, event_get_struct_event_size());
		if (!events[i])
			die("calloc event");
	}

	for (i = 0; i < num_rounds; i++) {
		double us = run_round(base);
		total += us;
		if (verbose)
			printf("round %d usec %.1f\n", i, us);
	}

	if (failures)
		fprintf(stderr, "warning: %ld send/recv failures\n", failures);

	printf("pipebench impl=libevent method=%s n=%d a=%d w=%d r=%d usec_per_round=%.1f\n",
	       event_base_get_method(base), num_pipes, num_active, num_writes, num_rounds,
	       total / num_rounds);
	fflush(stdout);

	for (i = 0; i < num_pipes; i++) {
		event_del(events[i]);
		free(events[i]);
		close(fds[2 * i]);
		close(fds[2 * i + 1]);
	}
	free(events);
	free(fds);
	event_base_free(base);
	return failures ? 1 : 0;
}
