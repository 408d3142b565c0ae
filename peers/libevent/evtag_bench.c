/*
 * evtag marshal/unmarshal throughput with libevent's own evtag_* functions,
 * for benches/rpc_compare.sh: regress.rpc's msg (a nested kill, two runs)
 * held in C structs and coded by functions in the shape event_rpcgen.py
 * generates (nested structs through a temporary evbuffer, strings and
 * arrays allocated on decode). The same message as benches/rpc_codec.rs.
 *
 *   evtag_bench hex          the encoded message in hex (must equal Rust's)
 *   evtag_bench ITERATIONS   "marshal_ns=X unmarshal_ns=Y bytes=N" (CPU ns per message)
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/tag.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct kill {
	char *weapon, *action;
	ev_uint32_t *how_often;
	int how_often_len;
};

struct run {
	char *how;
	unsigned char *some_bytes;
	size_t some_bytes_len;
	int some_bytes_set;
	unsigned char fixed_bytes[24];
	int fixed_bytes_set;
	char **notes;
	int notes_len;
	ev_uint64_t large_number;
	int large_number_set;
	ev_uint32_t *other_numbers;
	int other_numbers_len;
};

struct msg {
	char *from_name, *to_name;
	struct kill *attack;
	struct run **run;
	int run_len;
};

static void kill_free(struct kill *k)
{
	if (!k)
		return;
	free(k->weapon);
	free(k->action);
	free(k->how_often);
	free(k);
}

static void run_free(struct run *r)
{
	int i;
	free(r->how);
	free(r->some_bytes);
	for (i = 0; i < r->notes_len; i++)
		free(r->notes[i]);
	free(r->notes);
	free(r->other_numbers);
	free(r);
}

static void msg_free(struct msg *m)
{
	int i;
	free(m->from_name);
	free(m->to_name);
	kill_free(m->attack);
	for (i = 0; i < m->run_len; i++)
		run_free(m->run[i]);
	free(m->run);
	free(m);
}

static void kill_marshal(struct evbuffer *b, const struct kill *k)
{
	int i;
	evtag_marshal_string(b, 0x10121, k->weapon);
	evtag_marshal_string(b, 2, k->action);
	for (i = 0; i < k->how_often_len; i++)
		evtag_marshal_int(b, 3, k->how_often[i]);
}

static void run_marshal(struct evbuffer *b, const struct run *r)
{
	int i;
	evtag_marshal_string(b, 1, r->how);
	if (r->some_bytes_set)
		evtag_marshal(b, 2, r->some_bytes, r->some_bytes_len);
	evtag_marshal(b, 3, r->fixed_bytes, sizeof(r->fixed_bytes));
	for (i = 0; i < r->notes_len; i++)
		evtag_marshal_string(b, 4, r->notes[i]);
	if (r->large_number_set)
		evtag_marshal_int64(b, 5, r->large_number);
	for (i = 0; i < r->other_numbers_len; i++)
		evtag_marshal_int(b, 6, r->other_numbers[i]);
}

/* Generated code's evtag_marshal_<struct>: a temporary buffer. */
static void marshal_kill_tagged(struct evbuffer *b, ev_uint32_t tag, const struct kill *k)
{
	struct evbuffer *tmp = evbuffer_new();
	kill_marshal(tmp, k);
	evtag_marshal_buffer(b, tag, tmp);
	evbuffer_free(tmp);
}

static void marshal_run_tagged(struct evbuffer *b, ev_uint32_t tag, const struct run *r)
{
	struct evbuffer *tmp = evbuffer_new();
	run_marshal(tmp, r);
	evtag_marshal_buffer(b, tag, tmp);
	evbuffer_free(tmp);
}

static void msg_marshal(struct evbuffer *b, const struct msg *m)
{
	int i;
	evtag_marshal_string(b, 1, m->from_name);
	evtag_marshal_string(b, 2, m->to_name);
	if (m->attack)
		marshal_kill_tagged(b, 3, m->attack);
	for (i = 0; i < m->run_len; i++)
		marshal_run_tagged(b, 4, m->run[i]);
}

static int kill_unmarshal(struct kill *k, struct evbuffer *b)
{
	ev_uint32_t tag;
	while (evbuffer_get_length(b) > 0) {
		if (evtag_peek(b, &tag) == -1)
			return -1;
		switch (tag) {
		case 0x10121:
			if (k->weapon || evtag_unmarshal_string(b, tag, &k->weapon) == -1)
				return -1;
			break;
		case 2:
			if (k->action || evtag_unmarshal_string(b, tag, &k->action) == -1)
				return -1;
			break;
		case 3:
			k->how_often = realloc(k->how_often, (k->how_often_len + 1) * sizeof(ev_uint32_t));
			if (evtag_unmarshal_int(b, tag, &k->how_often[k->how_often_len]) == -1)
				return -1;
			k->how_often_len++;
			break;
		default:
			return -1;
		}
	}
	return k->weapon && k->action ? 0 : -1;
}

static int run_unmarshal(struct run *r, struct evbuffer *b)
{
	ev_uint32_t tag;
	while (evbuffer_get_length(b) > 0) {
		if (evtag_peek(b, &tag) == -1)
			return -1;
		switch (tag) {
		case 1:
			if (r->how || evtag_unmarshal_string(b, tag, &r->how) == -1)
				return -1;
			break;
		case 2: {
			ev_uint32_t len;
			if (r->some_bytes_set || evtag_payload_length(b, &len) == -1)
				return -1;
			r->some_bytes = malloc(len ? len : 1);
			if (evtag_unmarshal_fixed(b, tag, r->some_bytes, len) == -1)
				return -1;
			r->some_bytes_len = len;
			r->some_bytes_set = 1;
			break;
		}
		case 3:
			if (r->fixed_bytes_set ||
			    evtag_unmarshal_fixed(b, tag, r->fixed_bytes, sizeof(r->fixed_bytes)) == -1)
				return -1;
			r->fixed_bytes_set = 1;
			break;
		case 4:
			r->notes = realloc(r->notes, (r->notes_len + 1) * sizeof(char *));
			if (evtag_unmarshal_string(b, tag, &r->notes[r->notes_len]) == -1)
				return -1;
			r->notes_len++;
			break;
		case 5:
			if (r->large_number_set || evtag_unmarshal_int64(b, tag, &r->large_number) == -1)
				return -1;
			r->large_number_set = 1;
			break;
		case 6:
			r->other_numbers = realloc(r->other_numbers,
			    (r->other_numbers_len + 1) * sizeof(ev_uint32_t));
			if (evtag_unmarshal_int(b, tag, &r->other_numbers[r->other_numbers_len]) == -1)
				return -1;
			r->other_numbers_len++;
			break;
		default:
			return -1;
		}
	}
	return r->how && r->fixed_bytes_set ? 0 : -1;
}

static int msg_unmarshal(struct msg *m, struct evbuffer *b)
{
	ev_uint32_t tag;
	struct evbuffer *tmp;
	int res;
	while (evbuffer_get_length(b) > 0) {
		if (evtag_peek(b, &tag) == -1)
			return -1;
		switch (tag) {
		case 1:
			if (m->from_name || evtag_unmarshal_string(b, tag, &m->from_name) == -1)
				return -1;
			break;
		case 2:
			if (m->to_name || evtag_unmarshal_string(b, tag, &m->to_name) == -1)
				return -1;
			break;
		case 3:
			if (m->attack)
				return -1;
			m->attack = calloc(1, sizeof(struct kill));
			tmp = evbuffer_new();
			res = evtag_unmarshal(b, &tag, tmp) == -1 ? -1 : kill_unmarshal(m->attack, tmp);
			evbuffer_free(tmp);
			if (res == -1)
				return -1;
			break;
		case 4: {
			struct run *r = calloc(1, sizeof(struct run));
			m->run = realloc(m->run, (m->run_len + 1) * sizeof(struct run *));
			m->run[m->run_len++] = r;
			tmp = evbuffer_new();
			res = evtag_unmarshal(b, &tag, tmp) == -1 ? -1 : run_unmarshal(r, tmp);
			evbuffer_free(tmp);
			if (res == -1)
				return -1;
			break;
		}
		default:
			return -1;
		}
	}
	return m->from_name && m->to_name ? 0 : -1;
}

/* The message of rpc/tests/interop.rs's test_msg. */
static struct msg *test_msg(void)
{
	static ev_uint32_t how_often[] = {3, 300, 0xdeadbeef};
	static ev_uint32_t other[] = {0, 15, 16};
	static unsigned char some[] = {0, 1, 0xfe, 0xff, 0x7f};
	static char *notes[] = {"a", "bb"};
	static struct kill k = {"feather", "tickle", how_often, 3};
	static struct run full, slow;
	static struct run *runs[] = {&full, &slow};
	static struct msg m = {"niels", "tester", &k, runs, 2};
	int i;
	full.how = "very fast";
	full.some_bytes = some;
	full.some_bytes_len = sizeof(some);
	full.some_bytes_set = 1;
	for (i = 0; i < 24; i++)
		full.fixed_bytes[i] = (unsigned char)(i * 11);
	full.fixed_bytes_set = 1;
	full.notes = notes;
	full.notes_len = 2;
	full.large_number = 0xfedcba9876543210ULL;
	full.large_number_set = 1;
	full.other_numbers = other;
	full.other_numbers_len = 3;
	slow.how = "slow";
	slow.fixed_bytes_set = 1;
	return &m;
}

static double cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct msg *m = test_msg();
	struct evbuffer *b = evbuffer_new();
	unsigned char encoded[1024];
	size_t n, i;
	long iters;
	double t0, t1, t2;

	evtag_init();
	msg_marshal(b, m);
	n = evbuffer_get_length(b);
	if (n > sizeof(encoded))
		return 2;
	evbuffer_remove(b, encoded, n);
	if (argc == 2 && !strcmp(argv[1], "hex")) {
		for (i = 0; i < n; i++)
			printf("%02x", encoded[i]);
		printf("\n");
		return 0;
	}
	if (argc != 2 || (iters = atol(argv[1])) <= 0)
		return 2;

	t0 = cpu_ns();
	for (i = 0; i < (size_t)iters; i++) {
		msg_marshal(b, m);
		if (evbuffer_get_length(b) != n)
			return 1;
		evbuffer_drain(b, n);
	}
	t1 = cpu_ns();
	for (i = 0; i < (size_t)iters; i++) {
		struct msg *d = calloc(1, sizeof(struct msg));
		evbuffer_add_reference(b, encoded, n, NULL, NULL);
		if (msg_unmarshal(d, b) == -1 || d->run_len != 2)
			return 1;
		msg_free(d);
	}
	t2 = cpu_ns();
	printf("marshal_ns=%.1f unmarshal_ns=%.1f bytes=%zu\n", (t1 - t0) / iters,
	    (t2 - t1) / iters, n);
	evbuffer_free(b);
	return 0;
}
