/* wordcount: count the lines, words and most frequent words of the task's dataset.
 *
 * Usage: wordcount [TOP]   (TOP: how many frequent words to list, default 10)
 *
 * Reads $IEXEC_IN/$IEXEC_DATASET_FILENAME (or, without a dataset, $IEXEC_IN/$IEXEC_INPUT_FILE_NAME_1).
 * A word is a maximal run of ASCII letters, digits, apostrophes or non-ASCII bytes (so UTF-8
 * words stay whole), compared after ASCII lower-casing. Ties are broken by byte order, so the
 * output is the same everywhere. Writes result.txt and points computed.json at it.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *word; /* NULL = empty slot */
    uint64_t count;
};

static struct entry *table;
static size_t capacity = 1024, used;

static void die(const char *what) {
    perror(what);
    exit(2);
}

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static void grow(void);

static void add_word(const char *w, size_t n, uint64_t count) {
    if ((used + 1) * 4 > capacity * 3) grow();
    size_t i = fnv1a(w, n) & (capacity - 1);
    while (table[i].word) {
        if (strlen(table[i].word) == n && memcmp(table[i].word, w, n) == 0) {
            table[i].count += count;
            return;
        }
        i = (i + 1) & (capacity - 1);
    }
    table[i].word = malloc(n + 1);
    if (!table[i].word) die("malloc");
    memcpy(table[i].word, w, n);
    table[i].word[n] = '\0';
    table[i].count = count;
    used++;
}

static void grow(void) {
    struct entry *old = table;
    size_t old_capacity = capacity;
    capacity *= 2;
    table = calloc(capacity, sizeof *table);
    if (!table) die("calloc");
    used = 0;
    for (size_t i = 0; i < old_capacity; i++) {
        if (old[i].word) {
            add_word(old[i].word, strlen(old[i].word), old[i].count);
            free(old[i].word);
        }
    }
    free(old);
}

static int by_count_then_word(const void *a, const void *b) {
    const struct entry *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->word, y->word);
}

static int is_word_byte(int c) {
    return isalnum(c) || c == '\'' || c >= 0x80;
}

static FILE *open_out(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) die(path);
    return f;
}

int main(int argc, char **argv) {
    long top = argc > 1 ? strtol(argv[1], NULL, 10) : 10;
    if (top < 0) top = 0;

    const char *in = getenv("IEXEC_IN");
    const char *out = getenv("IEXEC_OUT");
    if (!in || !*in) in = "/iexec_in";
    if (!out || !*out) out = "/iexec_out";
    const char *name = getenv("IEXEC_DATASET_FILENAME");
    if (!name || !*name) name = getenv("IEXEC_INPUT_FILE_NAME_1");
    if (!name || !*name) {
        fprintf(stderr, "wordcount: no dataset and no input file\n");
        return 1;
    }

    char path[4096];
    snprintf(path, sizeof path, "%s/%s", in, name);
    FILE *f = fopen(path, "rb");
    if (!f) die(path);

    table = calloc(capacity, sizeof *table);
    if (!table) die("calloc");

    uint64_t bytes = 0, lines = 0, words = 0;
    char word[256];
    size_t len = 0;
    int c;
    while ((c = getc(f)) != EOF) {
        bytes++;
        if (c == '\n') lines++;
        if (is_word_byte(c)) {
            if (len < sizeof word) word[len++] = (char)tolower(c);
        } else if (len > 0) {
            add_word(word, len, 1);
            words++;
            len = 0;
        }
    }
    if (len > 0) {
        add_word(word, len, 1);
        words++;
    }
    if (ferror(f)) die(path);
    fclose(f);

    struct entry *sorted = malloc((used ? used : 1) * sizeof *sorted);
    if (!sorted) die("malloc");
    size_t n = 0;
    for (size_t i = 0; i < capacity; i++)
        if (table[i].word) sorted[n++] = table[i];
    qsort(sorted, n, sizeof *sorted, by_count_then_word);

    FILE *result = open_out(out, "result.txt");
    fprintf(result, "file: %s\nbytes: %" PRIu64 "\nlines: %" PRIu64 "\nwords: %" PRIu64 "\ndistinct: %zu\n",
            name, bytes, lines, words, n);
    fprintf(result, "top:\n");
    for (size_t i = 0; i < n && i < (size_t)top; i++)
        fprintf(result, "%" PRIu64 " %s\n", sorted[i].count, sorted[i].word);
    if (fclose(result) != 0) return 2;

    FILE *computed = open_out(out, "computed.json");
    fputs("{\"deterministic-output-path\":\"/iexec_out/result.txt\"}\n", computed);
    if (fclose(computed) != 0) return 2;
    return 0;
}
