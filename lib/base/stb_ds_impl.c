/* The one translation unit that compiles stb_ds.h (dynamic arrays, hash maps). */
#define STB_DS_IMPLEMENTATION
#include "ds.h"
