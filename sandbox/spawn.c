/*
 * The spawn description: built by the parent, checked by the sandbox,
 * read again by the relay.  Every field is bounds-checked and nothing
 * may be left over.
 */
#include <sys/types.h>

#include <ctype.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imsg.h"
#include "podshm.h"
#include "privsep.h"
#include "proto.h"
#include "sandbox.h"
#include "util.h"

void
pod_shm_name(const char *podid, char *buf, size_t len)
{
	(void)snprintf(buf, len, "%s%s", SHM_PREFIX, podid);
}

void
pod_dir_name(const char *podid, char *buf, size_t len)
{
	(void)snprintf(buf, len, "%s/%s", PATH_RUNDIR, podid);
}

/*
 * Remove a pod's names, relative to the run and shm directories: its
 * segment, the files of its directory, the directory.  Returns -1 if
 * something other than "not there" went wrong (errno set).
 */
int
pod_unlink_names(int rundirfd, int shmdirfd, const char *podid)
{
	static const char *files[] = {
		POD_SOCKET, POD_RUNTIME_SCRIPT, POD_RUNTIME_PYC, POD_RUNTIME_JS,
		POD_RUNTIME_TS, POD_RUNTIME_LIB, POD_BUN_MNT
	};
	static const char *dirs[] = { POD_ROOT };
	char	name[128];
	size_t	i;
	int	rv = 0;

	pod_shm_name(podid, name, sizeof(name));
	if (unlinkat(shmdirfd, name, 0) == -1 && errno != ENOENT)
		rv = -1;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		(void)snprintf(name, sizeof(name), "%s/%s", podid, files[i]);
		if (unlinkat(rundirfd, name, 0) == -1 && errno != ENOENT)
			rv = -1;
	}
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		(void)snprintf(name, sizeof(name), "%s/%s", podid, dirs[i]);
		if (unlinkat(rundirfd, name, AT_REMOVEDIR) == -1 &&
		    errno != ENOENT)
			rv = -1;
	}
	if (unlinkat(rundirfd, podid, AT_REMOVEDIR) == -1 && errno != ENOENT)
		rv = -1;
	return rv;
}

/*
 * Tell the parent that a pod could not start (IMSG_SANDBOX_FAILED: the
 * exit status, then the reason), and wait until it is sent.
 */
void
spawn_report_failed(struct imsgbuf *ib, uint32_t code, const char *msg)
{
	struct ibuf	*b;

	if ((b = ibuf_dynamic(64, 2048)) != NULL &&
	    ibuf_add_n32(b, code) == 0 &&
	    ibuf_add_string(b, msg) == 0 &&
	    imsg_compose_ibuf(ib, IMSG_SANDBOX_FAILED, 0, 0, -1, b) == 0)
		(void)imsgbuf_flush(ib);
}

struct ibuf *
spawn_spec_build(const struct spawn_spec *sp)
{
	struct ibuf	*b;
	size_t		 i;
	int		 rc = 0;

	if ((b = ibuf_dynamic(1024, SPAWN_IMSG_MAX)) == NULL)
		return NULL;
	rc |= ibuf_add_string(b, sp->podid);
	rc |= ibuf_add_n32(b, sp->worker);
	rc |= ibuf_add_n32(b, sp->flags);
	rc |= ibuf_add_n64(b, sp->shm_size);
	rc |= ibuf_add_n32(b, sp->worker_uid);
	rc |= ibuf_add_n32(b, sp->worker_gid);
	rc |= ibuf_add_string(b, sp->entry);
	rc |= ibuf_add_string(b, sp->cwd);
	rc |= ibuf_add_string(b, sp->runtime);
	rc |= ibuf_add_string(b, sp->runtime_script);
	rc |= ibuf_add_string(b, sp->runtime_lib);
	rc |= ibuf_add_n32(b, (uint32_t)sp->nargs);
	for (i = 0; i < sp->nargs; i++)
		rc |= ibuf_add_string(b, sp->args[i]);
	rc |= ibuf_add_n32(b, (uint32_t)sp->nenv);
	for (i = 0; i < sp->nenv; i++)
		rc |= ibuf_add_string(b, sp->env[i]);
	rc |= ibuf_add_n32(b, sp->invoker_uid);
	rc |= ibuf_add_n32(b, sp->invoker_gid);
	rc |= ibuf_add_n64(b, sp->tmpfs_size);
	rc |= ibuf_add_n32(b, (uint32_t)sp->ngrants);
	for (i = 0; i < sp->ngrants; i++) {
		rc |= ibuf_add_n8(b, sp->grants[i].kind);
		rc |= ibuf_add_n8(b, sp->grants[i].action);
		rc |= ibuf_add_string(b, sp->grants[i].path);
	}
	if (rc != 0) {
		ibuf_free(b);
		errno = EMSGSIZE;
		return NULL;
	}
	return b;
}

static int
get_strings(struct ibuf *b, char ***out, size_t *n)
{
	uint32_t	 cnt, i;

	*out = NULL;
	*n = 0;
	if (ibuf_get_n32(b, &cnt) == -1 || cnt > SPAWN_MAX_ARGS)
		return -1;
	if (cnt == 0)
		return 0;
	*out = xcalloc(cnt, sizeof(char *));
	for (i = 0; i < cnt; i++) {
		if (ibuf_get_string(b, &(*out)[i], SPAWN_MAX_STR) == -1)
			return -1;
		(*n)++;
	}
	return 0;
}

int
spawn_spec_parse(struct imsg *imsg, struct spawn_spec *sp)
{
	struct ibuf	 b;
	char		*podid = NULL;
	uint32_t	 ngrants;
	size_t		 i;

	memset(sp, 0, sizeof(*sp));
	if (imsg_get_ibuf(imsg, &b) == -1)
		return -1;
	if (ibuf_get_string(&b, &podid, PODID_LEN) == -1)
		goto bad;
	if (strlen(podid) != PODID_LEN)
		goto bad;
	for (i = 0; i < PODID_LEN; i++)
		if (!isxdigit((unsigned char)podid[i]) ||
		    isupper((unsigned char)podid[i]))
			goto bad;
	memcpy(sp->podid, podid, PODID_LEN + 1);
	free(podid);
	podid = NULL;
	if (ibuf_get_n32(&b, &sp->worker) == -1 ||
	    ibuf_get_n32(&b, &sp->flags) == -1 ||
	    ibuf_get_n64(&b, &sp->shm_size) == -1 ||
	    ibuf_get_n32(&b, &sp->worker_uid) == -1 ||
	    ibuf_get_n32(&b, &sp->worker_gid) == -1 ||
	    ibuf_get_string(&b, &sp->entry, SPAWN_MAX_STR) == -1 ||
	    ibuf_get_string(&b, &sp->cwd, SPAWN_MAX_STR) == -1 ||
	    ibuf_get_string(&b, &sp->runtime, SPAWN_MAX_STR) == -1 ||
	    ibuf_get_string(&b, &sp->runtime_script, SPAWN_MAX_STR) == -1 ||
	    ibuf_get_string(&b, &sp->runtime_lib, SPAWN_MAX_STR) == -1 ||
	    get_strings(&b, &sp->args, &sp->nargs) == -1 ||
	    get_strings(&b, &sp->env, &sp->nenv) == -1 ||
	    ibuf_get_n32(&b, &sp->invoker_uid) == -1 ||
	    ibuf_get_n32(&b, &sp->invoker_gid) == -1 ||
	    ibuf_get_n64(&b, &sp->tmpfs_size) == -1 ||
	    ibuf_get_n32(&b, &ngrants) == -1 || ngrants > SPAWN_MAX_ARGS)
		goto bad;
	if (ngrants > 0)
		sp->grants = xcalloc(ngrants, sizeof(*sp->grants));
	for (i = 0; i < ngrants; i++) {
		if (ibuf_get_n8(&b, &sp->grants[i].kind) == -1 ||
		    ibuf_get_n8(&b, &sp->grants[i].action) == -1 ||
		    ibuf_get_string(&b, &sp->grants[i].path, SPAWN_MAX_STR) == -1)
			goto bad;
		sp->ngrants++;
		/* Paths, or command names (run) found on the pod's PATH. */
		if ((sp->grants[i].kind != PERM_READ &&
		    sp->grants[i].kind != PERM_WRITE &&
		    sp->grants[i].kind != PERM_RUN) ||
		    sp->grants[i].action > PERM_DENY ||
		    (sp->grants[i].path[0] != '/' &&
		    (sp->grants[i].kind != PERM_RUN ||
		    strchr(sp->grants[i].path, '/') != NULL ||
		    sp->grants[i].path[0] == '\0')))
			goto bad;
	}
	if (ibuf_size(&b) != 0)
		goto bad;
	if ((sp->flags & SPAWN_F_PERSISTENT ? sp->entry[0] != '\0' :
	    sp->entry[0] != '/') || sp->cwd[0] != '/' ||
	    sp->shm_size < PODSHM_MIN_SIZE || sp->shm_size > PODSHM_MAX_SIZE ||
	    sp->shm_size % 4096 != 0 || (sp->flags & ~SPAWN_F_ALL))
		goto bad;
	for (i = 0; i < sp->nenv; i++)
		if (strchr(sp->env[i], '=') == NULL)
			goto bad;
	return 0;
 bad:
	free(podid);
	spawn_spec_free(sp);
	errno = EBADMSG;
	return -1;
}

void
spawn_spec_free(struct spawn_spec *sp)
{
	size_t	i;

	free(sp->entry);
	free(sp->cwd);
	free(sp->runtime);
	free(sp->runtime_script);
	free(sp->runtime_lib);
	for (i = 0; i < sp->nargs; i++)
		free(sp->args[i]);
	free(sp->args);
	for (i = 0; i < sp->nenv; i++)
		free(sp->env[i]);
	free(sp->env);
	for (i = 0; i < sp->ngrants; i++)
		free(sp->grants[i].path);
	free(sp->grants);
	memset(sp, 0, sizeof(*sp));
}
