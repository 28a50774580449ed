// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The probe's entry points: service and outcome names, target parsing, and
 * the privilege separated child that runs the engine (probe_engine.h) and
 * the parent side of probe_run(), which only reads and decodes records; it
 * never sees peer bytes. See probe.h for the design.
 */
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

static const char *const svc_names[] = {
	[PROBE_SVC_UNKNOWN] = "unknown", [PROBE_SVC_SMTP] = "smtp",
	[PROBE_SVC_SMTPS] = "smtps",	 [PROBE_SVC_SMPP] = "smpp",
	[PROBE_SVC_SMPP_TLS] = "smpp-tls", [PROBE_SVC_CLOSED] = "closed",
	[PROBE_SVC_FILTERED] = "filtered", [PROBE_SVC_TIMEOUT] = "timeout",
	[PROBE_SVC_UNRESOLVED] = "unresolved", [PROBE_SVC_HTTP] = "http",
	[PROBE_SVC_HTTPS] = "https",	   [PROBE_SVC_TLS] = "tls",
	[PROBE_SVC_SSH] = "ssh",
};
_Static_assert(ARRAY_SIZE(svc_names) == PROBE_SVC_MAX, "service names");

static const char *const outcome_names[] = {
	[PROBE_OUT_NOT_TRIED] = "not tried",	 [PROBE_OUT_ANSWERED] = "answered",
	[PROBE_OUT_UNIDENTIFIED] = "unidentified", [PROBE_OUT_SILENT] = "silent",
	[PROBE_OUT_REFUSED] = "refused",	 [PROBE_OUT_TIMEOUT] = "timeout",
	[PROBE_OUT_UNREACHABLE] = "unreachable", [PROBE_OUT_ERROR] = "error",
	[PROBE_OUT_CANCELLED] = "cancelled",
};
_Static_assert(ARRAY_SIZE(outcome_names) == PROBE_OUT_MAX, "outcome names");

const char *probe_outcome_name(enum probe_outcome o)
{
	return (unsigned)o < PROBE_OUT_MAX ? outcome_names[o] : "invalid";
}

const char *probe_service_name(enum probe_service s)
{
	return (unsigned)s < PROBE_SVC_MAX ? svc_names[s] : "invalid";
}

int probe_service_parse(const char *name)
{
	for (int i = 0; i < PROBE_SVC_MAX; i++)
		if (!strcmp(name, svc_names[i]))
			return i;
	return -EINVAL;
}

int probe_target_parse(const char *s, struct probe_target *t)
{
	const char *colon, *hs, *he;
	char *end;
	unsigned long port;

	memset(t, 0, sizeof(*t));
	if (strlen(s) >= sizeof(t->spec))
		return -EINVAL;
	strcpy(t->spec, s);
	if (s[0] == '[') {
		he = strchr(s, ']');
		if (!he || he[1] != ':')
			return -EINVAL;
		hs = s + 1;
		colon = he + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;	/* no port, or an IPv6 address without brackets */
		hs = s;
		he = colon;
	}
	if (he == hs || (size_t)(he - hs) >= sizeof(t->host))
		return -EINVAL;
	if (!colon[1] || colon[1] == '-' || colon[1] == '+')
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (*end || end == colon + 1)
		return -EINVAL;
	if (errno || port < 1 || port > 65535)
		return -ERANGE;
	memcpy(t->host, hs, (size_t)(he - hs));
	for (const char *c = t->host; *c; c++)
		if (*c <= 0x20 || *c >= 0x7f || *c == '[' || *c == ']' || *c == '/')
			return -EINVAL;
	t->port = (uint16_t)port;
	return 0;
}

/* ---- the child ---- */

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void normalize(struct probe_opts *o)
{
	if (!o->concurrency)
		o->concurrency = PROBE_DEFAULT_CONCURRENCY;
	if (!o->connect_ms)
		o->connect_ms = PROBE_DEFAULT_CONNECT_MS;
	if (!o->read_ms)
		o->read_ms = PROBE_DEFAULT_READ_MS;
	if (!o->deadline_ms)
		o->deadline_ms = PROBE_DEFAULT_DEADLINE_MS;
}

struct emitter {
	int fd;
	uint8_t buf[REC_MAX + 12];
};

/* One result record on the pipe to the parent, as soon as it is final. */
static int emit_record(void *arg, uint32_t index, const struct probe_result *r)
{
	struct emitter *em = arg;
	int len = probe_result_encode(index, r, em->buf, sizeof(em->buf));

	if (len < 0)
		return len;
	return write_all(em->fd, em->buf, (size_t)len);
}

/*
 * Prepare (as the caller: sockets' family, TLS context), start the
 * resolver, drop privileges, run. Results go to out[] and, with em, to the
 * parent as they become final.
 */
static int run_local(const struct probe_target *t, size_t n, const struct probe_opts *o,
		     struct probe_result *out, struct emitter *em)
{
	struct prep p;
	int rc = pe_engine_prepare(&p, t, n, o, out);

	if (rc < 0)
		return rc;
	if (em) {
		p.emitted = calloc(n ? n : 1, sizeof(*p.emitted));
		p.emit = emit_record;
		p.emit_arg = em;
		rc = p.emitted ? pe_resolver_start(&p) : -ENOMEM;
		if (!rc)
			/* sockets for every connection, the epoll fd, the pipes, stdio, slack */
			rc = probe_sandbox(o->concurrency + 32, PROBE_SB_ENGINE);
		if (rc < 0) {
			free(p.emitted);
			pe_engine_fini(&p);
			return rc;
		}
	}
	pe_engine_run(&p);
	free(p.emitted);
	pe_engine_fini(&p);
	return 0;
}

static void child_main(int wfd, const struct probe_target *t, size_t n,
		       const struct probe_opts *o)
{
	struct probe_result *out;
	struct emitter *em;
	uint8_t end[12];
	int rc;

	/*
	 * Keep only stdio and the result pipe (as fd 3): a caller such as audit
	 * may hold netlink sockets or the journal lock, none of which the
	 * prober may touch.
	 */
	wfd = probe_keep_only(wfd);
	if (wfd < 0)
		_exit(3);
	prctl(PR_SET_DUMPABLE, 0);	/* no ptrace by other 'nobody' processes */
	signal(SIGPIPE, SIG_IGN);
	out = calloc(n ? n : 1, sizeof(*out));
	em = malloc(sizeof(*em));
	if (!out || !em)
		_exit(3);
	em->fd = wfd;
	rc = run_local(t, n, o, out, em);
	if (rc < 0)
		_exit(rc == -EPERM ? 4 : 5);
	memcpy(end, REC_MAGIC, 4);
	pe_put32(end + 4, REC_END);
	pe_put32(end + 8, 0);
	rc = write_all(wfd, end, 12);
	free(em);
	free(out);
	_exit(rc < 0 ? 6 : 0);
}

/*
 * The parent's side: read the child's records without ever blocking, until
 * the end record or the deadline (the child's own, plus PROBE_GRACE_MS).
 * At the deadline the child is killed and the records it sent are kept.
 */
struct reader {
	uint8_t *buf;
	size_t len, cap, max;
	bool killed;
};

static int read_results(int fd, pid_t pid, uint64_t limit, struct reader *rd, struct diag *d)
{
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		uint64_t now = pe_now_ms();
		ssize_t r;
		int pr;

		if (now >= limit) {
			kill(pid, SIGKILL);
			rd->killed = true;
			return 0;
		}
		pr = poll(&pf, 1, (int)(limit - now));
		if (pr < 0 && errno != EINTR)
			return diag_err(d, DIAG_INTERNAL, NULL, errno, "probe: poll");
		if (pr <= 0)
			continue;
		if (rd->len == rd->cap) {
			uint8_t *nb;

			if (rd->cap >= rd->max)
				return diag_err(d, DIAG_INTERNAL, NULL, 0,
						"probe: the probe process sent too much");
			nb = realloc(rd->buf, rd->cap * 2);
			if (!nb)
				return diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "probe");
			rd->buf = nb;
			rd->cap *= 2;
		}
		r = read(fd, rd->buf + rd->len, rd->cap - rd->len);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return diag_err(d, DIAG_INTERNAL, NULL, errno, "probe: read");
		if (r == 0)
			return 0;
		rd->len += (size_t)r;
	}
}

/* What the parent says of a target the stopped child had no result for. */
static void result_stopped(const struct probe_target *t, unsigned deadline_ms,
			   struct probe_result *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->target, sizeof(r->target), "%s", t->spec);
	r->port = t->port;
	r->service = PROBE_SVC_TIMEOUT;
	snprintf(r->note, sizeof(r->note),
		 "no result within the deadline of %u ms: the probe process was stopped",
		 deadline_ms);
}

static int child_status(int status, struct diag *d)
{
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	return diag_err(d, DIAG_INTERNAL, NULL, 0, "probe: the probe process failed (%s %d)%s",
			WIFEXITED(status) ? "exit" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			WIFEXITED(status) && WEXITSTATUS(status) == 4 ? ": cannot drop privileges"
								      : "");
}

int probe_run(const struct probe_target *t, size_t n, const struct probe_opts *opts,
	      struct probe_result *out, struct diag *d)
{
	struct probe_opts o = *opts;
	struct reader rd = { .cap = 65536, .max = n * (REC_MAX + 12) + 12 };
	bool *seen = NULL;
	int pfd[2], status = 0, rc;
	uint64_t limit;
	pid_t pid;

	normalize(&o);
	if (o.no_sandbox) {
		rc = run_local(t, n, &o, out, NULL);
		return rc < 0 ? diag_err(d, DIAG_INTERNAL, NULL, -rc, "probe") : 0;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return diag_err(d, DIAG_INTERNAL, NULL, errno, "probe: pipe");
	limit = pe_now_ms() + o.deadline_ms + PROBE_GRACE_MS;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rc = diag_err(d, DIAG_INTERNAL, NULL, errno, "probe: fork");
		close(pfd[0]);
		close(pfd[1]);
		return rc;
	}
	if (pid == 0) {
		close(pfd[0]);
		child_main(pfd[1], t, n, &o);
	}
	close(pfd[1]);
	/* allocated after fork, so the child's heap holds nothing of ours */
	rd.buf = malloc(rd.cap);
	seen = calloc(n ? n : 1, sizeof(*seen));
	if (!rd.buf || !seen || fcntl(pfd[0], F_SETFL, O_NONBLOCK) < 0) {
		kill(pid, SIGKILL);
		rc = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "probe");
	} else {
		rc = read_results(pfd[0], pid, limit, &rd, d);
		if (rc < 0)
			kill(pid, SIGKILL);
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!rc && !rd.killed)
		rc = child_status(status, d);
	if (!rc && pe_decode_stream(rd.buf, rd.len, out, n, seen, rd.killed) < 0)
		rc = diag_err(d, DIAG_INTERNAL, NULL, 0, "probe: malformed results from the probe process");
	for (size_t i = 0; !rc && i < n; i++) {
		if (seen[i])
			continue;
		if (rd.killed)
			result_stopped(&t[i], o.deadline_ms, &out[i]);
		else
			rc = diag_err(d, DIAG_INTERNAL, NULL, 0, "probe: no result for '%s'", t[i].spec);
	}
	free(rd.buf);
	free(seen);
	return rc;
}
