/* Compiled forms of the loops of alias matching that run once per character or once per
 * match.
 *
 * dyadwatch/actors.py holds the same loops in Python; they are the reference, used where
 * this module is not built, and tests check that both give the same results: the search
 * of a text for the aliases (``TextSearch``; in Python, automata of bytes and ``_scan``),
 * the choice among overlapping matches (``select``), and the pairing of actors in
 * sentences (``sentence_pairs``). Nothing here decides anything the Python does not:
 * these loops only find the aliases, check word boundaries, settle overlapping matches,
 * and make the mention tuples and evidence.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Whether ``ch`` is a word character, as ``ch.isalnum() or ch == "_"`` is in Python. */
static unsigned char ascii_word[128];

static inline int
is_word(Py_UCS4 ch)
{
    if (ch < 128) {
        return ascii_word[ch];
    }
    return Py_UNICODE_ISALNUM(ch);
}

static int
append_new(PyObject *list, PyObject *item)
{
    if (item == NULL) {
        return -1;
    }
    int rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

static int
as_index(PyObject *value, const char *what, Py_ssize_t *out)
{
    if (!PyLong_Check(value)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what,
                     Py_TYPE(value)->tp_name);
        return -1;
    }
    *out = PyLong_AsSsize_t(value);
    if (*out == -1 && PyErr_Occurred()) {
        return -1;
    }
    return 0;
}

/* -- Hits: the alias matches of one text ----------------------------------------------
 *
 * What ``actors._scan`` makes a list of tuples (start, -end, order, alias number) of, kept
 * as C values until ``select`` reads them: a text's matches are sorted and walked without a
 * Python object made for each.
 */
typedef struct {
    Py_ssize_t start, end, order, alias;
    PyObject *number; /* ``alias`` as an int, borrowed from ``owner`` */
} Hit;

typedef struct {
    PyObject_HEAD
    PyObject *owner;
    Hit *items;
    Py_ssize_t count;
    Py_ssize_t room;
} Hits;

static void
hits_dealloc(Hits *self)
{
    PyMem_Free(self->items);
    Py_XDECREF(self->owner);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A hit from ``start`` to ``end`` for each entry (order, alias number) of ``entries``. */
static int
hits_add(Hits *hits, Py_ssize_t start, Py_ssize_t end, PyObject *entries)
{
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(entries); k++) {
        PyObject *entry = PyTuple_GET_ITEM(entries, k);
        if (hits->count == hits->room) {
            Py_ssize_t room = hits->room ? 2 * hits->room : 64;
            Hit *grown = PyMem_Resize(hits->items, Hit, room);
            if (grown == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            hits->items = grown;
            hits->room = room;
        }
        Hit *hit = &hits->items[hits->count];
        hit->start = start;
        hit->end = end;
        hit->number = PyTuple_GET_ITEM(entry, 1);
        if (as_index(PyTuple_GET_ITEM(entry, 0), "an order", &hit->order) < 0
            || as_index(hit->number, "an alias number", &hit->alias) < 0) {
            return -1;
        }
        hits->count++;
    }
    return 0;
}

/* As the tuples (start, -end, order, alias number) sort. */
static int
compare_hits(const void *a, const void *b)
{
    const Hit *x = (const Hit *)a, *y = (const Hit *)b;
    if (x->start != y->start) {
        return x->start < y->start ? -1 : 1;
    }
    if (x->end != y->end) {
        return x->end > y->end ? -1 : 1;
    }
    if (x->order != y->order) {
        return x->order < y->order ? -1 : 1;
    }
    return (x->alias > y->alias) - (x->alias < y->alias);
}

static Py_ssize_t
hits_length(Hits *self)
{
    return self->count;
}

/* The hits as tuples (start, -end, order, alias number), in order. */
static PyObject *
hits_iter(Hits *self)
{
    PyObject *listed = PyList_New(self->count);
    for (Py_ssize_t k = 0; listed != NULL && k < self->count; k++) {
        const Hit *hit = &self->items[k];
        PyObject *item = Py_BuildValue("(nnnO)", hit->start, -hit->end, hit->order, hit->number);
        if (item == NULL) {
            Py_CLEAR(listed);
            break;
        }
        PyList_SET_ITEM(listed, k, item);
    }
    if (listed == NULL) {
        return NULL;
    }
    PyObject *iterator = PyObject_GetIter(listed);
    Py_DECREF(listed);
    return iterator;
}

static PySequenceMethods hits_sequence = {
    .sq_length = (lenfunc)hits_length,
};

static PyTypeObject HitsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "dyadwatch._speedups.Hits",
    .tp_basicsize = sizeof(Hits),
    .tp_dealloc = (destructor)hits_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The alias matches of one text, sorted, as ``TextSearch.scan`` finds them: they\n"
              "iterate as (start, -end, order, alias number), and ``select`` reads them.",
    .tp_as_sequence = &hits_sequence,
    .tp_iter = (getiterfunc)hits_iter,
};

static Hits *
hits_new(PyObject *owner)
{
    Hits *hits = PyObject_New(Hits, &HitsType);
    if (hits != NULL) {
        hits->owner = Py_NewRef(owner);
        hits->items = NULL;
        hits->count = hits->room = 0;
    }
    return hits;
}

/* What the matches of one part of a ``TextSearch`` are sorted into: ``meanings`` (a tuple,
   checked when the search was made) says what each pattern is; alias matches go to ``hits``,
   words' places to ``words`` (a dict). */
typedef struct {
    PyObject *meanings;
    Hits *hits;
    PyObject *words;
    int kind;
    const void *data;
    Py_ssize_t n;
} Sorting;

/* (start, end) added to the places of word ``word`` in ``words`` (a dict of lists). */
static int
add_spot(PyObject *words, PyObject *word, Py_ssize_t start, Py_ssize_t end)
{
    PyObject *spot = PyTuple_New(2);
    if (spot == NULL) {
        return -1;
    }
    PyObject *first = PyLong_FromSsize_t(start), *last = PyLong_FromSsize_t(end);
    if (first == NULL || last == NULL) {
        Py_XDECREF(first);
        Py_XDECREF(last);
        Py_DECREF(spot);
        return -1;
    }
    PyTuple_SET_ITEM(spot, 0, first);
    PyTuple_SET_ITEM(spot, 1, last);
    PyObject *spots = PyDict_GetItemWithError(words, word);
    if (spots != NULL) {
        return append_new(spots, spot);
    }
    if (PyErr_Occurred() || (spots = PyList_New(1)) == NULL) {
        Py_DECREF(spot);
        return -1;
    }
    PyList_SET_ITEM(spots, 0, spot);
    int stored = PyDict_SetItem(words, word, spots);
    Py_DECREF(spots);
    return stored;
}

/* One match of pattern ``i`` from ``start`` to ``end``, as ``actors._scan`` takes it. */
static int
sort_match(Sorting *sorting, Py_ssize_t i, Py_ssize_t start, Py_ssize_t end)
{
    Py_ssize_t n = sorting->n;
    PyObject *meaning = PyTuple_GET_ITEM(sorting->meanings, i);
    PyObject *word = PyTuple_GET_ITEM(meaning, 0);
    PyObject *literal = PyTuple_GET_ITEM(meaning, 1);
    PyObject *stems = PyTuple_GET_ITEM(meaning, 2);
    Py_ssize_t word_number = PyLong_AsSsize_t(word);
    if (word_number == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (word_number >= 0) {
        if (add_spot(sorting->words, word, start, end) < 0) {
            return -1;
        }
        if (PyTuple_GET_SIZE(literal) == 0 && PyTuple_GET_SIZE(stems) == 0) {
            return 0;
        }
    }
    int kind = sorting->kind;
    const void *data = sorting->data;
    if (start > 0 && is_word(PyUnicode_READ(kind, data, start - 1))) {
        return 0;
    }
    if (PyTuple_GET_SIZE(literal) && (end == n || !is_word(PyUnicode_READ(kind, data, end)))
        && hits_add(sorting->hits, start, end, literal) < 0) {
        return -1;
    }
    if (PyTuple_GET_SIZE(stems)) {
        Py_ssize_t stop = end;
        while (stop < n && is_word(PyUnicode_READ(kind, data, stop))) {
            stop++;
        }
        return hits_add(sorting->hits, start, stop, stems);
    }
    return 0;
}

PyDoc_STRVAR(select_doc,
"select(raw, states, make_state, text, mention, judge, plain=None, unsure=()) -> list\n\n"
"The mentions of the sorted alias matches ``raw``, as ``actors._select`` finds them.");

/* One match of ``select``: the mention it makes (a new reference), Py_None if it makes
   none, or NULL on error. ``chosen`` holds (strong references to) the actors of the last
   three matches chosen, ``*count`` how many were chosen in all. */
typedef struct {
    PyObject *states;     /* a dict */
    PyObject *make_state;
    PyObject *plain;      /* a list, or None */
    PyObject *unsure;     /* a container */
} States;

/* The state of alias ``number`` (a new reference), as ``actors._select`` finds it. */
static PyObject *
state_of(const States *known, PyObject *number)
{
    PyObject *state = PyDict_GetItemWithError(known->states, number);
    if (state != NULL) {
        return Py_NewRef(state);
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (known->plain != Py_None) {
        Py_ssize_t i = PyLong_AsSsize_t(number);
        if (i == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (i < 0 || i >= PyList_GET_SIZE(known->plain)) {
            PyErr_Format(PyExc_IndexError, "alias %zd has no plain state", i);
            return NULL;
        }
        state = Py_NewRef(PyList_GET_ITEM(known->plain, i)); /* (held across a call) */
        if (state != Py_None) {
            int unsure = PySequence_Contains(known->unsure, number);
            if (unsure <= 0) {
                if (unsure < 0) {
                    Py_CLEAR(state);
                }
                return state;
            }
        }
        Py_DECREF(state);
    }
    return PyObject_CallOneArg(known->make_state, number);
}

/* The match of alias ``number`` from ``start`` to ``end`` (``first``: ``start`` as an
   int, or NULL to make one). */
static PyObject *
select_one(Py_ssize_t start, Py_ssize_t end, PyObject *number, PyObject *first, Py_ssize_t n,
           const States *known, PyObject *text, PyTypeObject *type, PyObject *judge,
           PyObject **chosen, Py_ssize_t *count, Py_ssize_t *last_start, Py_ssize_t *last_end)
{
    if (start < 0 || end < start || end > n) {
        PyErr_Format(PyExc_ValueError, "match (%zd, %zd) out of range: %zd characters", start,
                     end, n);
        return NULL;
    }
    PyObject *state = state_of(known, number);
    if (state == NULL) {
        return NULL;
    }
    PyObject *made = NULL, *surface = NULL, *stop = NULL, *made_first = NULL;
    if (!PyTuple_Check(state) || PyTuple_GET_SIZE(state) < 4) {
        PyErr_SetString(PyExc_TypeError,
                        "a state must be a tuple (actor, alias, kind, plain, ...)");
        goto done;
    }
    PyObject *actor = PyTuple_GET_ITEM(state, 0);
    if (start >= *last_end) {
        *last_start = start;
        *last_end = end;
    }
    else if (start != *last_start || end != *last_end) {
        made = Py_NewRef(Py_None);
        goto done;
    }
    else {
        /* One form, two actors: both are kept, but not one actor twice. */
        Py_ssize_t recent = *count < 3 ? *count : 3;
        for (Py_ssize_t k = 0; k < recent; k++) {
            int again = PyObject_RichCompareBool(chosen[(*count - 1 - k) % 3], actor, Py_EQ);
            if (again < 0) {
                goto done;
            }
            if (again) {
                made = Py_NewRef(Py_None);
                goto done;
            }
        }
    }
    Py_XSETREF(chosen[*count % 3], Py_NewRef(actor));
    (*count)++;
    surface = PyUnicode_Substring(text, start, end);
    stop = PyLong_FromSsize_t(end);
    if (first == NULL) {
        first = made_first = PyLong_FromSsize_t(start);
    }
    if (surface == NULL || stop == NULL || first == NULL) {
        goto done;
    }
    int plain = PyObject_IsTrue(PyTuple_GET_ITEM(state, 3));
    if (plain < 0) {
        goto done;
    }
    if (!plain) {
        PyObject *call[4] = {first, stop, surface, state};
        made = PyObject_Vectorcall(judge, call, 4, NULL);
        goto done;
    }
    made = type->tp_alloc(type, 6);
    if (made == NULL) {
        goto done;
    }
    PyObject *values[6] = {actor, PyTuple_GET_ITEM(state, 1), PyTuple_GET_ITEM(state, 2),
                           first, stop, surface};
    for (int k = 0; k < 6; k++) {
        PyTuple_SET_ITEM(made, k, Py_NewRef(values[k]));
    }
done:
    Py_XDECREF(made_first);
    Py_XDECREF(stop);
    Py_XDECREF(surface);
    Py_DECREF(state);
    return made;
}

static PyObject *
select_mentions(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 && nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "select() takes 6 or 8 arguments");
        return NULL;
    }
    PyObject *raw = args[0], *text = args[3], *mention = args[4], *judge = args[5];
    States known = {args[1], args[2], nargs == 8 ? args[6] : Py_None,
                    nargs == 8 ? args[7] : Py_None};
    int listed = PyList_Check(raw);
    if (!(listed || Py_IS_TYPE(raw, &HitsType)) || !PyDict_Check(known.states)
        || !PyUnicode_Check(text)
        || !PyType_Check(mention) || !PyType_IsSubtype((PyTypeObject *)mention, &PyTuple_Type)
        || (known.plain != Py_None && !PyList_Check(known.plain))) {
        PyErr_SetString(PyExc_TypeError,
                        "select() takes a list or Hits, a dict, a callable, a str, a tuple "
                        "type, a callable, and a list or None");
        return NULL;
    }
    if (PyUnicode_READY(text) < 0) {
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *mentions = PyList_New(0);
    if (mentions == NULL) {
        return NULL;
    }
    PyObject *chosen[3] = {NULL, NULL, NULL};
    Py_ssize_t count = 0, last_start = -1, last_end = -1;
    /* A list is read by index, its size each time: a callback could change it. Hits
       cannot change. */
    Py_ssize_t size = listed ? PyList_GET_SIZE(raw) : ((Hits *)raw)->count;
    for (Py_ssize_t r = 0; r < size; r++) {
        PyObject *made = NULL;
        if (listed) {
            PyObject *hit = Py_NewRef(PyList_GET_ITEM(raw, r));
            Py_ssize_t start, end;
            if (!PyTuple_Check(hit) || PyTuple_GET_SIZE(hit) != 4) {
                PyErr_SetString(PyExc_TypeError,
                                "a match must be a tuple (start, -end, order, alias number)");
            }
            else if (as_index(PyTuple_GET_ITEM(hit, 0), "a start", &start) == 0
                     && as_index(PyTuple_GET_ITEM(hit, 1), "an end", &end) == 0) {
                made = select_one(start, -end, PyTuple_GET_ITEM(hit, 3), PyTuple_GET_ITEM(hit, 0),
                                  n, &known, text, (PyTypeObject *)mention, judge, chosen,
                                  &count, &last_start, &last_end);
            }
            Py_DECREF(hit);
            size = PyList_GET_SIZE(raw);
        }
        else {
            const Hit *hit = &((Hits *)raw)->items[r];
            made = select_one(hit->start, hit->end, hit->number, NULL, n, &known, text,
                              (PyTypeObject *)mention, judge, chosen, &count, &last_start,
                              &last_end);
        }
        int rc = made == NULL ? -1 : made == Py_None ? 0 : PyList_Append(mentions, made);
        Py_XDECREF(made);
        if (rc < 0) {
            Py_CLEAR(mentions);
            break;
        }
    }
    for (int k = 0; k < 3; k++) {
        Py_XDECREF(chosen[k]);
    }
    return mentions;
}

/* -- Aho-Corasick automata ---------------------------------------------------------------
 *
 * A DFA over strings of symbols (classes): every transition is in the table, so a search
 * reads one entry per symbol of the haystack. Symbols are classes of bytes or characters:
 * each one found in a pattern has a class of its own, all others share class 0, which
 * keeps the table small. The table holds each next state multiplied by the number of
 * classes, so that a step is one addition and one read; the states that end a pattern
 * (themselves or by a suffix) are numbered after all others, so that a state ends one if
 * it is ``limit`` or more.
 */

typedef struct {
    Py_ssize_t patterns;
    Py_ssize_t *lengths;   /* per pattern, in symbols */
    int32_t *next_same;    /* per pattern: the next pattern ending in the same state, or -1 */
    uint32_t *delta;       /* states x classes: the next state times classes */
    int32_t *first;        /* per state: the first pattern it ends, or -1 */
    int32_t *link;         /* per state: the nearest shorter suffix state ending one, or -1 */
    uint32_t states;
    uint32_t classes;
    size_t limit;          /* the first state ending a pattern, times classes */
} Dfa;

static void
dfa_free(Dfa *dfa)
{
    PyMem_Free(dfa->lengths);
    PyMem_Free(dfa->next_same);
    PyMem_Free(dfa->delta);
    PyMem_Free(dfa->first);
    PyMem_Free(dfa->link);
    memset(dfa, 0, sizeof(*dfa));
}

static size_t
dfa_size(const Dfa *dfa)
{
    return (size_t)dfa->patterns * (sizeof(Py_ssize_t) + sizeof(int32_t))
           + (size_t)dfa->states * dfa->classes * sizeof(uint32_t)
           + (size_t)dfa->states * 2 * sizeof(int32_t);
}

/* The DFA of ``count`` patterns, pattern i being symbols[offsets[i]:offsets[i + 1]], each
   symbol a class from 1 to ``classes`` - 1. (No pattern is empty.) */
static int
dfa_build(Dfa *dfa, Py_ssize_t count, const uint32_t *symbols, const Py_ssize_t *offsets,
          uint32_t classes)
{
    memset(dfa, 0, sizeof(*dfa));
    Py_ssize_t total = offsets[count];
    if (count > INT32_MAX || total >= INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "too many patterns for one automaton");
        return -1;
    }
    uint32_t most = (uint32_t)total + 1;
    if ((uint64_t)most * classes >= UINT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "patterns too long for one automaton");
        return -1;
    }
    dfa->patterns = count;
    dfa->classes = classes;
    dfa->lengths = PyMem_New(Py_ssize_t, count ? count : 1);
    dfa->next_same = PyMem_New(int32_t, count ? count : 1);
    dfa->delta = PyMem_New(uint32_t, (size_t)most * classes);
    dfa->first = PyMem_New(int32_t, most);
    dfa->link = PyMem_New(int32_t, most);
    int32_t *fail = PyMem_New(int32_t, most);
    uint32_t *queue = PyMem_New(uint32_t, most);
    if (!dfa->lengths || !dfa->next_same || !dfa->delta || !dfa->first || !dfa->link
        || !fail || !queue) {
        PyMem_Free(fail);
        PyMem_Free(queue);
        dfa_free(dfa);
        PyErr_NoMemory();
        return -1;
    }
    /* The trie: UINT32_MAX marks a missing transition. */
    uint32_t *delta = dfa->delta;
    for (size_t k = 0; k < (size_t)most * classes; k++) {
        delta[k] = UINT32_MAX;
    }
    uint32_t states = 1;
    dfa->first[0] = -1;
    for (Py_ssize_t i = 0; i < count; i++) {
        uint32_t state = 0;
        for (Py_ssize_t k = offsets[i]; k < offsets[i + 1]; k++) {
            uint32_t *slot = &delta[(size_t)state * classes + symbols[k]];
            if (*slot == UINT32_MAX) {
                dfa->first[states] = -1;
                *slot = states++;
            }
            state = *slot;
        }
        dfa->lengths[i] = offsets[i + 1] - offsets[i];
        /* Patterns ending in one state (the same symbols twice) are all reported, in
           order. */
        dfa->next_same[i] = -1;
        if (dfa->first[state] < 0) {
            dfa->first[state] = (int32_t)i;
        }
        else {
            int32_t last = dfa->first[state];
            while (dfa->next_same[last] >= 0) {
                last = dfa->next_same[last];
            }
            dfa->next_same[last] = (int32_t)i;
        }
    }
    /* Breadth first: each state's failure (its longest proper suffix that is a state),
       and every missing transition taken from the failure's. */
    uint32_t head = 0, tail = 0;
    fail[0] = 0;
    dfa->link[0] = -1;
    for (uint32_t c = 0; c < classes; c++) {
        uint32_t *slot = &delta[c];
        if (*slot == UINT32_MAX) {
            *slot = 0;
        }
        else {
            fail[*slot] = 0;
            dfa->link[*slot] = -1;
            queue[tail++] = *slot;
        }
    }
    while (head < tail) {
        uint32_t state = queue[head++];
        for (uint32_t c = 0; c < classes; c++) {
            uint32_t *slot = &delta[(size_t)state * classes + c];
            uint32_t by_fail = delta[(size_t)fail[state] * classes + c];
            if (*slot == UINT32_MAX) {
                *slot = by_fail;
            }
            else {
                uint32_t child = *slot;
                fail[child] = (int32_t)by_fail;
                dfa->link[child] =
                    dfa->first[by_fail] >= 0 ? (int32_t)by_fail : dfa->link[by_fail];
                queue[tail++] = child;
            }
        }
    }
    PyMem_Free(fail);
    /* The states that end a pattern numbered last (``queue`` gives each state its new
       number), then the table premultiplied, and the unused end of it given back. */
    uint32_t *renamed = queue, number = 0;
#define ENDING(state) (dfa->first[state] >= 0 || dfa->link[state] >= 0)
    for (uint32_t state = 0; state < states; state++) {
        if (!ENDING(state)) {
            renamed[state] = number++;
        }
    }
    dfa->limit = (size_t)number * classes;
    for (uint32_t state = 0; state < states; state++) {
        if (ENDING(state)) {
            renamed[state] = number++;
        }
    }
#undef ENDING
    uint32_t *table = PyMem_New(uint32_t, (size_t)states * classes);
    int32_t *first = PyMem_New(int32_t, states);
    int32_t *link = PyMem_New(int32_t, states);
    if (!table || !first || !link) {
        PyMem_Free(table);
        PyMem_Free(first);
        PyMem_Free(link);
        PyMem_Free(queue);
        dfa_free(dfa);
        PyErr_NoMemory();
        return -1;
    }
    for (uint32_t state = 0; state < states; state++) {
        uint32_t to = renamed[state];
        for (uint32_t c = 0; c < classes; c++) {
            table[(size_t)to * classes + c] = renamed[delta[(size_t)state * classes + c]] * classes;
        }
        first[to] = dfa->first[state];
        link[to] = dfa->link[state] >= 0 ? (int32_t)renamed[dfa->link[state]] : -1;
    }
    PyMem_Free(queue);
    PyMem_Free(dfa->delta);
    PyMem_Free(dfa->first);
    PyMem_Free(dfa->link);
    dfa->delta = table;
    dfa->first = first;
    dfa->link = link;
    dfa->states = states;
    return 0;
}

/* Calls ``report(context, pattern, start, end)`` for every pattern ending where a step of
   the search came to ``state`` (``limit`` or more), at symbol ``k`` of the haystack: the
   longest first. */
typedef int (*Report)(void *context, Py_ssize_t pattern, Py_ssize_t start, Py_ssize_t end);

static int
dfa_report(const Dfa *dfa, size_t state, Py_ssize_t k, Report report, void *context)
{
    uint32_t number = (uint32_t)state / dfa->classes;
    int32_t ending = dfa->first[number] >= 0 ? (int32_t)number : dfa->link[number];
    while (ending >= 0) {
        for (int32_t p = dfa->first[ending]; p >= 0; p = dfa->next_same[p]) {
            if (report(context, p, k + 1 - dfa->lengths[p], k + 1) < 0) {
                return -1;
            }
        }
        ending = dfa->link[ending];
    }
    return 0;
}

/* -- Automaton: patterns and haystacks of bytes -------------------------------------- */

typedef struct {
    PyObject_HEAD
    Dfa dfa;
    uint8_t class_of[256];
} Automaton;

static void
automaton_dealloc(Automaton *self)
{
    dfa_free(&self->dfa);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
automaton_build(Automaton *self, PyObject *patterns)
{
    Py_ssize_t count = PySequence_Fast_GET_SIZE(patterns);
    PyObject **items = PySequence_Fast_ITEMS(patterns);
    Py_ssize_t total = 0;
    int used[256] = {0};
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!PyBytes_Check(items[i])) {
            PyErr_Format(PyExc_TypeError, "pattern %zd is not bytes but %.100s", i,
                         Py_TYPE(items[i])->tp_name);
            return -1;
        }
        Py_ssize_t size = PyBytes_GET_SIZE(items[i]);
        if (size == 0) {
            PyErr_Format(PyExc_ValueError, "pattern %zd is empty", i);
            return -1;
        }
        const unsigned char *bytes = (const unsigned char *)PyBytes_AS_STRING(items[i]);
        for (Py_ssize_t k = 0; k < size; k++) {
            used[bytes[k]] = 1;
        }
        total += size;
    }
    uint32_t classes = 1;
    for (int b = 0; b < 256; b++) {
        self->class_of[b] = used[b] ? (uint8_t)classes++ : 0;
    }
    uint32_t *symbols = PyMem_New(uint32_t, total ? total : 1);
    Py_ssize_t *offsets = PyMem_New(Py_ssize_t, count + 1);
    if (symbols == NULL || offsets == NULL) {
        PyMem_Free(symbols);
        PyMem_Free(offsets);
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        offsets[i] = at;
        const unsigned char *bytes = (const unsigned char *)PyBytes_AS_STRING(items[i]);
        for (Py_ssize_t k = 0; k < PyBytes_GET_SIZE(items[i]); k++) {
            symbols[at++] = self->class_of[bytes[k]];
        }
    }
    offsets[count] = at;
    int rc = dfa_build(&self->dfa, count, symbols, offsets, classes);
    PyMem_Free(symbols);
    PyMem_Free(offsets);
    return rc;
}

static PyObject *
automaton_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *patterns;
    static char *keywords[] = {"patterns", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:Automaton", keywords, &patterns)) {
        return NULL;
    }
    PyObject *listed = PySequence_Fast(patterns, "Automaton() needs a sequence of bytes");
    if (listed == NULL) {
        return NULL;
    }
    Automaton *self = (Automaton *)type->tp_alloc(type, 0);
    if (self != NULL && automaton_build(self, listed) < 0) {
        Py_CLEAR(self);
    }
    Py_DECREF(listed);
    return (PyObject *)self;
}

static int
report_tuple(void *context, Py_ssize_t pattern, Py_ssize_t start, Py_ssize_t end)
{
    return append_new((PyObject *)context, Py_BuildValue("(nnn)", pattern, start, end));
}

static PyObject *
automaton_find(Automaton *self, PyObject *args, PyObject *kwargs)
{
    PyObject *haystack;
    int overlapping = 0;
    static char *keywords[] = {"haystack", "overlapping", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$p:find_matches_as_indexes", keywords,
                                     &haystack, &overlapping)) {
        return NULL;
    }
    if (!overlapping) {
        PyErr_SetString(PyExc_ValueError, "only overlapping searches are supported");
        return NULL;
    }
    Py_buffer view;
    if (PyObject_GetBuffer(haystack, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    PyObject *found = PyList_New(0);
    const Dfa *dfa = &self->dfa;
    const uint32_t *delta = dfa->delta;
    const unsigned char *bytes = view.buf;
    size_t state = 0;
    for (Py_ssize_t k = 0; found != NULL && k < view.len; k++) {
        state = delta[state + self->class_of[bytes[k]]];
        if (state >= dfa->limit && dfa_report(dfa, state, k, report_tuple, found) < 0) {
            Py_CLEAR(found);
        }
    }
    PyBuffer_Release(&view);
    return found;
}

static PyObject *
automaton_sizeof(Automaton *self, PyObject *unused)
{
    return PyLong_FromSize_t(sizeof(Automaton) + dfa_size(&self->dfa));
}

static PyMethodDef automaton_methods[] = {
    {"find_matches_as_indexes", (PyCFunction)(void (*)(void))automaton_find,
     METH_VARARGS | METH_KEYWORDS,
     "find_matches_as_indexes(haystack, overlapping=True) -> list\n\n"
     "Every occurrence of every pattern in ``haystack`` (bytes), as (pattern number, start,\n"
     "end), in the order they end."},
    {"__sizeof__", (PyCFunction)automaton_sizeof, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject AutomatonType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "dyadwatch._speedups.Automaton",
    .tp_basicsize = sizeof(Automaton),
    .tp_dealloc = (destructor)automaton_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Automaton(patterns)\n\nAn Aho-Corasick DFA over ``patterns`` (bytes, none empty).",
    .tp_methods = automaton_methods,
    .tp_new = automaton_new,
};

/* -- TextSearch: aliases looked for in a str, character by character --------------------
 *
 * The ``actors`` automata, searched in the text itself: the DFAs' symbols are classes of
 * characters (every character of a pattern has its own), and a table gives each character
 * of the BMP its class, so that no copy of the text is made, in UTF-8 or in lower case, and
 * the offsets of the matches are the characters'.
 *
 * A search has four parts: the patterns written in ASCII as they are written (``cased``)
 * and lower-cased (``folded``), then the others likewise. A folded part gives a character
 * the class of its lower case: ``Py_UNICODE_TOLOWER`` is ``str.lower`` of one character
 * but for "İ", whose lower case "i̇" is two characters and which ``text.lower_copy`` makes
 * "i" as it does, and for "Σ", whose lower case ("σ", or "ς" at the end of a word) depends
 * on the characters around it. So "σ" and "ς" share a class, and a folded pattern holding
 * one of them is compared with ``lower_copy(text)`` where it matches. The first two parts
 * search every text, at once; the others only a text holding a character outside ASCII
 * that they have a class for, which most texts do not.
 */
#define SIGMA 0x03C3
#define FINAL_SIGMA 0x03C2
#define PARTS 4

typedef struct {
    Dfa dfa;
    int fold;
    uint16_t *table;         /* per character of the BMP, its class */
    Py_UCS4 *astral;         /* the classed characters beyond the BMP, sorted */
    uint16_t *astral_class;  /* and their classes */
    Py_ssize_t astral_count;
    PyObject *patterns;      /* a tuple of str */
    PyObject *meanings;      /* a tuple: per pattern (word, literal entries, stem entries) */
    uint8_t *check;          /* per pattern: whether to compare it with lower_copy(text) */
} Part;

typedef struct {
    PyObject_HEAD
    Part parts[PARTS];
} TextSearch;

static inline Py_UCS4
folded_char(Py_UCS4 ch)
{
    ch = Py_UNICODE_TOLOWER(ch);
    return ch == FINAL_SIGMA ? SIGMA : ch;
}

static uint16_t
astral_class_of(const Part *part, Py_UCS4 ch)
{
    if (part->fold) {
        ch = folded_char(ch);
    }
    if (ch <= 0xFFFF) { /* (no character beyond the BMP has its lower case within it) */
        return part->table[ch];
    }
    Py_ssize_t lo = 0, hi = part->astral_count;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (part->astral[mid] < ch) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo < part->astral_count && part->astral[lo] == ch ? part->astral_class[lo] : 0;
}

/* The class of character ``ch`` (of type T) in a part with table ``table``. */
#define CLASS_OF(T, part, table, ch)                                                    \
    ((sizeof(T) < 4 || (ch) <= 0xFFFF) ? (table)[(ch)] : astral_class_of((part), (ch)))

static void
part_free(Part *part)
{
    dfa_free(&part->dfa);
    PyMem_Free(part->table);
    PyMem_Free(part->astral);
    PyMem_Free(part->astral_class);
    PyMem_Free(part->check);
    Py_CLEAR(part->patterns);
    Py_CLEAR(part->meanings);
}

static int
compare_chars(const void *a, const void *b)
{
    Py_UCS4 x = *(const Py_UCS4 *)a, y = *(const Py_UCS4 *)b;
    return (x > y) - (x < y);
}

/* Whether ``value`` is an int within Py_ssize_t. */
static int
small_int(PyObject *value)
{
    if (!PyLong_Check(value)) {
        return 0;
    }
    if (PyLong_AsSsize_t(value) == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return 1;
}

/* Whether ``meaning`` is (word number, literal entries, stem entries), entries being
   (order, alias number) pairs. */
static int
valid_meaning(PyObject *meaning)
{
    if (!PyTuple_Check(meaning) || PyTuple_GET_SIZE(meaning) != 3
        || !small_int(PyTuple_GET_ITEM(meaning, 0))) {
        return 0;
    }
    for (int k = 1; k < 3; k++) {
        PyObject *entries = PyTuple_GET_ITEM(meaning, k);
        if (!PyTuple_Check(entries)) {
            return 0;
        }
        for (Py_ssize_t e = 0; e < PyTuple_GET_SIZE(entries); e++) {
            PyObject *entry = PyTuple_GET_ITEM(entries, e);
            if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 2
                || !small_int(PyTuple_GET_ITEM(entry, 0))
                || !small_int(PyTuple_GET_ITEM(entry, 1))) {
                return 0;
            }
        }
    }
    return 1;
}

/* Part ``index`` from ``spec``, (patterns, meanings): its alphabet, its table of classes,
   and its DFA. */
static int
part_build(Part *part, PyObject *spec, int index)
{
    part->fold = index % 2;
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) != 2
        || !PyTuple_Check(PyTuple_GET_ITEM(spec, 0))
        || !PyTuple_Check(PyTuple_GET_ITEM(spec, 1))) {
        PyErr_Format(PyExc_TypeError, "part %d must be a tuple (patterns, meanings) of tuples",
                     index);
        return -1;
    }
    PyObject *patterns = PyTuple_GET_ITEM(spec, 0), *meanings = PyTuple_GET_ITEM(spec, 1);
    Py_ssize_t count = PyTuple_GET_SIZE(patterns), total = 0;
    if (PyTuple_GET_SIZE(meanings) != count) {
        PyErr_Format(PyExc_ValueError, "part %d: %zd meanings for %zd patterns", index,
                     PyTuple_GET_SIZE(meanings), count);
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *pattern = PyTuple_GET_ITEM(patterns, i);
        if (!PyUnicode_Check(pattern) || PyUnicode_READY(pattern) < 0) {
            PyErr_Format(PyExc_TypeError, "part %d: pattern %zd is not a str", index, i);
            return -1;
        }
        if (PyUnicode_GET_LENGTH(pattern) == 0) {
            PyErr_Format(PyExc_ValueError, "part %d: pattern %zd is empty", index, i);
            return -1;
        }
        if (!valid_meaning(PyTuple_GET_ITEM(meanings, i))) {
            PyErr_Format(PyExc_TypeError,
                         "part %d: meaning %zd must be a tuple (word number, literal "
                         "entries, stem entries), entries being pairs of ints",
                         index, i);
            return -1;
        }
        total += PyUnicode_GET_LENGTH(pattern);
    }
    part->patterns = Py_NewRef(patterns);
    part->meanings = Py_NewRef(meanings);
    int rc = -1;
    Py_UCS4 *alphabet = PyMem_New(Py_UCS4, total ? total : 1);
    uint32_t *symbols = PyMem_New(uint32_t, total ? total : 1);
    Py_ssize_t *offsets = PyMem_New(Py_ssize_t, count + 1);
    uint16_t *direct = PyMem_New(uint16_t, 0x10000); /* the BMP's classed characters */
    part->table = PyMem_New(uint16_t, 0x10000);
    part->check = PyMem_New(uint8_t, count ? count : 1);
    if (!alphabet || !symbols || !offsets || !direct || !part->table || !part->check) {
        PyErr_NoMemory();
        goto done;
    }
    /* The alphabet: the patterns' characters (in a folded part, "ς" as "σ"), sorted, each
       numbered from 1 in that order (ASCII first, the characters most texts are made of:
       their columns of the table lie together). */
    Py_ssize_t size = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *pattern = PyTuple_GET_ITEM(patterns, i);
        part->check[i] = 0;
        for (Py_ssize_t k = 0; k < PyUnicode_GET_LENGTH(pattern); k++) {
            Py_UCS4 ch = PyUnicode_READ_CHAR(pattern, k);
            if (part->fold && (ch == SIGMA || ch == FINAL_SIGMA)) {
                ch = SIGMA;
                part->check[i] = 1;
            }
            alphabet[size++] = ch;
        }
    }
    if (size > 0) {
        qsort(alphabet, size, sizeof(Py_UCS4), compare_chars);
    }
    Py_ssize_t letters = 0, astral = 0;
    for (Py_ssize_t k = 0; k < size; k++) {
        if (letters == 0 || alphabet[letters - 1] != alphabet[k]) {
            alphabet[letters++] = alphabet[k];
            astral += alphabet[k] > 0xFFFF;
        }
    }
    if (letters >= 0xFFFF) {
        PyErr_Format(PyExc_ValueError, "part %d: too many characters for one automaton",
                     index);
        goto done;
    }
    memset(direct, 0, 0x10000 * sizeof(uint16_t));
    part->astral = PyMem_New(Py_UCS4, astral ? astral : 1);
    part->astral_class = PyMem_New(uint16_t, astral ? astral : 1);
    if (!part->astral || !part->astral_class) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t k = 0; k < letters; k++) {
        if (alphabet[k] <= 0xFFFF) {
            direct[alphabet[k]] = (uint16_t)(k + 1);
        }
        else {
            part->astral[part->astral_count] = alphabet[k];
            part->astral_class[part->astral_count++] = (uint16_t)(k + 1);
        }
    }
    /* Each character's class: its own, or in a folded part its lower case's. */
    for (Py_UCS4 ch = 0; ch < 0x10000; ch++) {
        Py_UCS4 seen = part->fold ? folded_char(ch) : ch;
        part->table[ch] = seen <= 0xFFFF ? direct[seen] : 0;
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *pattern = PyTuple_GET_ITEM(patterns, i);
        offsets[i] = at;
        for (Py_ssize_t k = 0; k < PyUnicode_GET_LENGTH(pattern); k++) {
            Py_UCS4 ch = PyUnicode_READ_CHAR(pattern, k);
            if (part->fold && ch == FINAL_SIGMA) {
                ch = SIGMA;
            }
            Py_UCS4 *found = bsearch(&ch, alphabet, letters, sizeof(Py_UCS4), compare_chars);
            symbols[at++] = (uint32_t)(found - alphabet) + 1;
        }
    }
    offsets[count] = at;
    rc = dfa_build(&part->dfa, count, symbols, offsets, (uint32_t)letters + 1);
done:
    PyMem_Free(alphabet);
    PyMem_Free(symbols);
    PyMem_Free(offsets);
    PyMem_Free(direct);
    return rc;
}

static void
text_search_dealloc(TextSearch *self)
{
    for (int p = 0; p < PARTS; p++) {
        part_free(&self->parts[p]);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
text_search_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *specs[PARTS];
    static char *keywords[] = {"cased", "folded", "other_cased", "other_folded", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO:TextSearch", keywords, &specs[0],
                                     &specs[1], &specs[2], &specs[3])) {
        return NULL;
    }
    TextSearch *self = (TextSearch *)type->tp_alloc(type, 0);
    for (int p = 0; self != NULL && p < PARTS; p++) {
        if (part_build(&self->parts[p], specs[p], p) < 0) {
            Py_CLEAR(self);
        }
    }
    return (PyObject *)self;
}

/* What a match of one part is checked against and sorted into. */
typedef struct {
    const Part *part;
    Sorting sorting;
    PyObject *text;
    PyObject *lower;     /* text.lower_copy */
    PyObject **lowered;  /* lower_copy(text), once it is asked for */
} Reporting;

static int
report_match(void *context, Py_ssize_t p, Py_ssize_t start, Py_ssize_t end)
{
    Reporting *reporting = (Reporting *)context;
    const Part *part = reporting->part;
    if (part->check[p]) {
        PyObject *lowered = *reporting->lowered;
        if (lowered == NULL) {
            lowered = PyObject_CallOneArg(reporting->lower, reporting->text);
            if (lowered == NULL) {
                return -1;
            }
            *reporting->lowered = lowered;
            if (!PyUnicode_Check(lowered) || PyUnicode_READY(lowered) < 0
                || PyUnicode_GET_LENGTH(lowered) != reporting->sorting.n) {
                PyErr_SetString(PyExc_ValueError,
                                "lower(text) must be a str as long as the text");
                return -1;
            }
        }
        PyObject *pattern = PyTuple_GET_ITEM(part->patterns, p);
        for (Py_ssize_t k = start; k < end; k++) {
            if (PyUnicode_READ_CHAR(lowered, k) != PyUnicode_READ_CHAR(pattern, k - start)) {
                return 0;
            }
        }
    }
    return sort_match(&reporting->sorting, p, start, end);
}

/* Both DFAs of parts ``a`` and ``b`` over the characters (of type T) of the text, in one
   loop. (The loop runs to the next character where a pattern ends, and the matches are
   reported outside it: it holds no call, which leaves all its values in registers.) */
#define SEARCH_TWO(T)                                                                     \
    do {                                                                                  \
        const T *chars = (const T *)data;                                                 \
        const Part *a = first->part, *b = second->part;                                   \
        const uint32_t *da = a->dfa.delta, *db = b->dfa.delta;                            \
        const uint16_t *ta = a->table, *tb = b->table;                                    \
        const size_t la = a->dfa.limit, lb = b->dfa.limit;                                \
        size_t sa = 0, sb = 0;                                                            \
        Py_ssize_t k = 0;                                                                 \
        while (k < n) {                                                                   \
            for (; k < n; k++) {                                                          \
                T ch = chars[k];                                                          \
                sa = da[sa + CLASS_OF(T, a, ta, ch)];                                     \
                sb = db[sb + CLASS_OF(T, b, tb, ch)];                                     \
                if (sa >= la || sb >= lb) {                                               \
                    break;                                                                \
                }                                                                         \
            }                                                                             \
            if (k == n) {                                                                 \
                break;                                                                    \
            }                                                                             \
            if (sa >= la && dfa_report(&a->dfa, sa, k, report_match, first) < 0) {       \
                return -1;                                                                \
            }                                                                             \
            if (sb >= lb && dfa_report(&b->dfa, sb, k, report_match, second) < 0) {      \
                return -1;                                                                \
            }                                                                             \
            k++;                                                                          \
        }                                                                                 \
    } while (0)

static int
search_two(Reporting *first, Reporting *second, int kind, const void *data, Py_ssize_t n)
{
    if (kind == PyUnicode_1BYTE_KIND) {
        SEARCH_TWO(Py_UCS1);
    }
    else if (kind == PyUnicode_2BYTE_KIND) {
        SEARCH_TWO(Py_UCS2);
    }
    else {
        SEARCH_TWO(Py_UCS4);
    }
    return 0;
}

/* The characters of a text outside ASCII, each once, in the order of their code points.
   (Eight bytes of characters are tested at once with ``ascii``, the bits that are set in no
   ASCII character: most are ASCII. The BMP's are marked in ``bits``.) */
#define MARK_OTHER(ch)                                                                    \
    do {                                                                                  \
        Py_UCS4 other = (ch);                                                             \
        if (other < 128) {                                                                \
        }                                                                                 \
        else if (other <= 0xFFFF) {                                                       \
            bits[other >> 6] |= (uint64_t)1 << (other & 63);                              \
            low = other < low ? other : low;                                              \
            high = other > high ? other : high;                                           \
        }                                                                                 \
        else {                                                                            \
            if (astral_count == room) {                                                   \
                room = room ? 2 * room : 16;                                              \
                Py_UCS4 *grown = PyMem_Resize(astral, Py_UCS4, room);                     \
                if (grown == NULL) {                                                      \
                    goto error;                                                           \
                }                                                                         \
                astral = grown;                                                           \
            }                                                                             \
            astral[astral_count++] = other;                                               \
        }                                                                                 \
    } while (0)

#define MARK_OTHERS(T, ascii)                                                             \
    do {                                                                                  \
        const T *chars = (const T *)data;                                                 \
        const Py_ssize_t per = 8 / sizeof(T);                                             \
        Py_ssize_t k = 0;                                                                 \
        for (; k + per <= n; k += per) {                                                  \
            uint64_t word;                                                                \
            memcpy(&word, chars + k, 8);                                                  \
            if (word & (ascii)) {                                                         \
                for (Py_ssize_t j = k; j < k + per; j++) {                                \
                    MARK_OTHER(chars[j]);                                                 \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
        for (; k < n; k++) {                                                              \
            MARK_OTHER(chars[k]);                                                         \
        }                                                                                 \
    } while (0)

static PyObject *
others_of(int kind, const void *data, Py_ssize_t n)
{
    uint64_t bits[0x10000 / 64];
    Py_UCS4 low = 0xFFFF, high = 0, *astral = NULL;
    Py_ssize_t astral_count = 0, room = 0;
    memset(bits, 0, sizeof(bits));
    if (kind == PyUnicode_1BYTE_KIND) {
        MARK_OTHERS(Py_UCS1, 0x8080808080808080u);
    }
    else if (kind == PyUnicode_2BYTE_KIND) {
        MARK_OTHERS(Py_UCS2, 0xFF80FF80FF80FF80u);
    }
    else {
        MARK_OTHERS(Py_UCS4, 0xFFFFFF80FFFFFF80u);
    }
    if (astral_count > 0) {
        qsort(astral, astral_count, sizeof(Py_UCS4), compare_chars);
    }
    Py_ssize_t count = 0, distinct = 0;
    Py_UCS4 widest = low <= high ? high : 0;
    for (Py_UCS4 w = low / 64; low <= high && w <= high / 64; w++) {
        count += __builtin_popcountll(bits[w]);
    }
    for (Py_ssize_t k = 0; k < astral_count; k++) {
        if (k == 0 || astral[k] != astral[k - 1]) {
            astral[distinct++] = astral[k];
            widest = astral[k];
        }
    }
    PyObject *others = PyUnicode_New(count + distinct, widest);
    if (others == NULL) {
        PyMem_Free(astral);
        return NULL;
    }
    int others_kind = PyUnicode_KIND(others);
    void *others_data = PyUnicode_DATA(others);
    Py_ssize_t at = 0;
    for (Py_UCS4 w = low / 64; low <= high && w <= high / 64; w++) {
        for (uint64_t word = bits[w]; word; word &= word - 1) {
            PyUnicode_WRITE(others_kind, others_data, at++, w * 64 + __builtin_ctzll(word));
        }
    }
    for (Py_ssize_t k = 0; k < distinct; k++) {
        PyUnicode_WRITE(others_kind, others_data, at++, astral[k]);
    }
    PyMem_Free(astral);
    return others;
error:
    PyMem_Free(astral);
    return PyErr_NoMemory();
}

/* Whether part ``a`` or ``b`` has a class for one of ``others`` (characters outside
   ASCII): else neither can match in a text holding no others (each of their patterns
   holds such a character). */
static int
classes_any(const Part *a, const Part *b, PyObject *others)
{
    for (Py_ssize_t k = 0; k < PyUnicode_GET_LENGTH(others); k++) {
        Py_UCS4 ch = PyUnicode_READ_CHAR(others, k);
        if (CLASS_OF(Py_UCS4, a, a->table, ch) | CLASS_OF(Py_UCS4, b, b->table, ch)) {
            return 1;
        }
    }
    return 0;
}

static PyObject *
text_search_scan(TextSearch *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "scan() takes 4 arguments");
        return NULL;
    }
    PyObject *text = args[0], *lower = args[3];
    if (!PyUnicode_Check(text) || !PyDict_Check(args[1]) || !PyDict_Check(args[2])
        || !PyCallable_Check(lower)) {
        PyErr_SetString(PyExc_TypeError, "scan() takes a str, two dicts and a callable");
        return NULL;
    }
    if (PyUnicode_READY(text) < 0) {
        return NULL;
    }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    PyObject *lowered = NULL;
    Hits *hits = hits_new((PyObject *)self);
    if (hits == NULL) {
        return NULL;
    }
    Reporting reporting[PARTS];
    for (int p = 0; p < PARTS; p++) {
        Part *part = &self->parts[p];
        Reporting made = {part, {part->meanings, hits, args[part->fold ? 2 : 1], kind, data, n},
                          text, lower, &lowered};
        reporting[p] = made;
    }
    PyObject *others = PyUnicode_IS_ASCII(text) ? PyUnicode_New(0, 0) : others_of(kind, data, n);
    int rc = others == NULL ? -1 : search_two(&reporting[0], &reporting[1], kind, data, n);
    if (rc == 0 && classes_any(&self->parts[2], &self->parts[3], others)) {
        rc = search_two(&reporting[2], &reporting[3], kind, data, n);
    }
    Py_XDECREF(lowered);
    if (rc < 0) {
        Py_XDECREF(others);
        Py_DECREF(hits);
        return NULL;
    }
    if (hits->count > 0) {
        qsort(hits->items, hits->count, sizeof(Hit), compare_hits);
    }
    return Py_BuildValue("(NN)", hits, others);
}

static PyObject *
text_search_sizeof(TextSearch *self, PyObject *unused)
{
    size_t size = sizeof(TextSearch);
    for (int p = 0; p < PARTS; p++) {
        const Part *part = &self->parts[p];
        size += dfa_size(&part->dfa) + 0x10000 * sizeof(uint16_t) + (size_t)part->dfa.patterns
                + (size_t)part->astral_count * (sizeof(Py_UCS4) + sizeof(uint16_t));
    }
    return PyLong_FromSize_t(size);
}

static PyMethodDef text_search_methods[] = {
    {"scan", (PyCFunction)(void (*)(void))text_search_scan, METH_FASTCALL,
     "scan(text, cased_words, folded_words, lower) -> (hits, others)\n\n"
     "Every occurrence of every pattern in ``text`` (a str), sorted as ``actors._scan``\n"
     "sorts them: the aliases' into ``hits`` (``Hits``, in order), the words' places into\n"
     "``cased_words`` (the cased parts') and ``folded_words``. ``lower`` is\n"
     "``text.lower_copy``, called at most once, for a folded pattern holding a sigma.\n"
     "``others`` are the characters of ``text`` outside ASCII, each once, in the order of\n"
     "their code points."},
    {"__sizeof__", (PyCFunction)text_search_sizeof, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject TextSearchType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "dyadwatch._speedups.TextSearch",
    .tp_basicsize = sizeof(TextSearch),
    .tp_dealloc = (destructor)text_search_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "TextSearch(cased, folded, other_cased, other_folded)\n\n"
              "Automata over the patterns of each part, (patterns, meanings): the patterns\n"
              "(str, none empty) are found in a text as they are written (cased) or in its\n"
              "lower case (folded, as ``text.lower_copy`` makes it); the first two parts'\n"
              "should be ASCII, the others not. A meaning is (word number, literal entries,\n"
              "stem entries), as ``actors._scan`` takes it.",
    .tp_methods = text_search_methods,
    .tp_new = text_search_new,
};

/* -- Sentences and pairs -----------------------------------------------------------------
 *
 * ``text.sentence_ends`` and ``Gazetteer._sentence_pairs`` (dyadwatch/actors.py), the
 * boundary pattern ``text._BREAK`` matched by hand: a mark ending sentences, the first of
 * its run, more marks, closing quotes or brackets, white space, and no lower-case ASCII
 * letter after it.
 */
static inline int
is_mark(Py_UCS4 ch)
{
    return ch == '.' || ch == '!' || ch == '?' || ch == 0x2026 || ch == 0x061F || ch == 0x3002;
}

static inline int
is_closer(Py_UCS4 ch)
{
    return ch == '"' || ch == '\'' || ch == ')' || ch == ']';
}

typedef struct {
    int kind;
    const void *data;
    PyObject *text;
    PyObject *abbreviations; /* text.ABBREVIATIONS */
    PyObject *starters;      /* text.SENTENCE_STARTERS */
} Line;

#define CHAR(line, i) PyUnicode_READ((line)->kind, (line)->data, (i))

/* The end of the boundary starting at ``p`` (a mark) in text[..hi], or -1 if none starts
   there. */
static Py_ssize_t
boundary_at(const Line *line, Py_ssize_t p, Py_ssize_t hi)
{
    if (p > 0 && is_mark(CHAR(line, p - 1))) {
        return -1;
    }
    Py_ssize_t q = p + 1;
    while (q < hi && is_mark(CHAR(line, q))) {
        q++;
    }
    while (q < hi && is_closer(CHAR(line, q))) {
        q++;
    }
    if (q >= hi || !Py_UNICODE_ISSPACE(CHAR(line, q))) {
        return -1;
    }
    while (q < hi && Py_UNICODE_ISSPACE(CHAR(line, q))) {
        q++;
    }
    if (q < hi) {
        Py_UCS4 ch = CHAR(line, q);
        if (ch >= 'a' && ch <= 'z') {
            return -1;
        }
    }
    return q;
}

/* Whether ``word`` (text[first:mark], opening quotes and brackets stripped) is an
   abbreviation, a single letter, or "no"/"nos" before a digit: 1, 0, or -1 on error. */
static int
is_abbreviation(const Line *line, Py_ssize_t first, Py_ssize_t mark, Py_ssize_t end)
{
    Py_ssize_t size = mark - first;
    if (size > 6) { /* text._LONGEST_ABBREVIATION */
        return 0;
    }
    char lowered[8];
    int ascii = 1;
    for (Py_ssize_t k = 0; k < size; k++) {
        Py_UCS4 ch = CHAR(line, first + k);
        if (ch >= 128) {
            ascii = 0;
            break;
        }
        lowered[k] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    PyObject *bare;
    if (ascii) {
        if (size == 1) {
            char ch = lowered[0];
            if (ch >= 'a' && ch <= 'z') {
                return 1;
            }
        }
        bare = PyUnicode_FromStringAndSize(lowered, size);
    }
    else {
        PyObject *word = PyUnicode_Substring(line->text, first, mark);
        bare = word == NULL ? NULL : PyObject_CallMethod(word, "lower", NULL);
        Py_XDECREF(word);
    }
    if (bare == NULL) {
        return -1;
    }
    int found = PySet_Contains(line->abbreviations, bare);
    if (found == 0 && !ascii && PyUnicode_GET_LENGTH(bare) == 1) {
        found = Py_UNICODE_ISALPHA(PyUnicode_READ_CHAR(bare, 0));
    }
    if (found == 0 && (PyUnicode_CompareWithASCIIString(bare, "no") == 0
                       || PyUnicode_CompareWithASCIIString(bare, "nos") == 0)) {
        found = Py_UNICODE_ISDIGIT(CHAR(line, end)); /* "No. 10 Downing Street" */
    }
    Py_DECREF(bare);
    return found;
}

/* Whether text[first:mark + 1] ends in a dotted initialism ("U.S."), as
   ``text._INITIALISM`` finds it: two letters or more, each after a full stop or at a word's
   start. */
static int
ends_initialism(const Line *line, Py_ssize_t first, Py_ssize_t mark)
{
    Py_ssize_t at = mark; /* a full stop */
    for (int letters = 1;; letters++) {
        Py_ssize_t letter = at - 1;
        if (letter < first) {
            return 0;
        }
        Py_UCS4 ch = CHAR(line, letter);
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z'))) {
            return 0;
        }
        if (letters >= 2 && (letter == first || !is_word(CHAR(line, letter - 1)))) {
            return 1;
        }
        at = letter - 1;
        if (at < first || CHAR(line, at) != '.') {
            return 0;
        }
    }
}

/* Whether the word from ``end`` (to the next space or ``hi``), opening quotes and brackets
   stripped, is a typical sentence opener: 1, 0, or -1 on error. */
static int
opens_sentence(const Line *line, Py_ssize_t end, Py_ssize_t hi)
{
    Py_ssize_t stop = end;
    while (stop < hi && CHAR(line, stop) != ' ') {
        stop++;
    }
    PyObject *next = PyUnicode_Substring(line->text, end, stop);
    PyObject *stripped = next == NULL ? NULL : PyObject_CallMethod(next, "strip", "s", "\"'(");
    Py_XDECREF(next);
    if (stripped == NULL) {
        return -1;
    }
    int found = PySet_Contains(line->starters, stripped);
    Py_DECREF(stripped);
    return found;
}

typedef struct {
    Py_ssize_t *ends;
    Py_ssize_t count;
    Py_ssize_t room;
} Ends;

static int
ends_add(Ends *ends, Py_ssize_t end)
{
    if (ends->count == ends->room) {
        Py_ssize_t room = ends->room ? ends->room * 2 : 16;
        Py_ssize_t *grown = PyMem_Resize(ends->ends, Py_ssize_t, room);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        ends->ends = grown;
        ends->room = room;
    }
    ends->ends[ends->count++] = end;
    return 0;
}

/* ``text.sentence_ends(text, lo, hi, until)`` into ``ends`` (emptied first). */
static int
line_ends(const Line *line, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t until, Ends *ends)
{
    ends->count = 0;
    Py_ssize_t start = lo, pos = lo;
    while (pos < hi) {
        /* The next boundary from ``pos``, as a search for the pattern finds it. */
        Py_ssize_t mark = pos, end = -1;
        for (; mark < hi; mark++) {
            if (is_mark(CHAR(line, mark)) && (end = boundary_at(line, mark, hi)) >= 0) {
                break;
            }
        }
        if (end < 0) {
            break;
        }
        pos = end;
        if (end >= hi) {
            break;
        }
        if (CHAR(line, mark) == '.') {
            Py_ssize_t first = mark - 1;
            while (first >= start && CHAR(line, first) != ' ') {
                first--;
            }
            first++;
            if (first < start) {
                first = start;
            }
            Py_ssize_t word = first;
            while (word < mark) {
                Py_UCS4 ch = CHAR(line, word);
                if (ch != '"' && ch != '\'' && ch != '(' && ch != '[') {
                    break;
                }
                word++;
            }
            int abbreviation = is_abbreviation(line, word, mark, end);
            if (abbreviation < 0) {
                return -1;
            }
            if (abbreviation) {
                continue;
            }
            if (mark - first >= 3 && CHAR(line, mark - 2) == '.'
                && ends_initialism(line, first, mark)) {
                int opener = opens_sentence(line, end, hi);
                if (opener < 0) {
                    return -1;
                }
                if (!opener) {
                    continue;
                }
            }
        }
        Py_UCS4 following = CHAR(line, end);
        if (following > 0x7f && Py_UNICODE_ISLOWER(following)) {
            continue;
        }
        if (ends_add(ends, end) < 0) {
            return -1;
        }
        if (end > until) {
            return 0;
        }
        start = end;
    }
    return ends_add(ends, hi);
}

static int
line_init(Line *line, PyObject *text, PyObject *abbreviations, PyObject *starters)
{
    if (!PyUnicode_Check(text) || !PyAnySet_Check(abbreviations) || !PyAnySet_Check(starters)) {
        PyErr_SetString(PyExc_TypeError, "text must be a str, the word lists sets");
        return -1;
    }
    if (PyUnicode_READY(text) < 0) {
        return -1;
    }
    line->kind = PyUnicode_KIND(text);
    line->data = PyUnicode_DATA(text);
    line->text = text;
    line->abbreviations = abbreviations;
    line->starters = starters;
    return 0;
}

static PyObject *
sentence_ends(PyObject *module, PyObject *args)
{
    PyObject *text, *abbreviations, *starters;
    Py_ssize_t lo, hi, until;
    if (!PyArg_ParseTuple(args, "UnnnOO:sentence_ends", &text, &lo, &hi, &until,
                          &abbreviations, &starters)) {
        return NULL;
    }
    Line line;
    if (line_init(&line, text, abbreviations, starters) < 0) {
        return NULL;
    }
    if (lo < 0 || hi < lo || hi > PyUnicode_GET_LENGTH(text)) {
        PyErr_Format(PyExc_ValueError, "line %zd to %zd out of range", lo, hi);
        return NULL;
    }
    Ends ends = {NULL, 0, 0};
    PyObject *out = NULL;
    if (line_ends(&line, lo, hi, until, &ends) == 0 && (out = PyList_New(ends.count))) {
        for (Py_ssize_t k = 0; k < ends.count; k++) {
            PyObject *end = PyLong_FromSsize_t(ends.ends[k]);
            if (end == NULL) {
                Py_CLEAR(out);
                break;
            }
            PyList_SET_ITEM(out, k, end);
        }
    }
    PyMem_Free(ends.ends);
    return out;
}

/* Whether actors[lo:hi] holds two actors or more: 1, 0, or -1 on error. */
static int
two_actors(PyObject **actors, Py_ssize_t lo, Py_ssize_t hi)
{
    for (Py_ssize_t k = lo + 1; k < hi; k++) {
        int same = PyObject_RichCompareBool(actors[lo], actors[k], Py_EQ);
        if (same <= 0) {
            return same < 0 ? -1 : 1;
        }
    }
    return 0;
}

/* The attributes of a ``PairEvidence``, interned when the module is loaded, and the
   arguments of its ``__new__``. */
static PyObject *evidence_fields[4];
static const char *evidence_names[4] = {"text", "start", "end", "mentions"};
static PyObject *no_arguments;

/* ``type(text, start, end, mentions)`` for ``actors.PairEvidence``, a dataclass whose
   ``__init__`` sets those four attributes and does nothing else: made by its ``__new__``
   (``object.__new__``) and set here, without a call of ``__init__``. */
static PyObject *
make_evidence(PyTypeObject *type, PyObject *sentence, PyObject *first, PyObject *last,
              PyObject *fired)
{
    PyObject *made = type->tp_new(type, no_arguments, NULL);
    if (made == NULL) {
        return NULL;
    }
    PyObject *values[4] = {sentence, first, last, fired};
    for (int k = 0; k < 4; k++) {
        if (PyObject_SetAttr(made, evidence_fields[k], values[k]) < 0) {
            Py_DECREF(made);
            return NULL;
        }
    }
    return made;
}

/* Evidence for the pair of actors ``x`` < ``y``: ``fired`` are the mentions of the two.
   (``Gazetteer._record`` records none where the pair's last evidence is the same sentence,
   which windows of sentences can make; each sentence comes here once.) */
static int
record_pair(PyObject *pairs, PyObject *x, PyObject *y, PyTypeObject *evidence_type,
            PyObject *sentence, PyObject *first, PyObject *last, PyObject *fired)
{
    PyObject *key = PyTuple_Pack(2, x, y);
    if (key == NULL) {
        return -1;
    }
    int rc = -1;
    PyObject *evidence = NULL;
    PyObject *known = Py_XNewRef(PyDict_GetItemWithError(pairs, key));
    if (known == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (known != NULL && !PyList_Check(known)) {
        PyErr_SetString(PyExc_TypeError, "a pair's evidence must be a list");
        goto done;
    }
    evidence = make_evidence(evidence_type, sentence, first, last, fired);
    if (evidence == NULL) {
        goto done;
    }
    if (known != NULL) {
        rc = PyList_Append(known, evidence);
    }
    else {
        PyObject *list = PyList_New(1);
        if (list == NULL) {
            goto done;
        }
        PyList_SET_ITEM(list, 0, Py_NewRef(evidence));
        rc = PyDict_SetItem(pairs, key, list);
        Py_DECREF(list);
    }
done:
    Py_XDECREF(known);
    Py_XDECREF(evidence);
    Py_DECREF(key);
    return rc;
}

/* The evidence of one sentence, text[start:end], with mentions[a:b] (their actors
   actors[a:b]): as ``Gazetteer._record`` records it. Each pair of its actors, taken in
   order, gets the sentence and the pair's mentions. */
static int
record_sentence(PyObject *text, PyObject *mentions, PyObject **actors, Py_ssize_t a,
                Py_ssize_t b, Py_ssize_t start, Py_ssize_t end, PyObject *pairs,
                PyTypeObject *evidence_type)
{
    if (b - a < 2) { /* (white space alone, or one mention: no pair) */
        return 0;
    }
    /* The actors, each once. */
    PyObject *distinct = PyList_New(0);
    if (distinct == NULL) {
        return -1;
    }
    int rc = -1;
    PyObject *sentence = NULL, *first = NULL, *last = NULL, *fired = NULL;
    for (Py_ssize_t k = a; k < b; k++) {
        int seen = PySequence_Contains(distinct, actors[k]);
        if (seen < 0 || (!seen && PyList_Append(distinct, actors[k]) < 0)) {
            goto done;
        }
    }
    Py_ssize_t count = PyList_GET_SIZE(distinct);
    if (count < 2) { /* one actor: no pair */
        rc = 0;
        goto done;
    }
    if (PyList_Sort(distinct) < 0) {
        goto done;
    }
    sentence = PyUnicode_Substring(text, start, end);
    first = PyLong_FromSsize_t(start);
    last = PyLong_FromSsize_t(end);
    if (!sentence || !first || !last) {
        goto done;
    }
    for (Py_ssize_t i = 0; i < count - 1; i++) {
        for (Py_ssize_t j = i + 1; j < count; j++) {
            PyObject *x = PyList_GET_ITEM(distinct, i), *y = PyList_GET_ITEM(distinct, j);
            if (count == 2) { /* (the pair's mentions are all of them) */
                fired = PyList_GetSlice(mentions, a, b);
            }
            else if ((fired = PyList_New(0)) != NULL) {
                for (Py_ssize_t k = a; k < b; k++) {
                    int in = PyObject_RichCompareBool(actors[k], x, Py_EQ);
                    if (in == 0) {
                        in = PyObject_RichCompareBool(actors[k], y, Py_EQ);
                    }
                    if (in < 0 || (in && PyList_Append(fired, PyList_GET_ITEM(mentions, k)) < 0)) {
                        Py_CLEAR(fired);
                        break;
                    }
                }
            }
            if (fired == NULL || record_pair(pairs, x, y, evidence_type, sentence, first, last,
                                             fired) < 0) {
                goto done;
            }
            Py_CLEAR(fired);
        }
    }
    rc = 0;
done:
    Py_XDECREF(fired);
    Py_XDECREF(sentence);
    Py_XDECREF(first);
    Py_XDECREF(last);
    Py_DECREF(distinct);
    return rc;
}

/* First index in starts[lo:hi] whose start is >= x (``right``: > x). */
static Py_ssize_t
bisect(const Py_ssize_t *starts, Py_ssize_t x, Py_ssize_t lo, Py_ssize_t hi, int right)
{
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (right ? starts[mid] <= x : starts[mid] < x) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo;
}

static PyObject *
sentence_pairs(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 7) {
        PyErr_SetString(PyExc_TypeError, "sentence_pairs() takes 7 arguments");
        return NULL;
    }
    PyObject *text = args[0], *mentions = args[1], *names = args[2], *pairs = args[3];
    PyObject *evidence_type = args[4];
    Line line;
    if (line_init(&line, text, args[5], args[6]) < 0) {
        return NULL;
    }
    if (!PyList_Check(mentions) || !PyList_Check(names) || !PyDict_Check(pairs)
        || PyList_GET_SIZE(names) != PyList_GET_SIZE(mentions) || !PyType_Check(evidence_type)) {
        PyErr_SetString(PyExc_TypeError,
                        "sentence_pairs() takes mentions and their actors as lists of one "
                        "length, a dict and the evidence class");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(mentions), n = PyUnicode_GET_LENGTH(text);
    PyObject **actors = PyMem_New(PyObject *, count ? count : 1);
    Py_ssize_t *starts = PyMem_New(Py_ssize_t, count ? count : 1);
    Ends ends = {NULL, 0, 0};
    int rc = -1;
    if (actors == NULL || starts == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        PyObject *mention = PyList_GET_ITEM(mentions, k);
        if (!PyTuple_Check(mention) || PyTuple_GET_SIZE(mention) < 4
            || as_index(PyTuple_GET_ITEM(mention, 3), "a mention's start", &starts[k]) < 0) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "a mention must be a Mention");
            }
            goto done;
        }
        if (starts[k] < 0 || starts[k] > n || (k && starts[k] < starts[k - 1])) {
            PyErr_SetString(PyExc_ValueError, "mentions must be in the text, in order");
            goto done;
        }
    }
    /* The actors and mentions are borrowed from copies of ``names`` and ``mentions``, which
       nothing called from here can change. */
    PyObject *held = PyList_GetSlice(names, 0, count);
    PyObject *listed = PyList_GetSlice(mentions, 0, count);
    if (held == NULL || listed == NULL) {
        Py_XDECREF(held);
        Py_XDECREF(listed);
        goto done;
    }
    for (Py_ssize_t k = 0; k < count; k++) {
        actors[k] = PyList_GET_ITEM(held, k);
    }
    Py_ssize_t i = 0;
    while (i < count) {
        Py_ssize_t first = starts[i], line_end = first;
        while (line_end < n && CHAR(&line, line_end) != '\n') {
            line_end++;
        }
        Py_ssize_t j = bisect(starts, line_end, i + 1, count, 1);
        int several = j - i >= 2 ? two_actors(actors, i, j) : 0;
        if (several < 0) {
            goto release;
        }
        if (several) {
            Py_ssize_t line_start = first;
            while (line_start > 0 && CHAR(&line, line_start - 1) != '\n') {
                line_start--;
            }
            if (line_ends(&line, line_start, line_end, starts[j - 1], &ends) < 0) {
                goto release;
            }
            Py_ssize_t lo = line_start, k = i;
            for (Py_ssize_t e = 0; e < ends.count; e++) {
                Py_ssize_t hi = ends.ends[e];
                Py_ssize_t h = bisect(starts, hi, k, j, 0);
                int pair = h - k >= 2 ? two_actors(actors, k, h) : 0;
                if (pair < 0) {
                    goto release;
                }
                if (pair) {
                    /* The sentence trimmed of white space; a mention in the white space
                       around it is in none. */
                    Py_ssize_t start = lo, end = hi;
                    while (start < hi && Py_UNICODE_ISSPACE(CHAR(&line, start))) {
                        start++;
                    }
                    while (end > start && Py_UNICODE_ISSPACE(CHAR(&line, end - 1))) {
                        end--;
                    }
                    Py_ssize_t a = k, b = h;
                    while (a < b && starts[a] < start) {
                        a++;
                    }
                    while (b > a && starts[b - 1] >= end) {
                        b--;
                    }
                    if (record_sentence(text, listed, actors, a, b, start, end, pairs,
                                        (PyTypeObject *)evidence_type) < 0) {
                        goto release;
                    }
                }
                k = h;
                lo = hi;
            }
        }
        i = j;
    }
    rc = 0;
release:
    Py_DECREF(held);
    Py_DECREF(listed);
done:
    PyMem_Free(actors);
    PyMem_Free(starts);
    PyMem_Free(ends.ends);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"select", (PyCFunction)(void (*)(void))select_mentions, METH_FASTCALL, select_doc},
    {"sentence_ends", sentence_ends, METH_VARARGS,
     "sentence_ends(text, lo, hi, until, abbreviations, starters) -> list\n\n"
     "``text.sentence_ends(text, lo, hi, until)``."},
    {"sentence_pairs", (PyCFunction)(void (*)(void))sentence_pairs, METH_FASTCALL,
     "sentence_pairs(text, mentions, actors, pairs, evidence, abbreviations, starters)\n\n"
     "``Gazetteer._sentence_pairs(text, mentions, pairs, actors)``, with the evidence class\n"
     "(``PairEvidence``)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    "dyadwatch._speedups",
    "Compiled forms of alias matching's per-match loops (see dyadwatch/actors.py).",
    -1,
    methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    for (Py_UCS4 ch = 0; ch < 128; ch++) {
        ascii_word[ch] = ch == '_' || Py_UNICODE_ISALNUM(ch);
    }
    for (int k = 0; k < 4; k++) {
        if (evidence_fields[k] == NULL
            && (evidence_fields[k] = PyUnicode_InternFromString(evidence_names[k])) == NULL) {
            return NULL;
        }
    }
    if (no_arguments == NULL && (no_arguments = PyTuple_New(0)) == NULL) {
        return NULL;
    }
    if (PyType_Ready(&AutomatonType) < 0 || PyType_Ready(&TextSearchType) < 0
        || PyType_Ready(&HitsType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL
        && (PyModule_AddObjectRef(module, "Automaton", (PyObject *)&AutomatonType) < 0
            || PyModule_AddObjectRef(module, "TextSearch", (PyObject *)&TextSearchType) < 0
            || PyModule_AddObjectRef(module, "Hits", (PyObject *)&HitsType) < 0)) {
        Py_CLEAR(module);
    }
    return module;
}
