#include "cs_keyd_msg.h"

#include <openssl/obj_mac.h>

int
cs_wire_md_to_nid(int md)
{
	switch (md) {
	case CS_MD_SHA1:
		return NID_sha1;
	case CS_MD_SHA224:
		return NID_sha224;
	case CS_MD_SHA256:
		return NID_sha256;
	case CS_MD_SHA384:
		return NID_sha384;
	case CS_MD_SHA512:
		return NID_sha512;
	default:
		return NID_undef;
	}
}

int
cs_wire_md_from_nid(int nid)
{
	switch (nid) {
	case NID_sha1:
		return CS_MD_SHA1;
	case NID_sha224:
		return CS_MD_SHA224;
	case NID_sha256:
		return CS_MD_SHA256;
	case NID_sha384:
		return CS_MD_SHA384;
	case NID_sha512:
		return CS_MD_SHA512;
	default:
		return CS_MD_NONE;
	}
}
