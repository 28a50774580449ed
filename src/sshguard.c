// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The SSH lockout guard (see sshguard.h): SSH sessions from the kernel's
 * sockets (listen.c does the sock_diag dump and the /proc walk), judged
 * against a policy. Never prints.
 */
#include "sshguard.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "diag.h"
#include "listen.h"
#include "policy.h"
#include "util.h"

/* sessions described one by one in the message; the rest are counted */
#define SSHGUARD_SHOWN 3
/* OpenSSH's default port: taken as sshd's when sshd's own sockets cannot be seen */
#define SSHGUARD_DEFAULT_PORT 22

void sshguard_list_init(struct sshguard_list *l)
{
	memset(l, 0, sizeof(*l));
}

void sshguard_list_fini(struct sshguard_list *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

bool sshguard_is_sshd(const char *comm)
{
	/* "sshd"; OpenSSH 9.8+ runs each session in "sshd-session" (10.0: and "sshd-auth") */
	return strcmp(comm, "sshd") == 0 || strncmp(comm, "sshd-", 5) == 0;
}

static bool owned_by_sshd(const struct listen_entry *e)
{
	for (size_t i = 0; i < e->nowners; i++)
		if (sshguard_is_sshd(e->owners[i].comm))
			return true;
	return false;
}

static bool has_port(const uint16_t *ports, size_t n, uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (ports[i] == port)
			return true;
	return false;
}

static bool same_session(const struct sshguard_session *a, const struct sshguard_session *b)
{
	return a->family == b->family && a->client == b->client &&
	       a->client_port == b->client_port && a->port == b->port;
}

static int list_add(struct sshguard_list *l, const struct sshguard_session *s)
{
	int rc = util_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v));

	if (rc < 0)
		return rc;
	l->v[l->n++] = *s;
	return 0;
}

int sshguard_from_sockets(const struct listen_set *s, struct sshguard_list *out)
{
	uint16_t *ports = NULL;
	size_t nports = 0, cap = 0;
	int rc = 0;

	/* the ports sshd listens on */
	for (size_t i = 0; i < s->n && !rc; i++) {
		const struct listen_entry *e = &s->v[i];

		if (e->established || e->proto != LISTEN_PROTO_TCP || !owned_by_sshd(e) ||
		    has_port(ports, nports, e->port))
			continue;
		rc = util_grow((void **)&ports, &cap, nports + 1, sizeof(*ports));
		if (!rc)
			ports[nports++] = e->port;
	}
	if (!rc && s->owners_denied && !has_port(ports, nports, SSHGUARD_DEFAULT_PORT)) {
		rc = util_grow((void **)&ports, &cap, nports + 1, sizeof(*ports));
		if (!rc)
			ports[nports++] = SSHGUARD_DEFAULT_PORT;
	}
	for (size_t i = 0; i < s->n && !rc; i++) {
		const struct listen_entry *e = &s->v[i];
		struct sshguard_session ss = { 0 };

		if (!e->established || e->proto != LISTEN_PROTO_TCP)
			continue;
		if (!owned_by_sshd(e) && !has_port(ports, nports, e->port))
			continue;
		ss.family = e->family;
		ss.client = e->peer;
		if (e->family == CIDR_V6 && (e->peer >> 32) == 0xffff) {
			ss.family = CIDR_V4;	/* an IPv4 client of a dual-stack socket */
			ss.client = e->peer & 0xffffffffu;
		}
		ss.client_port = e->peer_port;
		ss.port = e->port;
		ss.inode = e->inode;
		rc = list_add(out, &ss);
	}
	free(ports);
	return rc;
}

int sshguard_add_env(struct sshguard_list *l, const char *ssh_connection)
{
	char client[64], server[64], *pct;
	unsigned cport, sport;
	struct sshguard_session ss = { .from_env = true };
	struct cidr c;

	if (!ssh_connection || !*ssh_connection)
		return 0;
	if (sscanf(ssh_connection, "%63s %u %63s %u", client, &cport, server, &sport) != 4 ||
	    sport > 65535 || cport > 65535)
		return 0;
	if (strncmp(client, "::ffff:", 7) == 0 && strchr(client, '.'))
		memmove(client, client + 7, strlen(client + 7) + 1);
	pct = strchr(client, '%');	/* fe80::1%eth0 */
	if (pct)
		*pct = '\0';
	if (strchr(client, '/') || cidr_parse(client, &c) != CIDR_OK)
		return 0;
	ss.family = c.family;
	ss.client = c.addr;
	ss.client_port = (uint16_t)cport;
	ss.port = (uint16_t)sport;
	for (size_t i = 0; i < l->n; i++)
		if (same_session(&l->v[i], &ss))
			return 0;
	return list_add(l, &ss) < 0 ? -ENOMEM : 1;
}

/* The service that would cut session ss, or NULL. */
static const struct policy_service *cut_by(const struct policy *p,
					   const struct sshguard_session *ss)
{
	const struct policy_service *s;

	if (!(p->hooks & POLICY_HOOK_INPUT))
		return NULL;	/* local sessions never pass the forward hook */
	s = policy_find_port(p, POLICY_TCP, ss->port);
	if (!s)
		return NULL;
	if (p->loopback && ((ss->family == CIDR_V4 && (ss->client >> 24) == 127) ||
			    (ss->family == CIDR_V6 && ss->client == 1)))
		return NULL;
	if (policy_service_allows(s, ss->family, ss->client))
		return NULL;
	return s;
}

/* "from X to port N[ would be cut]: service 'S' (file:line) does not allow X" */
static void describe(char *msg, size_t len, size_t *pos, const struct sshguard_session *ss,
		     const struct policy_service *s, const char *verb)
{
	char a[INET6_ADDRSTRLEN];

	cidr_addr_str(ss->family, ss->client, a, sizeof(a));
	util_appendf(msg, len, pos, "from %s to port %u%s: service '%s' (%s:%d) does not allow %s", a,
	       ss->port, verb, s->name, s->file ? s->file : "?", s->line, a);
}

size_t sshguard_cut(const struct policy *p, const struct sshguard_list *l, char *msg,
		    size_t len)
{
	size_t ncut = 0, shown = 0, described = 0, pos = 0;

	for (size_t i = 0; i < l->n; i++)
		if (cut_by(p, &l->v[i]))
			ncut++;
	if (!ncut || !len)
		return ncut;
	msg[0] = '\0';
	if (ncut == 1) {
		for (size_t i = 0; i < l->n; i++) {
			const struct policy_service *s = cut_by(p, &l->v[i]);

			if (s) {
				util_appendf(msg, len, &pos, "your SSH session ");
				describe(msg, len, &pos, &l->v[i], s, " would be cut");
			}
		}
		return ncut;
	}
	util_appendf(msg, len, &pos, "%zu SSH sessions would be cut: ", ncut);
	for (size_t i = 0; i < l->n; i++) {
		const struct policy_service *s = cut_by(p, &l->v[i]);
		const struct sshguard_session *ss = &l->v[i];
		size_t same = 0;
		bool seen = false;

		if (!s)
			continue;
		/* one line per client and port: a client's other sessions are counted there */
		for (size_t k = 0; k < i && !seen; k++)
			seen = ss->family == l->v[k].family && ss->client == l->v[k].client &&
			       ss->port == l->v[k].port && cut_by(p, &l->v[k]);
		if (seen || shown == SSHGUARD_SHOWN)
			continue;
		for (size_t k = i; k < l->n; k++)
			if (ss->family == l->v[k].family && ss->client == l->v[k].client &&
			    ss->port == l->v[k].port)
				same++;
		if (shown)
			util_appendf(msg, len, &pos, "; ");
		if (same > 1)
			util_appendf(msg, len, &pos, "%zu sessions ", same);
		describe(msg, len, &pos, ss, s, "");
		shown++;
		described += same;
	}
	if (described < ncut)
		util_appendf(msg, len, &pos, "; and %zu more", ncut - described);
	return ncut;
}

int sshguard_sessions(struct sshguard_list *out, struct diag *d)
{
	struct listen_set s;
	int rc, r;

	listen_set_init(&s);
	rc = listen_dump(&s, LISTEN_F_TCP | LISTEN_F_ESTABLISHED, d);
	if (!rc)
		rc = listen_owners_fill_if(&s, "/proc", sshguard_is_sshd, d);
	if (!rc && sshguard_from_sockets(&s, out) < 0)
		rc = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "SSH sessions");
	listen_set_fini(&s);
	r = sshguard_add_env(out, getenv("SSH_CONNECTION"));
	if (r < 0 && !rc)
		rc = diag_err(d, DIAG_INTERNAL, NULL, ENOMEM, "SSH sessions");
	return rc;
}

static bool manages_tcp(const struct policy *p)
{
	if (!(p->hooks & POLICY_HOOK_INPUT))
		return false;
	for (size_t i = 0; i < p->nsvcs; i++)
		if (p->svcs[i].proto == POLICY_TCP && p->svcs[i].nports)
			return true;
	return false;
}

/* One ssh-cut line for ss into buf (at least 80 bytes). */
static void cut_line(const struct sshguard_session *ss, char *buf, size_t len)
{
	snprintf(buf, len, "%u %d %016llx%016llx %u %u\n", ss->inode, ss->family == CIDR_V4 ? 4 : 6,
		 (unsigned long long)(ss->client >> 64), (unsigned long long)ss->client,
		 ss->client_port, ss->port);
}

char *sshguard_cut_format(const struct policy *p, const struct sshguard_list *l)
{
	char *out = malloc(l->n * 80 + 1);
	size_t pos = 0;

	if (!out)
		return NULL;
	out[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		if (!l->v[i].inode || !cut_by(p, &l->v[i]))
			continue;
		cut_line(&l->v[i], out + pos, 80);
		pos += strlen(out + pos);
	}
	return out;
}

size_t sshguard_forget(struct sshguard_list *l, const char *cut_text)
{
	size_t kept = 0, n = l->n;

	if (!cut_text || !*cut_text)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char line[80];
		const char *hit;

		cut_line(&l->v[i], line, sizeof(line));
		hit = l->v[i].inode ? strstr(cut_text, line) : NULL;
		/* a whole line of the file: at its start or after a newline */
		if (hit && (hit == cut_text || hit[-1] == '\n'))
			continue;
		l->v[kept++] = l->v[i];
	}
	l->n = kept;
	return n - kept;
}

bool sshguard_would_cut(const struct policy *p, const char *cut_text, char *msg, size_t len,
			char **cut_now)
{
	struct sshguard_list l;
	struct diag d;
	bool cut;

	if (cut_now)
		*cut_now = NULL;
	if (!manages_tcp(p))
		return false;	/* nothing an SSH session goes through: no dump needed */
	sshguard_list_init(&l);
	diag_init(&d);
	util_mark("sshguard: start");
	if (sshguard_sessions(&l, &d) == 0) {
		if (cut_now)
			*cut_now = sshguard_cut_format(p, &l);
		sshguard_forget(&l, cut_text);
		cut = sshguard_cut(p, &l, msg, len) > 0;
	} else if (sshguard_cut(p, &l, msg, len) > 0) {
		cut = true;	/* SSH_CONNECTION's session alone is enough to refuse */
	} else {
		snprintf(msg, len, "cannot tell which SSH sessions the policy would cut (%s)",
			 d.nrecs ? d.recs[d.nrecs - 1].msg : "sock_diag failed");
		cut = true;	/* fail closed: --force overrides */
	}
	diag_fini(&d);
	sshguard_list_fini(&l);
	util_mark("sshguard: sessions checked");
	return cut;
}
