/* cardseald.conf parsing: every key, and the errors a typo or a hostile file gets. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cs_error.h"
#include "tap.h"

static int
parse(struct cs_config *c, const char *text, char *err, size_t n)
{
	cs_config_defaults(c, "/usr/libexec/cardseal-keyd");
	return cs_config_parse(c, "test.conf", text, strlen(text), err, n);
}

int
main(void)
{
	struct cs_config c;
	char err[256], *big;
	int r;

	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	setenv("XDG_DATA_HOME", "/home/u/.local/share", 1);
	cs_config_defaults(&c, "/usr/libexec/cardseal-keyd");
	CHECK(strcmp(c.socket, "/run/user/1000/cardseal/socket") == 0 &&
	          strcmp(c.store, "/home/u/.local/share/cardseal") == 0 &&
	          strcmp(c.modules, "p11-kit") == 0 && c.cache_ttl == 300,
	      "defaults: socket in XDG_RUNTIME_DIR, store in XDG_DATA_HOME, p11-kit, 300 s");
	CHECK(c.system_anchors == 0, "defaults: the system CA store is not trusted");
	cs_config_clear(&c);

	r = parse(&c,
	          "# comment\n; also a comment\n\n[engine]\nsocket = /tmp/s\nstore=/tmp/st\r\n"
	          "[tokens]\n  modules = /a.so;/b.so  \n[trust]\nanchors = /ca1.pem;/ca2.pem\n"
	          "crl-dir = /crl\nsystem-anchors = yes\n[pin]\npinentry = /usr/bin/pinentry-tty\ncache-ttl = 0\n"
	          "timeout = 30\nconfirm-signatures = yes\n",
	          err, sizeof(err));
	CHECK(r == 0 && strcmp(c.socket, "/tmp/s") == 0 && strcmp(c.store, "/tmp/st") == 0 &&
	          strcmp(c.modules, "/a.so;/b.so") == 0 && strcmp(c.anchors, "/ca1.pem;/ca2.pem") == 0 &&
	          strcmp(c.crl_dir, "/crl") == 0 && strcmp(c.pinentry, "/usr/bin/pinentry-tty") == 0 &&
	          c.cache_ttl == 0 && c.pin_timeout == 30 && c.confirm_signatures == 1 &&
	          c.system_anchors == 1,
	      "every key read, blanks and CRLF trimmed (%s)", err);
	cs_config_clear(&c);

	r = parse(&c, "[pin]\ncache-tll = 5\n", err, sizeof(err));
	CHECK(r == CS_ERR_NOT_FOUND && strstr(err, "test.conf:2") != NULL &&
	          strstr(err, "cache-tll") != NULL,
	      "a misspelt key is an error naming file, line and key: %s", err);
	cs_config_clear(&c);
	r = parse(&c, "[pni]\ncache-ttl = 5\n", err, sizeof(err));
	CHECK_EQ_INT(r, CS_ERR_NOT_FOUND, "a key in an unknown section is an error");
	cs_config_clear(&c);
	r = parse(&c, "[pin]\ncache-ttl = -1\n", err, sizeof(err));
	CHECK_EQ_INT(r, CS_ERR_BAD_FORMAT, "a negative number is refused");
	cs_config_clear(&c);
	r = parse(&c, "[pin]\ncache-ttl = 10x\n", err, sizeof(err));
	CHECK_EQ_INT(r, CS_ERR_BAD_FORMAT, "trailing junk after a number is refused");
	cs_config_clear(&c);
	r = parse(&c, "[pin]\npinentry = pinentry\n", err, sizeof(err));
	CHECK_EQ_INT(r, CS_ERR_BAD_FORMAT, "a relative pinentry path is refused");
	cs_config_clear(&c);
	r = parse(&c, "[pin]\nconfirm-signatures = maybe\n", err, sizeof(err));
	CHECK_EQ_INT(r, CS_ERR_BAD_FORMAT, "a boolean must be yes or no");
	cs_config_clear(&c);
	r = parse(&c, "[pin\n", err, sizeof(err));
	CHECK_EQ_INT(r, CS_ERR_BAD_FORMAT, "an unclosed section header is refused");
	cs_config_clear(&c);
	r = parse(&c, "just words\n", err, sizeof(err));
	CHECK_EQ_INT(r, CS_ERR_BAD_FORMAT, "a line without '=' is refused");
	cs_config_clear(&c);
	r = parse(&c, "[tokens]\nmodules =\n", err, sizeof(err));
	CHECK_EQ_INT(r, CS_ERR_BAD_FORMAT, "an empty module list is refused");
	cs_config_clear(&c);

	big = malloc(70 * 1024);
	memset(big, '#', 70 * 1024 - 1);
	big[70 * 1024 - 1] = '\0';
	r = parse(&c, big, err, sizeof(err));
	CHECK_EQ_INT(r, CS_ERR_TOO_LARGE, "a file over 64 KiB is refused");
	cs_config_clear(&c);
	big[5000] = '\0';
	r = parse(&c, big, err, sizeof(err));
	CHECK_EQ_INT(r, CS_ERR_TOO_LARGE, "a line over 4 KiB is refused");
	cs_config_clear(&c);
	free(big);
	r = cs_config_defaults(&c, "/k"), r = cs_config_parse(&c, "t", "[pin]\0x=1\n", 10, err,
	                                                      sizeof(err));
	CHECK_EQ_INT(r, CS_ERR_BAD_FORMAT, "a NUL byte is refused");
	cs_config_clear(&c);
	return tap_done();
}
