/*
 * Internals shared by the pickle decoder and encoder (see pickle.h): the
 * opcodes both speak and the two's complement helper both use. Included
 * only by pickle_decode.c and pickle_encode.c.
 */
#ifndef MPSUP_PICKLE_IMPL_H
#define MPSUP_PICKLE_IMPL_H

#include <stddef.h>

enum {
	OP_EMPTY_TUPLE = 0x29, OP_MARK = 0x28, OP_STOP = 0x2e,
	OP_BINBYTES = 0x42, OP_SHORT_BINBYTES = 0x43, OP_BINFLOAT = 0x47,
	OP_BININT = 0x4a, OP_BININT1 = 0x4b, OP_BININT2 = 0x4d, OP_NONE = 0x4e,
	OP_BINUNICODE = 0x58, OP_EMPTY_LIST = 0x5d, OP_APPEND = 0x61,
	OP_APPENDS = 0x65, OP_BINGET = 0x68, OP_LONG_BINGET = 0x6a,
	OP_BINPUT = 0x71, OP_LONG_BINPUT = 0x72, OP_SETITEM = 0x73,
	OP_TUPLE = 0x74, OP_SETITEMS = 0x75, OP_EMPTY_DICT = 0x7d,
	OP_PROTO = 0x80, OP_TUPLE1 = 0x85, OP_TUPLE2 = 0x86, OP_TUPLE3 = 0x87,
	OP_NEWTRUE = 0x88, OP_NEWFALSE = 0x89, OP_LONG1 = 0x8a, OP_LONG4 = 0x8b,
	OP_SHORT_BINUNICODE = 0x8c, OP_BINUNICODE8 = 0x8d, OP_BINBYTES8 = 0x8e,
	OP_EMPTY_SET = 0x8f, OP_ADDITEMS = 0x90, OP_FROZENSET = 0x91,
	OP_MEMOIZE = 0x94, OP_FRAME = 0x95, OP_BYTEARRAY8 = 0x96,
};

/* Drop the sign-extension bytes of a little-endian two's complement. */
size_t	pickle_long_minimal(const unsigned char *, size_t);

#endif
