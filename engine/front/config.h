/*
 * cardseald.conf: a small INI file. Every key is documented in
 * docs/cardseald.conf.5. Unknown sections or keys are errors (a typo must not
 * silently leave a default in force), as are lines over 4 KiB and files over
 * 64 KiB.
 */
#ifndef CS_CONFIG_H
#define CS_CONFIG_H

#include <stddef.h>

struct cs_config {
	char *socket;           /* [engine] socket */
	char *store;            /* [engine] store: data directory */
	char *keyd;             /* [engine] keyd: the cardseal-keyd binary */
	char *modules;          /* [tokens] modules: "p11-kit" or ';'-separated paths */
	char *anchors;          /* [trust] anchors: ';'-separated CA files */
	char *crl_dir;          /* [trust] crl-dir */
	int system_anchors;     /* [trust] system-anchors = yes|no: OpenSSL's default CA store too */
	char *pinentry;         /* [pin] pinentry */
	unsigned cache_ttl;     /* [pin] cache-ttl, seconds */
	unsigned pin_timeout;   /* [pin] timeout, seconds */
	int confirm_signatures; /* [pin] confirm-signatures = yes|no */
};

/* Fills c with the defaults (paths from XDG_RUNTIME_DIR and XDG_DATA_HOME/HOME). */
int cs_config_defaults(struct cs_config *c, const char *keyd_default);

/*
 * Reads path over the defaults. Returns 0, or a negative CS_ERR_* with a
 * message "FILE:LINE: what is wrong" in err (size err_size).
 */
int cs_config_load(struct cs_config *c, const char *path, char *err, size_t err_size);

/* Parses text (for tests and the fuzzer); name is used in messages. */
int cs_config_parse(struct cs_config *c, const char *name, const char *text, size_t len, char *err,
                    size_t err_size);

void cs_config_clear(struct cs_config *c);

#endif
