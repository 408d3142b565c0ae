/*
 * libevent's own evtag_* functions on regress.rpc's msg/kill/run, with
 * hand-written marshal and unmarshal functions in the shape
 * event_rpcgen.py generates (it is not packaged by Debian).
 *
 *   evtag_msg encode   writes the test message's bytes to stdout
 *   evtag_msg prims    writes single elements (ints, int64s, strings,
 *                      timevals, tags) to stdout
 *   evtag_msg decode   reads a msg from stdin, prints its fields one per
 *                      line; exit 1 if libevent refuses it
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/tag.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static void write_out(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	unsigned char *p = evbuffer_pullup(b, -1);
	if (n && fwrite(p, 1, n, stdout) != n)
		exit(2);
}

static void marshal_kill(struct evbuffer *out, ev_uint32_t tag)
{
	struct evbuffer *k = evbuffer_new();
	evtag_marshal_string(k, 0x10121, "feather");
	evtag_marshal_string(k, 2, "tickle");
	evtag_marshal_int(k, 3, 3);
	evtag_marshal_int(k, 3, 300);
	evtag_marshal_int(k, 3, 0xdeadbeef);
	evtag_marshal_buffer(out, tag, k);
	evbuffer_free(k);
}

static void marshal_run(struct evbuffer *out, ev_uint32_t tag, int full)
{
	struct evbuffer *r = evbuffer_new();
	unsigned char fixed[24];
	int i;
	for (i = 0; i < 24; i++)
		fixed[i] = full ? (unsigned char)(i * 11) : 0;
	evtag_marshal_string(r, 1, full ? "very fast" : "slow");
	if (full)
		evtag_marshal(r, 2, "\x00\x01\xfe\xff\x7f", 5);
	evtag_marshal(r, 3, fixed, sizeof(fixed));
	if (full) {
		evtag_marshal_string(r, 4, "a");
		evtag_marshal_string(r, 4, "bb");
		evtag_marshal_int64(r, 5, 0xfedcba9876543210ULL);
		evtag_marshal_int(r, 6, 0);
		evtag_marshal_int(r, 6, 15);
		evtag_marshal_int(r, 6, 16);
	}
	evtag_marshal_buffer(out, tag, r);
	evbuffer_free(r);
}

static void encode(void)
{
	struct evbuffer *b = evbuffer_new();
	evtag_marshal_string(b, 1, "niels");
	evtag_marshal_string(b, 2, "tester");
	marshal_kill(b, 3);
	marshal_run(b, 4, 1);
	marshal_run(b, 4, 0);
	write_out(b);
	evbuffer_free(b);
}

static void prims(void)
{
	static const ev_uint32_t ints[] = {0, 1, 0xf, 0x10, 0x12, 0xff, 0x123, 300,
	    0x1000, 0xdeadbeef, 0xffffffff};
	static const ev_uint32_t tags[] = {1, 0x7f, 0x80, 0x166, 0x10121, 0xffffffff};
	struct evbuffer *b = evbuffer_new();
	struct timeval tv = {5, 250000};
	size_t i;
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		evtag_marshal_int(b, 1, ints[i]);
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		evtag_marshal_string(b, tags[i], "hi");
	evtag_marshal_int64(b, 2, 0);
	evtag_marshal_int64(b, 2, 0xffffffffffffffffULL);
	evtag_marshal_int64(b, 2, 0x123456789ULL);
	evtag_marshal_timeval(b, 3, &tv);
	write_out(b);
	evbuffer_free(b);
}

static void hex(const char *name, const unsigned char *p, size_t n)
{
	size_t i;
	printf("%s=", name);
	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

/* The generated-decoder loop: peek the tag, one case per field, duplicate
 * non-array and unknown tags refused, completeness checked at the end. */
static int unmarshal_kill(struct evbuffer *b)
{
	int weapon = 0, action = 0;
	ev_uint32_t tag, v;
	char *s;
	while (evbuffer_get_length(b) > 0) {
		if (evtag_peek(b, &tag) == -1)
			return -1;
		switch (tag) {
		case 0x10121:
			if (weapon++ || evtag_unmarshal_string(b, tag, &s) == -1)
				return -1;
			printf("attack.weapon=%s\n", s);
			free(s);
			break;
		case 2:
			if (action++ || evtag_unmarshal_string(b, tag, &s) == -1)
				return -1;
			printf("attack.action=%s\n", s);
			free(s);
			break;
		case 3:
			if (evtag_unmarshal_int(b, tag, &v) == -1)
				return -1;
			printf("attack.how_often=%u\n", v);
			break;
		default:
			return -1;
		}
	}
	return weapon && action ? 0 : -1;
}

static int unmarshal_run(struct evbuffer *b)
{
	int how = 0, some = 0, fixed_set = 0, large = 0;
	ev_uint32_t tag, v;
	ev_uint64_t v64;
	char *s;
	unsigned char fixed[24];
	struct evbuffer *tmp;
	while (evbuffer_get_length(b) > 0) {
		if (evtag_peek(b, &tag) == -1)
			return -1;
		switch (tag) {
		case 1:
			if (how++ || evtag_unmarshal_string(b, tag, &s) == -1)
				return -1;
			printf("run.how=%s\n", s);
			free(s);
			break;
		case 2:
			if (some++)
				return -1;
			tmp = evbuffer_new();
			if (evtag_unmarshal(b, &tag, tmp) == -1)
				return -1;
			hex("run.some_bytes", evbuffer_pullup(tmp, -1), evbuffer_get_length(tmp));
			evbuffer_free(tmp);
			break;
		case 3:
			if (fixed_set++ || evtag_unmarshal_fixed(b, tag, fixed, sizeof(fixed)) == -1)
				return -1;
			hex("run.fixed_bytes", fixed, sizeof(fixed));
			break;
		case 4:
			if (evtag_unmarshal_string(b, tag, &s) == -1)
				return -1;
			printf("run.notes=%s\n", s);
			free(s);
			break;
		case 5:
			if (large++ || evtag_unmarshal_int64(b, tag, &v64) == -1)
				return -1;
			printf("run.large_number=%llu\n", (unsigned long long)v64);
			break;
		case 6:
			if (evtag_unmarshal_int(b, tag, &v) == -1)
				return -1;
			printf("run.other_numbers=%u\n", v);
			break;
		default:
			return -1;
		}
	}
	return how && fixed_set ? 0 : -1;
}

static int unmarshal_msg(struct evbuffer *b)
{
	int from = 0, to = 0, attack = 0;
	ev_uint32_t tag;
	char *s;
	struct evbuffer *tmp;
	while (evbuffer_get_length(b) > 0) {
		if (evtag_peek(b, &tag) == -1)
			return -1;
		switch (tag) {
		case 1:
			if (from++ || evtag_unmarshal_string(b, tag, &s) == -1)
				return -1;
			printf("from_name=%s\n", s);
			free(s);
			break;
		case 2:
			if (to++ || evtag_unmarshal_string(b, tag, &s) == -1)
				return -1;
			printf("to_name=%s\n", s);
			free(s);
			break;
		case 3:
		case 4:
			if (tag == 3 && attack++)
				return -1;
			tmp = evbuffer_new();
			if (evtag_unmarshal(b, &tag, tmp) == -1 ||
			    (tag == 3 ? unmarshal_kill(tmp) : unmarshal_run(tmp)) == -1)
				return -1;
			evbuffer_free(tmp);
			break;
		default:
			return -1;
		}
	}
	return from && to ? 0 : -1;
}

static int decode(void)
{
	struct evbuffer *b = evbuffer_new();
	char chunk[4096];
	ssize_t n;
	while ((n = read(0, chunk, sizeof(chunk))) > 0)
		evbuffer_add(b, chunk, n);
	return unmarshal_msg(b) == -1 ? 1 : 0;
}

int main(int argc, char **argv)
{
	evtag_init();
	if (argc == 2 && !strcmp(argv[1], "encode"))
		encode();
	else if (argc == 2 && !strcmp(argv[1], "prims"))
		prims();
	else if (argc == 2 && !strcmp(argv[1], "decode"))
		return decode();
	else
		return 2;
	return 0;
}
