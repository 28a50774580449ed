// SPDX-License-Identifier: GPL-2.0-or-later
/* Host names of probe targets, resolved in a sandboxed process (see probe_resolve.h). */
#include "probe_resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "probe_sandbox.h"

bool probe_host_numeric(const char *host)
{
	uint8_t a[16];

	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

void probe_resolve_one(const char *host, uint16_t port, int family, uint32_t index,
		       struct probe_resolved *out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char portstr[8];

	memset(out, 0, sizeof(*out));
	out->index = index;
	hints.ai_family = family;
	if (probe_host_numeric(host))
		hints.ai_flags |= AI_NUMERICHOST;
	snprintf(portstr, sizeof(portstr), "%u", port);
	errno = 0;
	out->gai = getaddrinfo(host, portstr, &hints, &ai);
	out->err = errno;
	if (out->gai)
		return;
	for (struct addrinfo *p = ai; p; p = p->ai_next) {
		struct probe_raddr r = { .family = (uint16_t)p->ai_family, .port = port };
		bool dup = false;

		if (p->ai_family == AF_INET && p->ai_addrlen >= sizeof(struct sockaddr_in)) {
			memcpy(r.addr, &((struct sockaddr_in *)p->ai_addr)->sin_addr, 4);
		} else if (p->ai_family == AF_INET6 &&
			   p->ai_addrlen >= sizeof(struct sockaddr_in6)) {
			const struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)p->ai_addr;

			memcpy(r.addr, &s6->sin6_addr, 16);
			r.scope = s6->sin6_scope_id;
		} else {
			continue;
		}
		for (uint32_t k = 0; k < out->n && !dup; k++)
			dup = !memcmp(&out->a[k], &r, sizeof(r));
		if (dup)
			continue;
		if (out->n == PROBE_ADDRS_MAX)
			out->more++;
		else
			out->a[out->n++] = r;
	}
	freeaddrinfo(ai);
}

socklen_t probe_raddr_sockaddr(const struct probe_raddr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(a->port);
		memcpy(&s4->sin_addr, a->addr, 4);
		return sizeof(*s4);
	}
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		s6->sin6_scope_id = a->scope;
		memcpy(&s6->sin6_addr, a->addr, 16);
		return sizeof(*s6);
	}
	return 0;
}

static void resolver_main(int wfd, const struct probe_target *t, size_t n, const bool *names,
			  int family, pid_t engine)
{
	struct probe_resolved rec;

	signal(SIGPIPE, SIG_DFL);	/* the engine is gone: so are we */
	wfd = probe_keep_only(wfd);
	close(0);	/* a $(portlock probe) waits for every holder of stdout */
	close(1);
	if (wfd < 0 || probe_sandbox(32, PROBE_SB_RESOLVER) < 0)
		_exit(4);
	if (getppid() != engine)
		_exit(0);	/* the engine died before PR_SET_PDEATHSIG */
	for (size_t i = 0; i < n; i++) {
		if (!names[i])
			continue;
		probe_resolve_one(t[i].host, t[i].port, family, (uint32_t)i, &rec);
		if (write(wfd, &rec, sizeof(rec)) != (ssize_t)sizeof(rec))
			_exit(6);
	}
	_exit(0);
}

int probe_resolver_start(const struct probe_target *t, size_t n, const bool *names, int family,
			 pid_t *pid)
{
	pid_t engine = getpid();
	int pfd[2];

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	*pid = fork();
	if (*pid < 0) {
		int err = errno;

		close(pfd[0]);
		close(pfd[1]);
		return -err;
	}
	if (*pid == 0) {
		close(pfd[0]);
		resolver_main(pfd[1], t, n, names, family, engine);
	}
	close(pfd[1]);
	if (fcntl(pfd[0], F_SETFL, O_NONBLOCK) < 0) {
		int err = errno;

		close(pfd[0]);
		return -err;
	}
	return pfd[0];
}
