/*
 * One logger for every podrunner process (after OpenBSD's log.c).
 * Lines go to stderr in the foreground or with -d, to syslog otherwise;
 * each carries the process title.
 */
#ifndef PODRUNNER_LOG_H
#define PODRUNNER_LOG_H

#include <stdarg.h>

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif

void	log_init(int debug, int facility);
void	log_procinit(const char *title);
void	log_setverbose(int verbose);
int	log_getverbose(void);
int	log_getdebug(void);
void	log_warn(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((__format__(printf, 1, 2)));
void	vlog(int, const char *, va_list) __attribute__((__format__(printf, 2, 0)));
__dead void fatal(const char *, ...) __attribute__((__format__(printf, 1, 2)));
__dead void fatalx(const char *, ...) __attribute__((__format__(printf, 1, 2)));

#endif
