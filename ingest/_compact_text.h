/* The work of one call of ingest/_compact_lines.c (strings, schemas, columns, readings)
 * and the text it writes: the line buffer, integers and decimals, and fmt's float texts.
 * Included once, by ingest/_compact_lines.c, after the constants it defines. */

/* -- the work of one call ------------------------------------------------------------------ */

typedef struct {
    const char *p;
    Py_ssize_t len;
    PyObject *obj; /* the decoded str (owned) */
} Str;

typedef struct {
    char *p;
    size_t len, cap;
} Buf;

typedef struct {
    Py_ssize_t name; /* index into strings */
    int k;           /* decimals, -1 for nil */
    int count;       /* written as <int>i */
    int has_int;
    size_t key, key_len; /* its "<prefix>name=" or ",name=" in Work.keys */
    int64_t n;         /* running decimal */
    uint64_t max_int;  /* largest |n| (k set) or |value| (k nil) of its ints */
    double max_float;  /* largest |value| of its floats */
} Column;

typedef struct {
    Py_ssize_t sensor, measurement, col0, tags[2 * MAX_TAG_PAIRS];
    int nfields, npairs, used, ascii;
    PyObject *entry; /* series(...) (owned) */
    size_t line_max; /* room a line needs, but for texts of fmt */
} Schema;

typedef struct {
    Py_ssize_t schema, val0;
    int64_t time;
} Reading;

typedef struct {
    Str *strings;
    Py_ssize_t nstrings;
    Schema *schemas;
    Py_ssize_t nschemas;
    Column *cols;
    Py_ssize_t ncols;
    Val *vals;
    Py_ssize_t nvals;
    Reading *readings;
    Py_ssize_t n;
    Buf line; /* the line being written */
    Buf keys;
    int ascii;
} Work;

static void
free_work(Work *w)
{
    for (Py_ssize_t i = 0; i < w->nstrings; i++) {
        Py_XDECREF(w->strings[i].obj);
    }
    for (Py_ssize_t i = 0; i < w->nschemas; i++) {
        Py_XDECREF(w->schemas[i].entry);
    }
    PyMem_Free(w->strings);
    PyMem_Free(w->schemas);
    PyMem_Free(w->cols);
    PyMem_Free(w->vals);
    PyMem_Free(w->readings);
    PyMem_Free(w->line.p);
    PyMem_Free(w->keys.p);
}

/* Room for *len* more bytes. */
static int
reserve(Buf *b, size_t len)
{
    if (b->cap - b->len >= len) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < len) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *p = PyMem_Realloc(b->p, cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static int
append(Buf *b, const char *s, size_t len)
{
    if (reserve(b, len)) {
        return -1;
    }
    memcpy(b->p + b->len, s, len);
    b->len += len;
    return 0;
}

/* Room a number written here takes at most (with a sign, and a count's "i"). */
#define NUMBER_ROOM 32

/* The digits of x at p; their count. */
static size_t
put_int(char *p, int64_t x)
{
    char tmp[24];
    int i = (int)sizeof tmp;
    uint64_t a = uabs(x);
    do {
        tmp[--i] = (char)('0' + a % 10);
        a /= 10;
    } while (a);
    if (x < 0) {
        tmp[--i] = '-';
    }
    memcpy(p, tmp + i, sizeof tmp - i);
    return sizeof tmp - i;
}

/* The text of the float n / 10**k at p, as format_float writes it; its length, or 0 when
 * it is not written here (|n| >= 10**15, or below 1e-5: msgspec's exponent notation). */
static size_t
put_decimal(char *p, int64_t n, int k)
{
    uint64_t a = uabs(n);
    if (n == 0) {
        memcpy(p, "0.0", 3);
        return 3;
    }
    if (a >= PLAIN_LIMIT || (k > 5 && a < (uint64_t)POW10[k - 5])) {
        return 0;
    }
    char digits[24];
    int nd = 0;
    size_t o = 0;
    do {
        digits[nd++] = (char)('0' + a % 10); /* least significant first */
        a /= 10;
    } while (a);
    if (n < 0) {
        p[o++] = '-';
    }
    if (nd > k) {
        for (int i = nd - 1; i >= k; i--) {
            p[o++] = digits[i];
        }
    }
    else {
        p[o++] = '0';
    }
    p[o++] = '.';
    int low = 0; /* the fraction's trailing zeros are not written */
    while (low < k && low < nd && digits[low] == '0') {
        low++;
    }
    if (low == k) {
        p[o++] = '0';
    }
    else {
        for (int i = k - 1; i >= low; i--) {
            p[o++] = i < nd ? digits[i] : '0';
        }
    }
    return o;
}

/* Texts fmt wrote, by the float's bits (the same double always has the same text; -0.0
   and 0.0 differ in their bits): a sensor's floats sent as themselves repeat (a register
   times a scale), and a call of fmt costs several times the rest of a value. Direct-mapped,
   overwritten on a collision; used under the GIL only. */
#define FMT_SLOTS 4096
#define FMT_TEXT 32
typedef struct {
    uint64_t bits;
    unsigned char n; /* 0: empty */
    char text[FMT_TEXT];
} FmtSlot;
static FmtSlot fmt_cache[FMT_SLOTS];
_Static_assert(FMT_SLOTS == 1 << 12, "the slot is the top 12 bits of a 64-bit hash");

/* The text of a float by fmt (format_float), then room for the rest of the line again. */
static int
append_fmt(Work *w, PyObject *fmt, double x, size_t line_max)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    FmtSlot *slot = &fmt_cache[(bits * 0x9E3779B97F4A7C15ull) >> 52]; /* 4096 slots */
    if (slot->n && slot->bits == bits) {
        return append(&w->line, slot->text, slot->n) || reserve(&w->line, line_max) ? -1 : 0;
    }
    PyObject *f = PyFloat_FromDouble(x);
    if (f == NULL) {
        return -1;
    }
    PyObject *text = PyObject_CallOneArg(fmt, f);
    Py_DECREF(f);
    if (text == NULL) {
        return -1;
    }
    Py_ssize_t len;
    const char *s = PyUnicode_CheckExact(text) ? PyUnicode_AsUTF8AndSize(text, &len) : NULL;
    int rc = -1;
    if (s != NULL && len > 0) {
        w->ascii &= PyUnicode_IS_ASCII(text) ? 1 : 0;
        rc = append(&w->line, s, (size_t)len) || reserve(&w->line, line_max) ? -1 : 0;
        if (rc == 0 && len <= FMT_TEXT && PyUnicode_IS_ASCII(text)) {
            slot->n = 0; /* never half written */
            slot->bits = bits;
            memcpy(slot->text, s, (size_t)len);
            slot->n = (unsigned char)len;
        }
    }
    Py_DECREF(text);
    return rc;
}
