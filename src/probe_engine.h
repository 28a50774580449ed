/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The probe engine's internals, shared by its modules (not an API; see
 * probe.h for the design):
 *   probe.c         service and outcome names, target parsing, the child
 *                   and the parent (probe_run);
 *   probe_conn.c    connections: queue, non-blocking connect, TLS, reads,
 *                   timeouts, and the helpers every dialogue uses;
 *   probe_dialog.c  what is said on them: SMTP, the fingerprint tests,
 *                   SMPP, the generic request of silent ports, and the
 *                   result of one address;
 *   probe_engine.c  targets: addresses (resolver records), Happy Eyeballs,
 *                   the epoll loop and the deadline;
 *   probe_result.c  the result record format (child -> parent);
 *   probe_resolve.c, probe_sandbox.c: the resolver process and the drop.
 */
#ifndef PORTLOCK_PROBE_ENGINE_H
#define PORTLOCK_PROBE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "fingerprint.h"
#include "probe.h"
#include "probe_resolve.h"
#include "probe_smpp.h"
#include "probe_tls.h"
#include "util.h"

#define SMPP_QUIET_MS 200	/* an SMPP server never speaks first: wait this long to see */
#define EHLO_NAME "probe.portlock.invalid"
#define FP_REPLY_MAX 160
#define PROBE_FP_PARALLEL 3	/* behavioural test connections per target at a time */

#define REC_MAGIC "PLPR"
#define REC_MAX 16384
#define REC_END 0xffffffffu
#define GEN_REQUEST "GET / HTTP/1.0\r\n\r\n"	/* silent ports: nmap's GetRequest */

enum ckind { CK_MAIN, CK_SMPP, CK_FP, CK_GEN };
enum cstate { CS_PENDING, CS_CONNECT, CS_TLS, CS_SMTP, CS_QUIET, CS_SMPP_RESP, CS_SMPP_BIND,
	      CS_GEN, CS_DONE };
enum step { ST_GREETING, ST_EHLO, ST_HELO, ST_STARTTLS, ST_EHLO2, ST_QUIT, ST_FP };

/* verdicts of the main (SMTP) connection and of the SMPP connection */
enum gverdict { G_NONE, G_CLOSED, G_FILTERED, G_SMTP, G_NOT_SMTP, G_SILENT, G_PARTIAL,
		G_OVERSIZED, G_TLS_FAIL, G_ERROR };
enum sverdict { S_NONE, S_SMPP, S_NOT_SMPP, S_SPOKE_FIRST, S_SILENT, S_MALFORMED };
/* verdict of the generic request on a silent port (CK_GEN) */
enum genverdict { GV_NONE, GV_HTTP, GV_TLS, GV_OTHER };

struct tstate;
struct tgroup;

struct conn {
	struct conn *next;		/* pending queue or active list */
	struct tstate *t;
	enum ckind kind;
	enum cstate st;
	enum step step;
	int fd;
	SSL *ssl;
	bool starttls;			/* the TLS handshake is a STARTTLS upgrade */
	bool bind_only;			/* SMPP: bind at once (the server closed on enquire_link) */
	bool gen_tls;			/* CK_GEN: the request inside a TLS handshake */
	int fp_test, fp_cmd;
	uint32_t events;
	uint64_t deadline, tconn;
	uint32_t seq;
	size_t inlen, outlen, outpos;
	uint8_t in[PROBE_BUF_MAX];
	uint8_t out[PROBE_SMTP_LINE_MAX];
};

/* One address of a target: probed on its own, into its own result. */
struct tstate {
	struct probe_result *r;		/* &res */
	struct tgroup *grp;
	const struct probe_target *tgt;
	struct sockaddr_storage sa;
	socklen_t salen;
	bool started, cancelled;	/* Happy Eyeballs (see tgroup) */
	int conn_err;			/* errno of a failed connect of the main connection */
	uint64_t tfinal;		/* when the result became final */
	bool tls, tls_auto, final;
	bool smpp_spawned, fp_spawned, refused, smtp_like_smpp, bind_retried;
	int fp_next;			/* next behavioural test to start */
	int active;			/* connections queued or open */
	uint64_t t0;
	enum gverdict g;
	enum sverdict s;
	enum genverdict gv;
	bool gen_spawned, gen_tls_tried;
	struct conn *main, *smpp;
	char gev[PROBE_EVIDENCE_MAX], sev[PROBE_EVIDENCE_MAX], genev[PROBE_EVIDENCE_MAX];
	char banner[1024], ehlo_text[2048];
	int codes[PROBE_SMTP_NTESTS];
	char replies[PROBE_SMTP_NTESTS][FP_REPLY_MAX];
	struct probe_result res;
};

/*
 * One target: every address of its name, tried Happy Eyeballs style (see
 * probe.h); r gets the result of the address that answered.
 */
struct tgroup {
	struct probe_result *r;
	struct tstate *att;		/* natt attempts, in getaddrinfo order */
	size_t natt, next;		/* next: attempts started so far */
	struct tstate *winner;
	uint64_t t0;			/* first attempt's start */
	bool resolving;			/* the name's addresses are not known yet */
	bool done;
};

struct engine {
	const struct probe_opts *o;
	int ep;
	unsigned active, cap;
	struct conn *pending, *pending_tail, *open;
	uint64_t deadline;
	struct sockaddr_storage src;
	socklen_t srclen;
	uint8_t bindpdu[PROBE_SMPP_BIND_MAX];
};

/* Everything the engine needs before the sandbox closes, and its targets. */
struct prep {
	struct engine e;
	const struct probe_target *tg;
	struct tgroup *gs;
	size_t n;
	size_t nresolving;		/* names the resolver has not answered yet */
	int rfd;			/* the resolver's pipe, or -1 */
	size_t rlen;
	uint8_t rbuf[sizeof(struct probe_resolved)];
	/* each target's result as soon as it is final (the child's pipe) */
	int (*emit)(void *arg, uint32_t index, const struct probe_result *r);
	void *emit_arg;
	bool *emitted;
};

/* probe_conn.c */
uint64_t pe_now_ms(void);
uint32_t pe_elapsed(const struct tstate *t);
uint32_t pe_random_seq(void);
void pe_escape_into(char *dst, size_t max, const uint8_t *p, size_t n);
void pe_set_note(struct tstate *t, const char *fmt, ...) __printf(2, 3);
struct conn *pe_new_conn(struct engine *e, struct tstate *t, enum ckind kind, bool front);
void pe_conn_close(struct engine *e, struct conn *c);
int pe_conn_send_line(struct engine *e, struct conn *c, const char *line);
int pe_conn_send(struct engine *e, struct conn *c, const void *data, size_t n);
uint64_t pe_read_deadline(const struct engine *e);
void pe_start_tls(struct engine *e, struct conn *c);
void pe_conn_start(struct engine *e, struct conn *c);
void pe_conn_event(struct engine *e, struct conn *c, uint32_t ev);
void pe_conn_timeout(struct engine *e, struct conn *c);

/* probe_dialog.c */
void pe_finish_target(struct engine *e, struct tstate *t);
void pe_spawn_smpp(struct engine *e, struct tstate *t);
void pe_spawn_fp_next(struct engine *e, struct tstate *t);
void pe_main_verdict(struct engine *e, struct conn *c, enum gverdict v);
void pe_fp_record(struct engine *e, struct conn *c, int code, const uint8_t *buf, size_t n);
void pe_smtp_input(struct engine *e, struct conn *c);
void pe_smpp_send_enquire(struct engine *e, struct conn *c);
void pe_smpp_send_bind(struct engine *e, struct conn *c);
void pe_smpp_input(struct engine *e, struct conn *c);
bool pe_gen_due(const struct engine *e, const struct tstate *t);
void pe_spawn_gen(struct engine *e, struct tstate *t, bool tls);
void pe_gen_input(struct engine *e, struct conn *c, bool eof);

/* probe_engine.c */
int pe_engine_prepare(struct prep *p, const struct probe_target *tg, size_t n,
		      const struct probe_opts *o, struct probe_result *out);
int pe_resolver_start(struct prep *p);
void pe_engine_run(struct prep *p);
void pe_engine_fini(struct prep *p);

/* probe_result.c */
void pe_put32(uint8_t *p, uint32_t v);
int pe_decode_stream(const uint8_t *buf, size_t len, struct probe_result *out, size_t n,
		     bool *seen, bool partial);

#endif
