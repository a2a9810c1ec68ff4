/*
 * Permission values: validation and normal form, shared by the CLI
 * (flags, POD_* variables) and policyd (policy documents).
 */
#ifndef PODRUNNER_PERM_H
#define PODRUNNER_PERM_H

#include <stddef.h>

/*
 * Check one value of a permission kind and return its normal form
 * (malloc'd) in *out: hosts lower-cased, paths absolute and lexically
 * normalised against cwd.  -1 with a reason in err on bad input.
 */
int	perm_value_normalise(unsigned int, const char *, const char *,
	    char **, char *, size_t);
/* Lexical path normalisation ("/a/./b//c/../d" -> "/a/b/d"). */
int	path_normalise(const char *, const char *, char *, size_t);
/* Env name pattern: NAME or PREFIX* (PREFIX may be empty: "*"). */
int	env_pattern_match(const char *, const char *);

#endif
