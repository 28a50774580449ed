// SPDX-License-Identifier: GPL-2.0-or-later
/* The probe's privilege drop and seccomp allow-lists (see probe_sandbox.h). */
#include "probe_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "util.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define PROBE_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PROBE_SANITIZED 1
#endif

#if defined(__x86_64__)
#define PROBE_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define PROBE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#if defined(PROBE_AUDIT_ARCH) && !defined(PROBE_SANITIZED)
/* what the engine, OpenSSL and libc need once the sockets' addresses are known */
static const int engine_allow[] = {
	SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_close, SYS_socket, SYS_connect,
	SYS_bind, SYS_getsockopt, SYS_setsockopt, SYS_getsockname, SYS_getpeername,
	SYS_sendto, SYS_recvfrom, SYS_sendmsg, SYS_recvmsg, SYS_shutdown, SYS_epoll_ctl,
	SYS_epoll_pwait, SYS_ppoll, SYS_fcntl, SYS_clock_gettime, SYS_clock_nanosleep,
	SYS_getrandom, SYS_brk, SYS_mmap, SYS_munmap, SYS_mremap, SYS_madvise, SYS_mprotect,
	SYS_futex, SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_exit, SYS_exit_group,
	SYS_getpid, SYS_gettid, SYS_tgkill, SYS_fstat, SYS_newfstatat, SYS_lseek,
	SYS_sched_yield, SYS_nanosleep, SYS_restart_syscall,
#ifdef SYS_epoll_wait
	SYS_epoll_wait,
#endif
#ifdef SYS_poll
	SYS_poll,
#endif
};

/*
 * glibc getaddrinfo (measured with strace on Debian 12, files and dns in
 * nsswitch.conf, single and multi-address answers): the stub resolver
 * (UDP then TCP: socket, connect, sendmmsg, poll, recvfrom), RFC 6724
 * sorting (a connected UDP socket per address, getsockname, a netlink
 * socket for the interface addresses), the files it reads, uname for the
 * search domain, pread64 and mmap for NSS modules it loads. openat and
 * ioctl are filtered on their arguments below.
 */
static const int resolver_allow[] = {
	SYS_read, SYS_write, SYS_close, SYS_socket, SYS_connect, SYS_bind, SYS_getsockname,
	SYS_getsockopt, SYS_setsockopt, SYS_sendto, SYS_recvfrom, SYS_sendmsg, SYS_recvmsg,
	SYS_sendmmsg, SYS_ppoll, SYS_fcntl, SYS_clock_gettime, SYS_getrandom, SYS_brk,
	SYS_mmap, SYS_munmap, SYS_mremap, SYS_madvise, SYS_mprotect, SYS_futex,
	SYS_rt_sigreturn, SYS_rt_sigprocmask, SYS_exit, SYS_exit_group, SYS_getpid, SYS_getppid,
	SYS_gettid, SYS_fstat, SYS_newfstatat, SYS_lseek, SYS_pread64, SYS_uname,
	SYS_restart_syscall,
#ifdef SYS_poll
	SYS_poll,
#endif
#ifdef SYS_statx
	SYS_statx,
#endif
};

#define ARG_LO(i) (offsetof(struct seccomp_data, args) + 8 * (i))	/* little-endian */

static int install_seccomp(enum probe_sb_profile profile)
{
	const int *allow = profile == PROBE_SB_RESOLVER ? resolver_allow : engine_allow;
	size_t nallow = profile == PROBE_SB_RESOLVER ? ARRAY_SIZE(resolver_allow)
						     : ARRAY_SIZE(engine_allow);
	struct sock_filter f[24 + 2 * ARRAY_SIZE(engine_allow) + 2 * ARRAY_SIZE(resolver_allow)];
	struct sock_fprog prog;
	size_t k = 0;

	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PROBE_AUDIT_ARCH, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < nallow; i++) {
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)allow[i],
						      0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	if (profile == PROBE_SB_RESOLVER) {
		/* openat(dirfd, path, flags): read-only, never creating or truncating */
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 4);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2));
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K,
						      O_WRONLY | O_RDWR | O_CREAT | O_TRUNC |
							      O_APPEND | O_TMPFILE,
						      1, 0);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
		/* ioctl(fd, FIONREAD): how long the DNS answer waiting is */
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 3);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(1));
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FIONREAD, 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	prog.len = (unsigned short)k;
	prog.filter = f;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		return -errno;
	return 0;
}
#else
static int install_seccomp(enum probe_sb_profile profile)
{
	(void)profile;
	return 0;
}
#endif

/* Order matters: see inline. */
int probe_sandbox(unsigned nofile, enum probe_sb_profile profile)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	struct rlimit rl;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_DUMPABLE, 0);	/* no ptrace by other 'nobody' processes */
	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_CORE, &rl);
	rl.rlim_cur = rl.rlim_max = nofile;
	setrlimit(RLIMIT_NOFILE, &rl);	/* best effort: valgrind, for one, refuses it */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (geteuid() == 0) {
		/* the bounding set can only shrink while we still hold CAP_SETPCAP */
		for (int cap = 0; cap <= 63; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
				return -errno;
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			return -errno;
		rl.rlim_cur = rl.rlim_max = 0;
		setrlimit(RLIMIT_NPROC, &rl);	/* nobody may not fork */
	}
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return install_seccomp(profile);
}

int probe_keep_only(int fd)
{
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			return -errno;
		close(fd);
	}
	if (syscall(SYS_close_range, 4u, ~0u, 0u) < 0)
		for (int i = 4; i < 1024; i++)
			close(i);
	return 3;
}
