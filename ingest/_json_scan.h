/* The JSON scanner of ingest/_json_lines.c: a cursor over the payload, literals, strings
 * without escapes, integers and numbers without exponent.
 * Included once, by ingest/_json_lines.c, after the constants it defines. */

typedef struct {
    const char *p;
    const char *end;
} Cur;

typedef struct {
    const char *s;
    Py_ssize_t n;
} Span;

/* A literal at the cursor: advance past it, else 0. */
static inline __attribute__((always_inline)) int lit(Cur *c, const char *text, Py_ssize_t n) {
    if (c->end - c->p < n || memcmp(c->p, text, n) != 0) return 0;
    c->p += n;
    return 1;
}
#define LIT(c, text) lit((c), (text), (Py_ssize_t)(sizeof(text) - 1))

/* A string without escapes or control characters: its bytes between the quotes. */
static int str(Cur *c, Span *out) {
    if (c->p >= c->end || *c->p != '"') return 0;
    const char *s = ++c->p;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            out->s = s;
            out->n = c->p - s;
            c->p++;
            return 1;
        }
        if (ch == '\\' || ch < 0x20) return 0;
        c->p++;
    }
    return 0;
}

/* A non-negative integer of at most *digits* digits, no leading zero. */
static int uint_(Cur *c, int digits, int64_t *out, Span *text) {
    const char *s = c->p;
    int64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (c->p - s >= digits) return 0;
        v = v * 10 + (*c->p - '0');
        c->p++;
    }
    Py_ssize_t n = c->p - s;
    if (n == 0 || (n > 1 && *s == '0')) return 0;
    if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E')) return 0;
    *out = v;
    if (text) {
        text->s = s;
        text->n = n;
    }
    return 1;
}

/* A JSON number without exponent: -?(0|[1-9][0-9]*)(.[0-9]+)? */
typedef struct {
    const char *s;      /* the whole text */
    Py_ssize_t n;
    int neg;
    const char *ip;     /* integer part */
    Py_ssize_t in;
    const char *fp;     /* fraction digits, trailing zeros dropped (fn may be 0) */
    Py_ssize_t fn;
    int has_frac;
} Num;

static int number(Cur *c, Num *x) {
    const char *s = c->p;
    x->neg = 0;
    if (c->p < c->end && *c->p == '-') {
        x->neg = 1;
        c->p++;
    }
    x->ip = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    x->in = c->p - x->ip;
    if (x->in == 0 || (x->in > 1 && *x->ip == '0')) return 0;
    x->has_frac = 0;
    x->fp = c->p;
    x->fn = 0;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        x->fp = c->p;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
        x->fn = c->p - x->fp;
        if (x->fn == 0) return 0;
        x->has_frac = 1;
        while (x->fn > 0 && x->fp[x->fn - 1] == '0') x->fn--;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) return 0;
    x->s = s;
    x->n = c->p - s;
    return 1;
}
