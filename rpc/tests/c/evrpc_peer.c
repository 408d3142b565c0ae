/*
 * A libevent evrpc peer for the interop tests, with hand-written marshal
 * functions in the shape event_rpcgen.py generates (it is not packaged by
 * Debian) for regress.rpc's msg (request) and kill (reply).
 *
 *   evrpc_peer server       evrpc server on 127.0.0.1:0; prints
 *                           "listening on 127.0.0.1:PORT"; serves
 *                           Message (msg -> kill) and Incomplete
 *                           Its hooks: an input hook refuses requests
 *                           carrying X-Hook-Deny and keeps X-Hook-In in
 *                           the request's metadata; an output hook sends
 *                           it back as X-Hook-Out.
 *   evrpc_peer client-hooks PORT
 *                           evrpc_pool client whose output hook sends
 *                           X-Hook-In: c-client and notes it in the
 *                           metadata, and whose input hook prints the
 *                           metadata and the reply's X-Hook-Out
 *   evrpc_peer client PORT  evrpc_pool client: calls Message, then the
 *                           missing Nothing; prints one line per call
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_compat.h>
#include <event2/http.h>
#include <event2/rpc.h>
#include <event2/rpc_struct.h>
#include <event2/tag.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct msg {
	char *from_name, *to_name;
	int attack_set, runs;
};

struct kill {
	char *weapon, *action;
	ev_uint32_t how_often[16];
	int n;
};

static void *msg_new(void *arg) { (void)arg; return calloc(1, sizeof(struct msg)); }
static void msg_free(void *p)
{
	struct msg *m = p;
	free(m->from_name);
	free(m->to_name);
	free(m);
}

/* Validates a nested kill or run blob the way the generated decoders do,
 * without keeping it. */
static int check_kill(struct evbuffer *b)
{
	ev_uint32_t tag, v;
	char *s;
	int weapon = 0, action = 0;
	while (evbuffer_get_length(b) > 0) {
		if (evtag_peek(b, &tag) == -1)
			return -1;
		if ((tag == 0x10121 && !weapon++) || (tag == 2 && !action++)) {
			if (evtag_unmarshal_string(b, tag, &s) == -1)
				return -1;
			free(s);
		} else if (tag == 3) {
			if (evtag_unmarshal_int(b, tag, &v) == -1)
				return -1;
		} else
			return -1;
	}
	return weapon && action ? 0 : -1;
}

static int msg_unmarshal(void *p, struct evbuffer *b)
{
	struct msg *m = p;
	ev_uint32_t tag;
	struct evbuffer *tmp;
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
		case 4:
			if (tag == 3 && m->attack_set++)
				return -1;
			tmp = evbuffer_new();
			if (evtag_unmarshal(b, &tag, tmp) == -1 || (tag == 3 && check_kill(tmp) == -1)) {
				evbuffer_free(tmp);
				return -1;
			}
			evbuffer_free(tmp);
			if (tag == 4)
				m->runs++;
			break;
		default:
			return -1;
		}
	}
	return m->from_name && m->to_name ? 0 : -1;
}

static void msg_marshal(struct evbuffer *b, void *p)
{
	struct msg *m = p;
	struct evbuffer *k = evbuffer_new();
	evtag_marshal_string(b, 1, m->from_name);
	evtag_marshal_string(b, 2, m->to_name);
	evtag_marshal_string(k, 0x10121, "feather");
	evtag_marshal_string(k, 2, "tickle");
	evtag_marshal_int(k, 3, 300);
	evtag_marshal_buffer(b, 3, k);
	evbuffer_free(k);
}

static void *kill_new(void *arg) { (void)arg; return calloc(1, sizeof(struct kill)); }
static void kill_clear(void *p)
{
	struct kill *k = p;
	free(k->weapon);
	free(k->action);
	memset(k, 0, sizeof(*k));
}
static void kill_free(void *p) { kill_clear(p); free(p); }
static int kill_complete(void *p)
{
	struct kill *k = p;
	return k->weapon && k->action ? 0 : -1;
}
static void kill_marshal(struct evbuffer *b, void *p)
{
	struct kill *k = p;
	int i;
	if (k->weapon)
		evtag_marshal_string(b, 0x10121, k->weapon);
	if (k->action)
		evtag_marshal_string(b, 2, k->action);
	for (i = 0; i < k->n; i++)
		evtag_marshal_int(b, 3, k->how_often[i]);
}
static int kill_unmarshal(void *p, struct evbuffer *b)
{
	struct kill *k = p;
	ev_uint32_t tag;
	while (evbuffer_get_length(b) > 0) {
		if (evtag_peek(b, &tag) == -1)
			return -1;
		if (tag == 0x10121) {
			if (k->weapon || evtag_unmarshal_string(b, tag, &k->weapon) == -1)
				return -1;
		} else if (tag == 2) {
			if (k->action || evtag_unmarshal_string(b, tag, &k->action) == -1)
				return -1;
		} else if (tag == 3 && k->n < 16) {
			if (evtag_unmarshal_int(b, tag, &k->how_often[k->n++]) == -1)
				return -1;
		} else
			return -1;
	}
	return kill_complete(k);
}

static void message_cb(struct evrpc_req_generic *rpc, void *arg)
{
	struct msg *m = evrpc_get_request(rpc);
	struct kill *k = evrpc_get_reply(rpc);
	char action[256];
	(void)arg;
	snprintf(action, sizeof(action), "wave at %s", m->from_name);
	k->weapon = strdup("club");
	k->action = strdup(action);
	k->how_often[k->n++] = (ev_uint32_t)m->runs;
	k->how_often[k->n++] = (ev_uint32_t)m->attack_set;
	evrpc_request_done(rpc);
}

static void incomplete_cb(struct evrpc_req_generic *rpc, void *arg)
{
	struct kill *k = evrpc_get_reply(rpc);
	(void)arg;
	k->weapon = strdup("club");
	evrpc_request_done(rpc);
}

/* The server's hooks: metadata from the input to the output hook. */
static int server_in_hook(void *ctx, struct evhttp_request *req, struct evbuffer *buf, void *arg)
{
	const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Hook-In");
	(void)buf;
	(void)arg;
	if (evhttp_find_header(evhttp_request_get_input_headers(req), "X-Hook-Deny"))
		return EVRPC_TERMINATE;
	if (v)
		evrpc_hook_add_meta(ctx, "hook-in", v, strlen(v) + 1);
	return EVRPC_CONTINUE;
}

static int server_out_hook(void *ctx, struct evhttp_request *req, struct evbuffer *buf, void *arg)
{
	void *data;
	size_t len;
	(void)buf;
	(void)arg;
	if (evrpc_hook_find_meta(ctx, "hook-in", &data, &len) == 0)
		evhttp_add_header(evhttp_request_get_output_headers(req), "X-Hook-Out", data);
	return EVRPC_CONTINUE;
}

static int server(void)
{
	struct event_base *base = event_base_new();
	struct evhttp *http = evhttp_new(base);
	struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
	struct evrpc_base *rpc = evrpc_init(http);
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	if (!sock || getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&sin, &len))
		return 1;
	evrpc_register_generic(rpc, "Message", message_cb, NULL, msg_new, NULL, msg_free,
	    msg_unmarshal, kill_new, NULL, kill_free, kill_complete, kill_marshal);
	evrpc_register_generic(rpc, "Incomplete", incomplete_cb, NULL, msg_new, NULL, msg_free,
	    msg_unmarshal, kill_new, NULL, kill_free, kill_complete, kill_marshal);
	evrpc_add_hook(rpc, EVRPC_INPUT, server_in_hook, NULL);
	evrpc_add_hook(rpc, EVRPC_OUTPUT, server_out_hook, NULL);
	printf("listening on 127.0.0.1:%d\n", ntohs(sin.sin_port));
	fflush(stdout);
	event_base_dispatch(base);
	return 0;
}

static int pending = 2;
static struct event_base *client_base;

static void reply_cb(struct evrpc_status *status, void *req, void *reply, void *arg)
{
	struct kill *k = reply;
	int i;
	(void)req;
	printf("%s status=%d", (const char *)arg, status->error);
	if (status->error == EVRPC_STATUS_ERR_NONE) {
		printf(" weapon=%s action=%s how_often=", k->weapon, k->action);
		for (i = 0; i < k->n; i++)
			printf("%s%u", i ? "," : "", k->how_often[i]);
	}
	printf("\n");
	fflush(stdout);
	if (--pending == 0)
		event_base_loopexit(client_base, NULL);
}

static int client(int port)
{
	struct evrpc_pool *pool;
	struct msg m = {"evrpc_peer", "rpc-server", 0, 0};
	struct kill *k1 = kill_new(NULL), *k2 = kill_new(NULL);
	/* evrpc_pool_add_connection wants a connection without a base, which
	 * libevent 2.1 only builds with the global base event_init() sets (as
	 * its regress tests do). */
	client_base = event_init();
	pool = evrpc_pool_new(client_base);
	/* The pool sets the connection's base: it must have none yet. */
	evrpc_pool_add_connection(pool, evhttp_connection_base_new(NULL, NULL, "127.0.0.1", (unsigned short)port));
	evrpc_pool_set_timeout(pool, 5);
	evrpc_send_request_generic(pool, &m, k1, reply_cb, "Message", "Message", msg_marshal, kill_clear, kill_unmarshal);
	evrpc_send_request_generic(pool, &m, k2, reply_cb, "Nothing", "Nothing", msg_marshal, kill_clear, kill_unmarshal);
	event_base_dispatch(client_base);
	kill_free(k1);
	kill_free(k2);
	return pending ? 1 : 0;
}

/* The client's hooks: metadata from the output to the input hook. */
static int client_out_hook(void *ctx, struct evhttp_request *req, struct evbuffer *buf, void *arg)
{
	(void)buf;
	(void)arg;
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Hook-In", "c-client");
	evrpc_hook_add_meta(ctx, "sent", "c-client", sizeof("c-client"));
	return EVRPC_CONTINUE;
}

static int client_in_hook(void *ctx, struct evhttp_request *req, struct evbuffer *buf, void *arg)
{
	void *data;
	size_t len;
	const char *out = evhttp_find_header(evhttp_request_get_input_headers(req), "X-Hook-Out");
	(void)buf;
	(void)arg;
	if (evrpc_hook_find_meta(ctx, "sent", &data, &len) == -1)
		data = "(none)";
	printf("hook meta=%s x-hook-out=%s\n", (const char *)data, out ? out : "(none)");
	return EVRPC_CONTINUE;
}

static int client_hooks(int port)
{
	struct evrpc_pool *pool;
	struct msg m = {"evrpc_peer", "rpc-server", 0, 0};
	struct kill *k = kill_new(NULL);
	client_base = event_init();
	pool = evrpc_pool_new(client_base);
	evrpc_pool_add_connection(pool, evhttp_connection_base_new(NULL, NULL, "127.0.0.1", (unsigned short)port));
	evrpc_pool_set_timeout(pool, 5);
	evrpc_add_hook(pool, EVRPC_OUTPUT, client_out_hook, NULL);
	evrpc_add_hook(pool, EVRPC_INPUT, client_in_hook, NULL);
	pending = 1;
	evrpc_send_request_generic(pool, &m, k, reply_cb, "Message", "Message", msg_marshal, kill_clear, kill_unmarshal);
	event_base_dispatch(client_base);
	kill_free(k);
	return pending ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "server"))
		return server();
	if (argc == 3 && !strcmp(argv[1], "client-hooks"))
		return client_hooks(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "client"))
		return client(atoi(argv[2]));
	return 2;
}
