/* unicode_nfc.h - the tables behind tlm_utf8_nfc (unicode_nfc.c), generated into
 * unicode_nfc_tables.c by tools/gen_unicode_nfc.py. Each table is sorted by its first field. */
#ifndef TLM_UNICODE_NFC_H
#define TLM_UNICODE_NFC_H

#include <stdint.h>

typedef struct tlm_ccc_range {
    uint32_t first, last; /* code points with this non-zero canonical combining class */
    uint8_t ccc;
} tlm_ccc_range;

typedef struct tlm_decomp {
    uint32_t cp, d0, d1; /* canonical decomposition, one level; d1 == 0: a singleton */
} tlm_decomp;

typedef struct tlm_comp {
    uint32_t a, b, c; /* a followed by b composes to c (sorted by a, then b) */
} tlm_comp;

extern const tlm_ccc_range tlm_nfc_ccc[];
extern const int tlm_nfc_n_ccc;
extern const tlm_decomp tlm_nfc_decomp[];
extern const int tlm_nfc_n_decomp;
extern const tlm_comp tlm_nfc_comp[];
extern const int tlm_nfc_n_comp;

#endif
