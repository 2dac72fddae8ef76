/* ds.h - stb_ds.h (dynamic arrays and hash maps) with its functions under the tlm_ prefix.
 *
 * stb_ds names its extern functions stbds_*; an application that links its own copy of stb_ds
 * (or of a library built on it) next to the static libtinylm would clash. Every file of lib/
 * includes this header instead of <stb_ds.h>, so the library defines and calls tlm_stbds_*. */
#ifndef TLM_DS_H
#define TLM_DS_H

#define stbds_arrfreef tlm_stbds_arrfreef
#define stbds_arrgrowf tlm_stbds_arrgrowf
#define stbds_hash_bytes tlm_stbds_hash_bytes
#define stbds_hash_string tlm_stbds_hash_string
#define stbds_hmdel_key tlm_stbds_hmdel_key
#define stbds_hmfree_func tlm_stbds_hmfree_func
#define stbds_hmget_key tlm_stbds_hmget_key
#define stbds_hmget_key_ts tlm_stbds_hmget_key_ts
#define stbds_hmput_default tlm_stbds_hmput_default
#define stbds_hmput_key tlm_stbds_hmput_key
#define stbds_rand_seed tlm_stbds_rand_seed
#define stbds_shmode_func tlm_stbds_shmode_func
#define stbds_stralloc tlm_stbds_stralloc
#define stbds_strreset tlm_stbds_strreset
#define stbds_unit_tests tlm_stbds_unit_tests

#include <stb_ds.h>

#endif
