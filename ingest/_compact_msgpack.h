/* The MessagePack reader of ingest/_compact_lines.c: only the types a valid compact body
 * holds (arrays, str, ints up to 64 bits, float32/64, nil); anything else fails the read.
 * Included once, by ingest/_compact_lines.c, after the constants it defines. */

/* -- MessagePack ------------------------------------------------------------------------- */

typedef struct {
    const unsigned char *p, *end;
} Reader;

enum { N_INT, N_BIG, N_FLOAT };

typedef struct {
    int kind;   /* N_INT: i; N_BIG: u (a uint64 beyond int64); N_FLOAT: d */
    int64_t i;
    uint64_t u;
    double d;
} Num;

typedef struct {
    union {
        int64_t i;
        double d;
    } v;
    int is_int;
} Val;

static uint64_t
be(const unsigned char *p, int size)
{
    uint64_t x = 0;
    for (int k = 0; k < size; k++) {
        x = (x << 8) | p[k];
    }
    return x;
}

static int
has(const Reader *r, uint64_t size)
{
    return (uint64_t)(r->end - r->p) >= size;
}

/* A length header: a fix type (fix_lo..fix_hi, the length in the bits of *fix_mask*) or one
   of the types with a 1-, 2- or 4-byte length after it (*codes*, 0: none); the length is at
   most the bytes left (each item of an array takes one at least, a str its bytes). */
static int
read_len(Reader *r, unsigned char fix_lo, unsigned char fix_hi, unsigned char fix_mask,
         const unsigned char codes[3], uint64_t *n)
{
    static const int sizes[3] = {1, 2, 4};
    if (!has(r, 1)) {
        return -1;
    }
    unsigned char c = *r->p;
    if (c >= fix_lo && c <= fix_hi) {
        *n = c & fix_mask;
        r->p += 1;
        return has(r, *n) ? 0 : -1;
    }
    for (int k = 0; k < 3; k++) {
        if (codes[k] && c == codes[k] && has(r, 1 + sizes[k])) {
            *n = be(r->p + 1, sizes[k]);
            r->p += 1 + sizes[k];
            return has(r, *n) ? 0 : -1;
        }
    }
    return -1;
}

/* An array header. */
static int
read_array(Reader *r, Py_ssize_t *len)
{
    static const unsigned char codes[3] = {0, 0xdc, 0xdd};
    uint64_t n;
    if (read_len(r, 0x90, 0x9f, 0x0f, codes, &n)) {
        return -1;
    }
    *len = (Py_ssize_t)n;
    return 0;
}

/* A str's bytes (not yet checked as UTF-8). */
static int
read_str(Reader *r, const char **s, Py_ssize_t *len)
{
    static const unsigned char codes[3] = {0xd9, 0xda, 0xdb};
    uint64_t n;
    if (read_len(r, 0xa0, 0xbf, 0x1f, codes, &n)) {
        return -1;
    }
    *s = (const char *)r->p;
    *len = (Py_ssize_t)n;
    r->p += n;
    return 0;
}

/* An int (fixint, int8-64, uint8-64) or a float (float32, float64); else -1. */
static int
read_number(Reader *r, Num *v)
{
    static const signed char sizes[] = {
        /* 0xca float32 .. 0xd3 int64 */ 4, 8, 1, 2, 4, 8, 1, 2, 4, 8};
    if (!has(r, 1)) {
        return -1;
    }
    unsigned char c = *r->p;
    if (c <= 0x7f || c >= 0xe0) {
        v->kind = N_INT;
        v->i = (int64_t)(signed char)c;
        r->p += 1;
        return 0;
    }
    if (c < 0xca || c > 0xd3) {
        return -1;
    }
    int size = sizes[c - 0xca];
    if (!has(r, 1 + (uint64_t)size)) {
        return -1;
    }
    uint64_t x = be(r->p + 1, size);
    r->p += 1 + size;
    if (c == 0xca) {
        uint32_t bits = (uint32_t)x;
        float f;
        memcpy(&f, &bits, sizeof f);
        v->kind = N_FLOAT;
        v->d = (double)f;
    }
    else if (c == 0xcb) {
        memcpy(&v->d, &x, sizeof v->d);
        v->kind = N_FLOAT;
    }
    else if (c <= 0xcf) { /* uint8..uint64 */
        if (x > (uint64_t)INT64_MAX) {
            v->kind = N_BIG;
            v->u = x;
        }
        else {
            v->kind = N_INT;
            v->i = (int64_t)x;
        }
    }
    else { /* int8..int64: sign-extend */
        int bits = 8 * size;
        if (bits < 64 && (x >> (bits - 1)) & 1) {
            x |= ~UINT64_C(0) << bits;
        }
        v->kind = N_INT;
        v->i = (int64_t)x;
    }
    return 0;
}

static int
read_int(Reader *r, int64_t *out)
{
    Num v;
    if (read_number(r, &v) || v.kind != N_INT) {
        return -1;
    }
    *out = v.i;
    return 0;
}

static uint64_t
uabs(int64_t x)
{
    return x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
}
