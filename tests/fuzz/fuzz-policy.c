/* Fuzz target: the admin policy file's parser on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_policy p;
	char err[256];

	cs_policy_defaults(&p);
	(void)cs_policy_parse(&p, "fuzz", (const char *)data, size, err, sizeof(err));
	cs_policy_clear(&p);
	return 0;
}
