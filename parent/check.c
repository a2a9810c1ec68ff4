/*
 * podrunner check: which of podrunner's guarantees hold on this kernel
 * and under these privileges, and what each missing one degrades.
 * Each probe runs the real mechanism (in a throwaway child where it
 * changes the process), so "ok" means it worked here, now.
 */
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auditload.h"
#include "parent.h"
#include "podcgroup.h"
#include "podfs.h"
#include "podlandlock.h"
#include "podseccomp.h"
#include "privsep.h"

struct probe {
	const char	*name;
	int		 ok;
	int		 required;	/* podrunner run refuses without it */
	char		 detail[320];
	const char	*degrades;	/* what is lost without it */
};

/* Run fn in a child; its exit status 0 means it worked. */
static int
in_child(int (*fn)(void))
{
	int	status;
	pid_t	pid;

	switch (pid = fork()) {
	case -1:
		return 0;
	case 0:
		_exit(fn() == 0 ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) == -1)
		return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int
try_namespaces(void)
{
	return unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET |
	    CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP);
}

static int
try_pivot(void)
{
	/* A private mount namespace: a tmpfs over /tmp changes nothing
	 * on the host. */
	if (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
	    mount("tmpfs", "/tmp", "tmpfs", 0, "size=4k") == -1 ||
	    chdir("/tmp") == -1 ||
	    syscall(SYS_pivot_root, ".", ".") == -1 ||
	    umount2(".", MNT_DETACH) == -1)
		return -1;
	return 0;
}

static int
try_idmap(void)
{
	struct mount_attr	attr;
	int			ns, fd;

	if (unshare(CLONE_NEWNS) == -1 ||
	    (ns = fs_idmap_userns(0, 65534, 0, 65534)) == -1 ||
	    (fd = open_tree(AT_FDCWD, "/tmp", OPEN_TREE_CLONE)) == -1)
		return -1;
	memset(&attr, 0, sizeof(attr));
	attr.attr_set = MOUNT_ATTR_IDMAP;
	attr.userns_fd = (uint64_t)ns;
	return mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr));
}

static int
try_seccomp(void)
{
	char	err[256];

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    pod_seccomp_install(err, sizeof(err)) == -1)
		return -1;
	/* The profile must refuse what it promises to. */
	return unshare(CLONE_NEWNS) == -1 && errno == EPERM ? 0 : -1;
}

static int
in_container(char *buf, size_t len)
{
	char	line[512];
	FILE	*f;

	if (access("/.dockerenv", F_OK) == 0) {
		(void)snprintf(buf, len, "/.dockerenv present");
		return 1;
	}
	if ((f = fopen("/proc/1/cgroup", "re")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (strstr(line, "docker") || strstr(line, "kubepods") ||
			    strstr(line, "containerd")) {
				fclose(f);
				(void)snprintf(buf, len, "pid 1's cgroup says so");
				return 1;
			}
		fclose(f);
	}
	(void)snprintf(buf, len, "no sign of a container");
	return 0;
}

int
check_main(int json)
{
	struct probe	 p[16];
	json_t		*doc, *o;
	char		 err[256];
	unsigned int	 feat;
	double		 ms;
	size_t		 n = 0, i;
	int		 abi, missing = 0;

	memset(p, 0, sizeof(p));
	p[n].name = "root";
	p[n].ok = geteuid() == 0;
	p[n].required = 1;
	(void)snprintf(p[n].detail, sizeof(p[n].detail), "euid %u",
	    (unsigned)geteuid());
	p[n++].degrades = "podrunner run needs root to build pods";

	p[n].name = "namespaces";
	p[n].ok = in_child(try_namespaces);
	p[n].required = 1;
	(void)snprintf(p[n].detail, sizeof(p[n].detail),
	    "mount, pid, net, uts, ipc, cgroup");
	p[n++].degrades = "the pod: its own filesystem, processes, network "
	    "and hostname (only --no-sandbox runs)";

	p[n].name = "pivot_root";
	p[n].ok = in_child(try_pivot);
	p[n].required = 1;
	(void)snprintf(p[n].detail, sizeof(p[n].detail),
	    "a tmpfs root, the old root detached");
	p[n++].degrades = "the pod's filesystem";

	p[n].name = "idmapped mounts";
	p[n].ok = in_child(try_idmap);
	p[n].required = 1;
	(void)snprintf(p[n].detail, sizeof(p[n].detail),
	    "MOUNT_ATTR_IDMAP on a bind");
	p[n++].degrades = "grants of the invoking user's private files "
	    "(the worker is another uid)";

	abi = pod_landlock_abi();
	p[n].name = "landlock";
	p[n].ok = abi > 0;
	p[n].required = 1;
	(void)snprintf(p[n].detail, sizeof(p[n].detail), "ABI %d%s", abi,
	    abi >= 6 ? " (filesystem, TCP, scoping)" : abi >= 4 ?
	    " (filesystem, TCP; no scoping)" : abi > 0 ? " (filesystem only)" :
	    "");
	p[n++].degrades = "the second, independent filesystem, exec and "
	    "network layer";

	p[n].name = "seccomp";
	p[n].ok = in_child(try_seccomp);
	p[n].required = 1;
	(void)snprintf(p[n].detail, sizeof(p[n].detail),
	    "the worker's profile installed and refusing unshare");
	p[n++].degrades = "the syscall deny list (io_uring, bpf, mount, "
	    "ptrace, ...)";

	p[n].name = "cgroups";
	if (pod_cgroup_init(err, sizeof(err)) == 0) {
		feat = pod_cgroup_features();
		p[n].ok = (feat & (PODCG_F_MEMORY | PODCG_F_PIDS)) ==
		    (PODCG_F_MEMORY | PODCG_F_PIDS);
		(void)snprintf(p[n].detail, sizeof(p[n].detail),
		    "%s: memory %s, pids %s, cpu %s, kill %s",
		    pod_cgroup_mode() == PODCG_V2 ? "v2" :
		    pod_cgroup_mode() == PODCG_MIXED ? "mixed v1+v2" : "v1",
		    feat & PODCG_F_MEMORY ? "yes" : "no",
		    feat & PODCG_F_PIDS ? "yes" : "no",
		    feat & PODCG_F_CPU ? "yes" : "no",
		    feat & PODCG_F_KILL ? "cgroup.kill" : "signals");
		pod_cgroup_fini(0);
	} else
		(void)snprintf(p[n].detail, sizeof(p[n].detail), "%s", err);
	p[n].required = 1;
	p[n++].degrades = "memory, cpu and pids limits";

	/* The audit's own loader, the whole of it, in a child. */
	p[n].name = "bpf";
	p[n].ok = audit_probe(err, sizeof(err), &ms) == 0;
	if (p[n].ok)
		(void)snprintf(p[n].detail, sizeof(p[n].detail), "the audit's "
		    "program loaded and attached to sys_exit in %.1f ms", ms);
	else
		(void)snprintf(p[n].detail, sizeof(p[n].detail), "%s", err);
	p[n++].degrades = "the eBPF audit trail (a policy with "
	    "audit.required is refused)";

	/* Information, not a layer: inside Docker the layers above need
	 * --cap-add SYS_ADMIN and unconfined seccomp/apparmor. */
	p[n].name = "container";
	p[n].ok = 1;
	if (in_container(err, sizeof(err)))
		(void)snprintf(p[n].detail, sizeof(p[n].detail), "inside a "
		    "container (%s)", err);
	else
		(void)snprintf(p[n].detail, sizeof(p[n].detail), "not in a "
		    "container");
	p[n++].degrades = "";

	for (i = 0; i < n; i++)
		if (p[i].required && !p[i].ok)
			missing++;
	if (json) {
		doc = json_object();
		for (i = 0; i < n; i++) {
			o = json_pack("{s:b, s:b, s:s, s:s}", "ok", p[i].ok,
			    "required", p[i].required, "detail", p[i].detail,
			    "degrades", p[i].degrades);
			json_object_set_new(doc, p[i].name, o);
		}
		(void)json_dumpf(doc, stdout, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER);
		printf("\n");
		json_decref(doc);
	} else {
		printf("%-16s %-8s %s\n", "LAYER", "STATUS", "DETAIL");
		for (i = 0; i < n; i++) {
			printf("%-16s %-8s %s\n", p[i].name, p[i].ok ? "ok" :
			    p[i].required ? "MISSING" : "missing", p[i].detail);
			if (!p[i].ok)
				printf("%-16s %-8s without it: %s\n", "", "",
				    p[i].degrades);
		}
		printf("\n%s\n", missing == 0 ? "every required layer is "
		    "available: podrunner run builds full pods" :
		    "a required layer is missing: podrunner run refuses "
		    "(--no-sandbox runs without the kernel sandbox)");
	}
	return missing == 0 ? 0 : 1;
}
