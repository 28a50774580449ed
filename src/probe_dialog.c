// SPDX-License-Identifier: GPL-2.0-or-later
/* What the probe says on its connections: SMTP, SMPP, the generic request (see probe_engine.h). */
#include "probe_engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "fingerprint.h"
#include "probe_resolve.h"
#include "probe_sandbox.h"
#include "probe_smpp.h"
#include "probe_tls.h"
#include "util.h"

/* ---- result assembly ---- */

static void fp_input_fill(struct tstate *t, struct fp_input *in, const char **replies)
{
	memset(in, 0, sizeof(*in));
	in->banner = t->banner;
	in->ehlo_text = t->ehlo_text;
	in->keywords = t->r->smtp_keywords;
	if (t->fp_spawned) {
		in->codes = t->codes;
		for (int i = 0; i < PROBE_SMTP_NTESTS; i++)
			replies[i] = t->replies[i];
		in->replies = replies;
	}
}

void pe_finish_target(struct engine *e, struct tstate *t)
{
	struct probe_result *r = t->r;

	if (t->final)
		return;
	t->final = true;
	t->tfinal = pe_now_ms();
	r->total_ms = pe_elapsed(t);
	if (t->s == S_SMPP) {
		r->service = t->tls ? PROBE_SVC_SMPP_TLS : PROBE_SVC_SMPP;
		snprintf(r->evidence, sizeof(r->evidence), "%s", t->sev);
		return;
	}
	snprintf(r->evidence, sizeof(r->evidence), "%s", t->gev[0] ? t->gev : t->sev);
	switch (t->g) {
	case G_CLOSED:
		r->service = PROBE_SVC_CLOSED;
		return;
	case G_FILTERED:
		r->service = PROBE_SVC_FILTERED;
		return;
	case G_SMTP: {
		struct fp_input in;
		struct fp_guess g;
		const char *replies[PROBE_SMTP_NTESTS];

		r->service = t->tls ? PROBE_SVC_SMTPS : PROBE_SVC_SMTP;
		if (t->fp_spawned) {
			size_t o = 0;

			for (int i = 0; i < PROBE_SMTP_NTESTS && o + 5 < sizeof(r->fp_codes); i++) {
				if (t->codes[i] > 0)
					o += (size_t)snprintf(r->fp_codes + o, sizeof(r->fp_codes) - o,
							      "%s%d", i ? " " : "", t->codes[i]);
				else
					o += (size_t)snprintf(r->fp_codes + o, sizeof(r->fp_codes) - o,
							      "%s-", i ? " " : "");
			}
		}
		fp_input_fill(t, &in, replies);
		fingerprint_match(e->o->fp, &in, &g);
		if (g.confidence) {
			util_escape(g.software, strlen(g.software), r->software, sizeof(r->software));
			r->confidence = (uint32_t)g.confidence;
		} else if (g.closest_confidence) {	/* unknown: the best match, as such */
			util_escape(g.closest, strlen(g.closest), r->closest, sizeof(r->closest));
			r->closest_confidence = (uint32_t)g.closest_confidence;
		}
		util_escape(g.basis, strlen(g.basis), r->software_basis, sizeof(r->software_basis));
		return;
	}
	case G_NOT_SMTP:
	case G_PARTIAL:
		if (!strncmp(t->gev, "SSH-", 4)) {
			/* the banner line (RFC 4253 4.2), as escaped */
			size_t n = strcspn(t->gev, "\\");

			r->service = PROBE_SVC_SSH;
			snprintf(r->ssh_banner, sizeof(r->ssh_banner), "%.*s", (int)n, t->gev);
			return;
		}
		if (t->g == G_PARTIAL)
			break;
		r->service = PROBE_SVC_UNKNOWN;
		return;
	case G_OVERSIZED:
	case G_TLS_FAIL:
	case G_ERROR:
		r->service = PROBE_SVC_UNKNOWN;
		return;
	default:
		break;
	}
	if (t->gv != GV_NONE) {
		snprintf(r->evidence, sizeof(r->evidence), "%s", t->genev);
		r->service = t->gv == GV_HTTP ? (r->tls ? PROBE_SVC_HTTPS : PROBE_SVC_HTTP)
			   : t->gv == GV_TLS  ? PROBE_SVC_TLS
			   : !strncmp(t->genev, "SSH-", 4) ? PROBE_SVC_SSH
						: PROBE_SVC_UNKNOWN;
		if (r->service == PROBE_SVC_SSH)
			snprintf(r->ssh_banner, sizeof(r->ssh_banner), "%.*s",
				 (int)strcspn(t->genev, "\\"), t->genev);
		return;
	}
	if (t->s == S_NOT_SMPP || t->s == S_MALFORMED || t->s == S_SPOKE_FIRST) {
		r->service = PROBE_SVC_UNKNOWN;
		return;
	}
	r->service = PROBE_SVC_TIMEOUT;
	if (!r->evidence[0] && !r->note[0])
		pe_set_note(t, "connected, but nothing answered within %u ms", e->o->read_ms);
}

void pe_spawn_smpp(struct engine *e, struct tstate *t)
{
	if (t->smpp_spawned)
		return;
	t->smpp_spawned = true;
	t->smpp = pe_new_conn(e, t, CK_SMPP, true);
}

static void spawn_fp(struct engine *e, struct tstate *t)
{
	if (t->fp_spawned || !e->o->fingerprint)
		return;
	t->fp_spawned = true;
	for (int i = 0; i < PROBE_FP_PARALLEL; i++)
		pe_spawn_fp_next(e, t);
}

/*
 * At most PROBE_FP_PARALLEL test connections per target at a time: small
 * servers (OpenSMTPD and Python's smtpd listen with a backlog of 5) would
 * otherwise leave some connections unaccepted, and it is gentler.
 */
void pe_spawn_fp_next(struct engine *e, struct tstate *t)
{
	struct conn *c;

	if (t->fp_next >= PROBE_SMTP_NTESTS || t->cancelled)
		return;
	c = pe_new_conn(e, t, CK_FP, false);
	if (c)
		c->fp_test = t->fp_next++;
}

/* ---- SMTP side ---- */

void pe_main_verdict(struct engine *e, struct conn *c, enum gverdict v)
{
	struct tstate *t = c->t;

	/*
	 * A well-formed 554 greeting is an SMTP server refusing us (RFC 5321
	 * 3.1); it may close or answer anything after it and still be SMTP.
	 */
	if (t->refused && (v == G_NOT_SMTP || v == G_PARTIAL))
		v = G_SMTP;

	if (t->g == G_NONE || t->g == G_SILENT)
		t->g = v;
	pe_conn_close(e, c);
}

void pe_fp_record(struct engine *e, struct conn *c, int code, const uint8_t *buf, size_t n)
{
	struct tstate *t = c->t;

	if (c->step == ST_QUIT) {	/* the test is over; this is the QUIT */
		pe_conn_close(e, c);
		return;
	}
	t->codes[c->fp_test] = code;
	if (buf)
		probe_smtp_reply_text(buf, n, t->replies[c->fp_test], FP_REPLY_MAX);
	if (code > 0 && pe_conn_send_line(e, c, "QUIT") == 0) {
		c->step = ST_QUIT;
		c->deadline = pe_now_ms() + 1000;
		return;
	}
	pe_conn_close(e, c);
}

/* A fingerprinting connection's reply: send its test's next command, or record the test */
static void fp_reply(struct engine *e, struct conn *c, const struct probe_smtp_reply *rep)
{
	if (c->step == ST_QUIT) {
		pe_conn_close(e, c);
		return;
	}
	if (c->step == ST_GREETING) {
		if (rep->code != 220) {
			pe_fp_record(e, c, 0, NULL, 0);
			return;
		}
		c->step = ST_FP;
		c->fp_cmd = 0;
	} else if (c->fp_cmd + 1 >= PROBE_SMTP_TEST_CMDS ||
		   !probe_smtp_tests[c->fp_test].cmds[c->fp_cmd + 1]) {
		pe_fp_record(e, c, rep->code, c->in, rep->len);
		return;
	} else {
		c->fp_cmd++;
	}
	if (pe_conn_send_line(e, c, probe_smtp_tests[c->fp_test].cmds[c->fp_cmd]) < 0) {
		pe_fp_record(e, c, 0, NULL, 0);
		return;
	}
	c->deadline = pe_read_deadline(e);
}

/*
 * The answer to EHLO (ST_EHLO2: again after STARTTLS): the capabilities
 * into the result, c->step the next one. Returns false when the dialogue
 * moved on already (a verdict, or STARTTLS sent).
 */
static bool ehlo_reply(struct engine *e, struct conn *c, const struct probe_smtp_reply *rep)
{
	struct tstate *t = c->t;
	struct probe_result *r = t->r;
	struct probe_smtp_caps caps;
	bool upgraded = c->step == ST_EHLO2;

	if (rep->code != 250) {
		if (upgraded) {
			pe_set_note(t, "EHLO after STARTTLS answered %d", rep->code);
			c->step = ST_QUIT;
			return true;
		}
		c->step = ST_HELO;
		return true;
	}
	if (probe_smtp_ehlo_parse(c->in, rep->len, &caps) < 0) {
		pe_main_verdict(e, c, G_NOT_SMTP);
		return false;
	}
	t->g = G_SMTP;
	if (!upgraded) {
		probe_smtp_reply_text(c->in, rep->len, t->ehlo_text, sizeof(t->ehlo_text));
		memcpy(r->smtp_keywords, caps.keywords, sizeof(r->smtp_keywords));
		r->smtp_caps = caps.flags;
	} else {
		/* keep STARTTLS (offered in clear); AUTH often appears only now */
		r->smtp_caps = caps.flags | (r->smtp_caps & PROBE_SMTP_CAP_STARTTLS);
	}
	r->smtp_size = caps.size;
	memcpy(r->smtp_auth, caps.auth, sizeof(r->smtp_auth));
	if (t->refused)
		pe_set_note(t, "554 greeting: the server refuses this client");
	spawn_fp(e, t);
	if (!upgraded && e->o->starttls && !c->ssl &&
	    (caps.flags & PROBE_SMTP_CAP_STARTTLS)) {
		c->step = ST_STARTTLS;
		if (pe_conn_send_line(e, c, "STARTTLS") < 0)
			pe_main_verdict(e, c, G_SMTP);
		c->deadline = pe_read_deadline(e);
		return false;
	}
	c->step = ST_QUIT;
	return true;
}

/* Send the command of c's step (EHLO, HELO or QUIT) and wait for its answer */
static void send_step(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;

	switch (c->step) {
	case ST_EHLO:
	case ST_EHLO2:
		if (pe_conn_send_line(e, c, "EHLO " EHLO_NAME) < 0)
			goto gone;
		break;
	case ST_HELO:
		if (pe_conn_send_line(e, c, "HELO " EHLO_NAME) < 0)
			goto gone;
		break;
	case ST_QUIT:
		if (pe_conn_send_line(e, c, "QUIT") < 0) {
			pe_main_verdict(e, c, t->g);
			return;
		}
		c->deadline = pe_now_ms() + 1000;
		return;
	default:
		break;
	}
	c->deadline = pe_read_deadline(e);
	return;
gone:
	pe_set_note(t, "connection lost after greeting");
	pe_main_verdict(e, c, t->g == G_SMTP ? G_SMTP : G_NOT_SMTP);
}

static void smtp_reply(struct engine *e, struct conn *c, const struct probe_smtp_reply *rep)
{
	struct tstate *t = c->t;
	struct probe_result *r = t->r;

	if (c->kind == CK_FP) {
		fp_reply(e, c, rep);
		return;
	}

	switch (c->step) {
	case ST_GREETING:
		r->smtp_code = (uint32_t)rep->code;
		pe_escape_into(t->gev, sizeof(t->gev), c->in, rep->len);
		probe_smtp_reply_text(c->in, rep->len, t->banner, sizeof(t->banner));
		if (rep->code == 554) {
			t->refused = true;
			pe_set_note(t, "554 greeting: the server refuses this client");
		}
		else if (rep->code != 220)
			pe_set_note(t, "greeting code %d", rep->code);
		/* a 220 alone proves nothing (FTP says 220 too): EHLO decides */
		c->step = ST_EHLO;
		break;
	case ST_EHLO:
	case ST_EHLO2:
		if (!ehlo_reply(e, c, rep))
			return;
		break;
	case ST_HELO:
		if (rep->code == 250 || t->refused) {
			/* plain SMTP without ESMTP, or a refusing SMTP server */
			t->g = G_SMTP;
			if (t->refused)
				pe_set_note(t, "554 greeting: the server refuses this client");
			spawn_fp(e, t);
			c->step = ST_QUIT;
			break;
		}
		pe_set_note(t, "greeting, but EHLO and HELO answered %d: not SMTP%s", rep->code,
			 probe_smtp_text_looks_ftp(t->banner) ? " (FTP?)" : "");
		pe_main_verdict(e, c, G_NOT_SMTP);
		return;
	case ST_STARTTLS:
		if (rep->code != 220) {
			pe_set_note(t, "STARTTLS answered %d", rep->code);
			c->step = ST_QUIT;
			break;
		}
		c->starttls = true;
		pe_start_tls(e, c);
		return;
	case ST_QUIT:
	default:
		pe_main_verdict(e, c, t->g);
		return;
	}
	send_step(e, c);
}

/* Bytes arrived on an SMTP-speaking (main or fingerprint) connection. */
void pe_smtp_input(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;
	struct probe_smtp_reply rep;
	int rc = probe_smtp_reply_parse(c->in, c->inlen, &rep);

	if (c->kind == CK_MAIN && c->step == ST_GREETING && t->smpp && t->smpp->st <= CS_QUIET) {
		/* it speaks first: not SMPP, don't send it binary */
		pe_conn_close(e, t->smpp);
	}
	if (rc == 0 && c->inlen < sizeof(c->in))
		return;
	if (rc == 1) {
		smtp_reply(e, c, &rep);
		return;
	}
	if (c->kind == CK_FP) {
		pe_fp_record(e, c, 0, NULL, 0);
		return;
	}
	if (c->step == ST_QUIT) {
		pe_main_verdict(e, c, t->g);
		return;
	}
	if (c->step == ST_GREETING)
		pe_escape_into(t->gev, sizeof(t->gev), c->in, c->inlen < 300 ? c->inlen : 300);
	if (rc == 0) {
		pe_set_note(t, "oversized reply: more than %u bytes without an end", PROBE_BUF_MAX);
		pe_main_verdict(e, c, t->g == G_SMTP ? G_SMTP : G_OVERSIZED);
		return;
	}
	if (c->step == ST_GREETING)
		pe_set_note(t, "not an SMTP greeting");
	else
		pe_set_note(t, "EHLO answered with something that is not an SMTP reply");
	pe_main_verdict(e, c, t->g == G_SMTP ? G_SMTP : G_NOT_SMTP);
}

/* ---- SMPP side ---- */

void pe_smpp_send_enquire(struct engine *e, struct conn *c)
{
	uint8_t pdu[PROBE_SMPP_HDR_LEN];

	c->seq = pe_random_seq();
	probe_smpp_encode_hdr(pdu, PROBE_SMPP_ENQUIRE_LINK, 0, c->seq);
	if (pe_conn_send(e, c, pdu, sizeof(pdu)) < 0) {
		pe_conn_close(e, c);
		return;
	}
	c->st = CS_SMPP_RESP;
	c->deadline = pe_read_deadline(e);
}

void pe_smpp_send_bind(struct engine *e, struct conn *c)
{
	int n;

	c->seq = pe_random_seq();
	n = probe_smpp_encode_bind(e->bindpdu, sizeof(e->bindpdu), c->seq, "portlock", "probe");
	if (n < 0 || pe_conn_send(e, c, e->bindpdu, (size_t)n) < 0) {
		pe_conn_close(e, c);
		return;
	}
	c->st = CS_SMPP_BIND;
	c->deadline = pe_read_deadline(e);
}

void pe_smpp_input(struct engine *e, struct conn *c)
{
	struct tstate *t = c->t;
	struct probe_result *r = t->r;
	struct probe_smpp_hdr h;
	int rc;

	if (c->st == CS_QUIET) {
		t->s = S_SPOKE_FIRST;
		pe_escape_into(t->sev, sizeof(t->sev), c->in, c->inlen < 200 ? c->inlen : 200);
		pe_conn_close(e, c);
		return;
	}
	if (probe_smpp_decode_hdr(c->in, c->inlen, &h) < 0)
		return;		/* fewer than 16 bytes so far */
	if (c->st == CS_SMPP_BIND) {
		rc = probe_smpp_check_reply(&h, PROBE_SMPP_BIND_TRANSMITTER, c->seq);
		if (rc == 0 && c->bind_only) {
			/* a v3.4 SMSC that closed on enquire_link answered the bind */
			t->s = S_SMPP;
			r->smpp_cmd = h.id;
			r->smpp_status = h.status;
			pe_escape_into(t->sev, sizeof(t->sev), c->in, PROBE_SMPP_HDR_LEN);
			if (t->main && t->main->inlen == 0)
				pe_conn_close(e, t->main);
		} else if (rc == -EBADMSG && c->bind_only) {
			t->s = S_MALFORMED;
			pe_set_note(t, "SMPP-like header with impossible command_length %u", h.len);
		}
		if (rc == 0) {
			r->smpp_bind_done = 1;
			r->smpp_bind_cmd = h.id;
			r->smpp_bind_status = h.status;
			if (h.status == 0 && h.id == PROBE_SMPP_BIND_TRANSMITTER_RESP) {
				uint8_t pdu[PROBE_SMPP_HDR_LEN];

				/* dummy credentials accepted (!): leave politely */
				probe_smpp_encode_hdr(pdu, PROBE_SMPP_UNBIND, 0, c->seq + 1);
				pe_conn_send(e, c, pdu, sizeof(pdu));
			}
		}
		pe_conn_close(e, c);
		return;
	}
	rc = probe_smpp_check_reply(&h, PROBE_SMPP_ENQUIRE_LINK, c->seq);
	pe_escape_into(t->sev, sizeof(t->sev), c->in, PROBE_SMPP_HDR_LEN);
	if (rc == 0) {
		t->s = S_SMPP;
		r->smpp_cmd = h.id;
		r->smpp_status = h.status;
		if (t->main && t->main->st != CS_DONE && t->main->inlen == 0)
			pe_conn_close(e, t->main);	/* the silent SMTP wait is moot now */
		if (e->o->smpp_bind) {
			pe_smpp_send_bind(e, c);
			return;
		}
		pe_conn_close(e, c);
		return;
	}
	if (rc == -EBADMSG) {
		t->s = S_MALFORMED;
		pe_set_note(t, "SMPP-like header with impossible command_length %u", h.len);
	} else {
		t->s = S_NOT_SMPP;
		pe_escape_into(t->sev, sizeof(t->sev), c->in, c->inlen < 200 ? c->inlen : 200);
		t->smtp_like_smpp = c->inlen >= 4 && c->in[0] >= '2' && c->in[0] <= '5' &&
				    c->in[1] >= '0' && c->in[1] <= '9' && c->in[2] >= '0' &&
				    c->in[2] <= '9' && (c->in[3] == ' ' || c->in[3] == '-');
	}
	/* an answer to binary that is not SMTP-like: no greeting will come */
	if (!t->smtp_like_smpp && t->main && t->main->st != CS_DONE && t->main->inlen == 0)
		pe_conn_close(e, t->main);
	pe_conn_close(e, c);
}

/* ---- silent ports: one generic request ---- */

/*
 * GEN_REQUEST is nmap's GetRequest: an HTTP server answers it, a TLS server
 * answers with an alert or closes (then one TLS handshake tells what it
 * offers, and the same request inside tells HTTPS), anything else is shown
 * as it answered.
 *
 * Due when the SMTP wait ended in silence and the SMPP attempt did not identify
 * SMPP (silence, or an answer to binary such as an HTTP 400): one request.
 */
bool pe_gen_due(const struct engine *e, const struct tstate *t)
{
	/* G_NONE: the SMPP answer closed the silent main connection early */
	return !t->gen_spawned && !t->cancelled && !t->final &&
	       (t->g == G_SILENT || t->g == G_NONE) &&
	       (t->s == S_SILENT || t->s == S_NONE || t->s == S_NOT_SMPP) &&
	       pe_now_ms() < e->deadline;
}

void pe_spawn_gen(struct engine *e, struct tstate *t, bool tls)
{
	struct conn *c = pe_new_conn(e, t, CK_GEN, true);

	t->gen_spawned = true;
	if (tls)
		t->gen_tls_tried = true;
	if (c)
		c->gen_tls = tls;
}

/* The status code and Server header of an HTTP response header (bounded, escaped). */
static void http_facts(struct tstate *t, const uint8_t *p, size_t n)
{
	struct probe_result *r = t->r;
	size_t eol = 0;

	if (n >= 12 && p[8] == ' ' && p[9] >= '1' && p[9] <= '9' && p[10] >= '0' && p[10] <= '9' &&
	    p[11] >= '0' && p[11] <= '9')
		r->http_status = (uint32_t)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
	while (eol < n && p[eol] != '\n')
		eol++;
	pe_escape_into(t->genev, sizeof(t->genev), p, eol < n ? eol + 1 : n);
	for (size_t o = eol + 1; o < n;) {
		size_t e = o, v;

		while (e < n && p[e] != '\n')
			e++;
		if (e == n || e == o || (e == o + 1 && p[o] == '\r'))
			break;	/* an incomplete line, or the end of the header */
		if (e - o > 7 && !strncasecmp((const char *)p + o, "server:", 7)) {
			size_t end = e;

			for (v = o + 7; v < end && (p[v] == ' ' || p[v] == '\t'); v++)
				;
			while (end > v && (p[end - 1] == '\r' || p[end - 1] == ' ' || p[end - 1] == '\t'))
				end--;
			util_escape(p + v, end - v < 100 ? end - v : 100, r->http_server,
				    sizeof(r->http_server));
			break;
		}
		o = e + 1;
	}
}

/* Try the request once more inside TLS, or give up. */
static void gen_next_or_close(struct engine *e, struct conn *c)
{
	if (!c->gen_tls && !c->t->gen_tls_tried && pe_now_ms() < e->deadline)
		pe_spawn_gen(e, c->t, true);
	pe_conn_close(e, c);
}

void pe_gen_input(struct engine *e, struct conn *c, bool eof)
{
	struct tstate *t = c->t;
	const uint8_t *in = c->in;
	size_t n = c->inlen;
	bool full = n == sizeof(c->in);

	if (!c->gen_tls && n >= 3 && (in[0] == 0x15 || in[0] == 0x16) && in[1] == 0x03) {
		gen_next_or_close(e, c);	/* a TLS record: the port wants TLS */
		return;
	}
	if (!n) {
		if (eof)
			gen_next_or_close(e, c);
		return;
	}
	if (n >= 5 && !memcmp(in, "HTTP/", 5)) {
		if (!eof && !full && !memmem(in, n, "\r\n\r\n", 4) && !memmem(in, n, "\n\n", 2))
			return;	/* the header is not complete yet */
		t->gv = GV_HTTP;
		http_facts(t, in, n);
		pe_conn_close(e, c);
		return;
	}
	if (n < 5 && !eof && !full && !memcmp(in, "HTTP/", n))
		return;
	pe_escape_into(t->genev, sizeof(t->genev), in, n < 300 ? n : 300);
	if (t->gv == GV_NONE)
		t->gv = GV_OTHER;
	pe_conn_close(e, c);
}

