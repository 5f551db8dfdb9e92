/* take(): the readings messages at the head of the worker's receive buffer, many at once.
 * Included once, by ingest/_json_lines.c, after convert().
 *
 * take(buf, pos, room, max_lines, limit, topics, series, fmt, compact, inflate)
 *     -> None | (pos, text, lines, readings, newest_ms, mids, parts)
 *
 * From offset *pos* of *buf* (bytes as read from the broker's socket) it takes, in order, every
 * whole MQTT PUBLISH that ingest/paho_speedup.py's _direct_publishes would take (QoS 1, no DUP,
 * no RETAIN, no properties, a topic, a message id) whose topic is a key of *topics* (the
 * topic's bytes -> (topic, gateway, meta prefix): readings topics the pipeline has accepted,
 * ingest/service.py) and whose payload converts here: a JSON batch by convert(), a compact
 * one by *compact* (ingest._compact_lines.lines; a zlib body first through *inflate*). Their
 * lines, each message's readings then its gateway_batches line ("<meta prefix>seq=<seq>i,
 * readings=<n>i <sent>", telemetry.mapping.meta_line), are one text with "\n" between the lines.
 *
 * It stops before the first message it would not take (another packet, one not yet whole, an
 * unknown topic, a payload that does not convert, an error: cleared), which the per-message
 * path then reads, and judges as it always does; so a message is taken here only if that path
 * would accept it, with the same lines (tests/ingest/test_take.py). It stops after *limit*
 * messages, once the text holds *room* bytes or more, or before a message that would take the
 * lines past *max_lines* (at least one message is taken whatever room and max_lines say).
 *
 * mids: the message ids, in order; parts: (topic, gateway, lines) of each message, in order (the writer
 * names a refused point's message by them). None when it took nothing. */

#define QOS1_PUBLISH 0x32
#define COMPACT_MAGIC 0xC1
#define COMPACT_VERSION 2
#define COMPACT_HEADER 3
#define COMPACT_ZLIB 0x01

/* Clear an Exception (the per-message path meets it again and judges); 0, or -1 to pass on
   anything else (KeyboardInterrupt, ...). */
static int give_up(void) {
    if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_Exception)) return -1;
    PyErr_Clear();
    return 0;
}

/* A str's text after what *o* holds (*ascii* cleared if it is not ASCII): 1, 0 no memory. */
static int put_text(Buf *o, PyObject *text, int *ascii) {
    Py_ssize_t n;
    const char *s;
    if (PyUnicode_IS_ASCII(text)) {
        s = (const char *)PyUnicode_1BYTE_DATA(text);
        n = PyUnicode_GET_LENGTH(text);
    } else {
        *ascii = 0;
        if (!(s = PyUnicode_AsUTF8AndSize(text, &n))) return 0;
    }
    return put(o, s, n);
}

/* The compact payload [p, p + n) of *gateway*: its lines after what *o* holds, as
   compact_path.compact_lines takes them (header, zlib, the C reader); 1, 0 give up, -1. */
static int compact_into(const unsigned char *p, Py_ssize_t n, PyObject *gateway, PyObject *series,
                        PyObject *fmt, PyObject *compact, PyObject *inflate, Buf *o, Done *d) {
    if (compact == Py_None || n < COMPACT_HEADER || p[0] != COMPACT_MAGIC ||
        p[1] != COMPACT_VERSION || (p[2] & ~COMPACT_ZLIB))
        return 0;
    PyObject *body = PyBytes_FromStringAndSize((const char *)p + COMPACT_HEADER, n - COMPACT_HEADER);
    if (body && p[2]) Py_SETREF(body, PyObject_CallOneArg(inflate, body));
    if (!body) return give_up();
    PyObject *args[5] = {body, gateway, series, fmt, Py_True};
    PyObject *got = PyObject_Vectorcall(compact, args, 5, NULL);
    Py_DECREF(body);
    if (!got) return give_up();
    int ok = 0;
    long long v[4];
    if (PyTuple_Check(got) && PyTuple_GET_SIZE(got) == 5 &&
        PyUnicode_Check(PyTuple_GET_ITEM(got, 0))) {
        for (int i = 0; i < 4; i++) v[i] = PyLong_AsLongLong(PyTuple_GET_ITEM(got, i + 1));
        if (PyErr_Occurred()) {
            ok = give_up();
        } else if (v[0] > 0) {
            d->n = (int)v[0];
            d->newest = v[1];
            d->seq = v[2];
            d->sent = v[3];
            d->all_ascii = 1;
            ok = put_text(o, PyTuple_GET_ITEM(got, 0), &d->all_ascii) ? 1 : -1;
            if (ok < 0 && !PyErr_Occurred()) PyErr_NoMemory();
        }
    }
    Py_DECREF(got);
    return ok;
}

/* "<prefix>seq=<seq>i,readings=<n>i <sent>" after a "\n". */
static int meta_into(Buf *o, PyObject *prefix, const Done *d, int *ascii) {
    char tail[96];
    int k = snprintf(tail, sizeof tail, "seq=%lldi,readings=%di %lld", (long long)d->seq, d->n,
                     (long long)d->sent);
    return put(o, "\n", 1) && put_text(o, prefix, ascii) && put(o, tail, k);
}

static PyObject *take(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 10 || !PyBytes_Check(args[0]) || !PyDict_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError, "take(buf: bytes, pos, room, max_lines, limit, topics:"
                                         " dict, series, fmt, compact, inflate)");
        return NULL;
    }
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]), room = PyLong_AsSsize_t(args[2]);
    Py_ssize_t max_lines = PyLong_AsSsize_t(args[3]), limit = PyLong_AsSsize_t(args[4]);
    if (PyErr_Occurred()) return NULL;
    PyObject *topics = args[5], *series = args[6], *fmt = args[7], *compact = args[8];
    PyObject *inflate = args[9];
    const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t end = PyBytes_GET_SIZE(args[0]);
    if (pos < 0) pos = end;

    PyObject *mids = PyList_New(0), *parts = PyList_New(0), *result = NULL, *held = NULL;
    Work *w = PyMem_Malloc(sizeof(Work));
    Buf o = {NULL, 0, 0};
    Py_ssize_t lines = 0, readings = 0, taken = 0;
    int64_t newest = 0;
    int ascii = 1, failed = 0;
    if (!mids || !parts || !w) {
        PyErr_NoMemory();
        failed = 1;
        goto done;
    }
    while (taken < limit && pos < end && b[pos] == QOS1_PUBLISH) {
        Py_ssize_t i = pos + 1, length = 0;
        int shift = 0, whole = 0;
        while (i < end && i - pos <= 4) { /* remaining length: 1 to 4 bytes */
            unsigned char byte = b[i++];
            length |= (Py_ssize_t)(byte & 0x7F) << shift;
            shift += 7;
            if (byte < 0x80) {
                whole = 1;
                break;
            }
        }
        if (!whole || length < 5 || i + length > end) break;
        Py_ssize_t topic_n = b[i] << 8 | b[i + 1], topic_end = i + 2 + topic_n;
        if (topic_n == 0 || topic_end + 3 > i + length || b[topic_end + 2] != 0) break;
        long mid = b[topic_end] << 8 | b[topic_end + 1];
        if (mid == 0) break;
        PyObject *key = PyBytes_FromStringAndSize((const char *)b + i + 2, topic_n);
        if (!key) {
            failed = 1;
            goto done;
        }
        PyObject *entry = PyDict_GetItemWithError(topics, key); /* borrowed */
        Py_DECREF(key);
        if (!entry) {
            failed = PyErr_Occurred() != NULL;
            break;
        }
        /* kept while series(), compact or inflate run Python code, whatever they do */
        Py_XSETREF(held, Py_NewRef(entry));
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 3) {
            PyErr_SetString(PyExc_TypeError, "take: topics maps to (topic, gateway, meta prefix)");
            failed = 1;
            goto done;
        }
        PyObject *topic = PyTuple_GET_ITEM(entry, 0), *gateway = PyTuple_GET_ITEM(entry, 1);
        PyObject *meta = PyTuple_GET_ITEM(entry, 2);
        Py_ssize_t gn;
        const char *gs = PyUnicode_Check(gateway) ? PyUnicode_AsUTF8AndSize(gateway, &gn) : NULL;
        if (!gs || !PyUnicode_Check(meta)) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "take: gateway, meta: str");
            failed = 1;
            goto done;
        }
        const unsigned char *p = b + topic_end + 3;
        Py_ssize_t n = i + length - (topic_end + 3), mark = o.n;
        Done d = {0, 1, 0, 0, 0};
        int ok = 0, text_ascii = 1;
        if (taken && !put(&o, "\n", 1)) {
            ok = -1;
            PyErr_NoMemory();
        } else if (n > 0 && p[0] == '{') {
            if (o.n + n + 256 > o.cap && !grow(&o, n + 256)) {
                ok = -1;
                PyErr_NoMemory();
            } else {
                ok = convert((const char *)p, (const char *)p + n, gateway, gs, gn, series, fmt,
                             w, &o, NULL, &d);
                text_ascii = d.all_ascii;
            }
            if (ok < 0) ok = give_up();
        } else if (n > 0) {
            ok = compact_into(p, n, gateway, series, fmt, compact, inflate, &o, &d);
            text_ascii = d.all_ascii;
        }
        if (ok > 0 && taken && lines + d.n + 1 > max_lines) ok = 0; /* the next group's */
        if (ok > 0 && !meta_into(&o, meta, &d, &text_ascii)) {
            if (!PyErr_Occurred()) PyErr_NoMemory();
            ok = -1;
        }
        if (ok <= 0) {
            o.n = mark;
            failed = ok < 0;
            break;
        }
        PyObject *m = PyLong_FromLong(mid), *part = Py_BuildValue("(OOi)", topic, gateway, d.n + 1);
        int bad = !m || !part || PyList_Append(mids, m) < 0 || PyList_Append(parts, part) < 0;
        Py_XDECREF(m);
        Py_XDECREF(part);
        if (bad) {
            failed = 1;
            goto done;
        }
        ascii &= text_ascii;
        lines += d.n + 1;
        readings += d.n;
        if (d.newest > newest) newest = d.newest;
        pos = i + length;
        taken++;
        if (o.n >= room) break;
    }
    if (failed || !taken) goto done;
    PyObject *text = utf8_text(o.b, o.n, ascii);
    if (!text) {
        failed = 1;
        goto done;
    }
    result = Py_BuildValue("(nNnnLOO)", pos, text, lines, readings, (long long)newest, mids, parts);
    failed = result == NULL;
done:
    Py_XDECREF(held);
    Py_XDECREF(mids);
    Py_XDECREF(parts);
    PyMem_Free(w);
    PyMem_Free(o.b);
    if (failed) {
        Py_XDECREF(result);
        return NULL;
    }
    if (!result) Py_RETURN_NONE;
    return result;
}
