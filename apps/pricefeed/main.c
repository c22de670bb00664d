/* pricefeed: a price-feed oracle app for callback deals (see README.md).
 *
 * Usage: pricefeed DECIMALS BUCKET_SECS
 *
 * Each input file ($IEXEC_IN/$IEXEC_INPUT_FILE_NAME_<n>, n = 1..$IEXEC_INPUT_FILES_NUMBER) is one
 * source's answer: a JSON object with "price" (a decimal number, or a string holding one) and
 * "timestamp" (unix seconds, an integer). Prices are read exactly as written (no floating point)
 * and scaled to DECIMALS decimal places, rounding half away from zero. A source that cannot be
 * read is skipped (the reason goes to stderr); more than half of the sources must be usable.
 *
 * value     = the median of the scaled prices (even count: the lower middle one, so the value is
 *             always one source's)
 * timestamp = the median of the sources' timestamps (even count: the lower middle one), floored
 *             to a multiple of BUCKET_SECS
 *
 * Writes computed.json with "callback-data" = abi.encode(int256 value, uint256 timestamp) and
 * result.txt with one human line. Exit codes: 1 bad arguments, 2 output not writable,
 * 3 not enough usable sources.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef __int128 i128;
typedef unsigned __int128 u128;

#define MAX_DECIMALS 36
#define MAX_FILE_BYTES (1 << 20)
#define MAX_DEPTH 64

static const u128 I128_MAX = ((u128)1 << 127) - 1;

/* ------------------------------------------------------------------ JSON scanning */

/* A cursor over one source's bytes. Only the top-level object's keys are looked at; every
 * other value is skipped with its syntax checked loosely (numbers that are not read are only
 * delimited). */
struct scan {
    const char *p, *end;
};

static int peek(const struct scan *s) { return s->p < s->end ? (unsigned char)*s->p : -1; }

static void skip_ws(struct scan *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) s->p++;
}

/* A string at the cursor: its raw content (escapes left as written) in [*start, *start + *len). */
static int string_token(struct scan *s, const char **start, size_t *len) {
    if (peek(s) != '"') return -1;
    s->p++;
    const char *begin = s->p;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            *start = begin;
            *len = (size_t)(s->p - begin);
            s->p++;
            return 0;
        }
        if (c < 0x20) return -1;
        if (c == '\\' && ++s->p >= s->end) return -1;
        s->p++;
    }
    return -1;
}

static int is_number_char(int c) {
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

static int skip_value(struct scan *s, int depth);

/* An object or array at the cursor, up to its closing bracket. */
static int skip_container(struct scan *s, int depth, int object) {
    char close = object ? '}' : ']';
    s->p++;
    skip_ws(s);
    if (peek(s) == close) {
        s->p++;
        return 0;
    }
    for (;;) {
        skip_ws(s);
        if (object) {
            const char *key;
            size_t len;
            if (string_token(s, &key, &len) != 0) return -1;
            skip_ws(s);
            if (peek(s) != ':') return -1;
            s->p++;
            skip_ws(s);
        }
        if (skip_value(s, depth + 1) != 0) return -1;
        skip_ws(s);
        int c = peek(s);
        if (c != ',' && c != close) return -1;
        s->p++;
        if (c == close) return 0;
    }
}

static int skip_literal(struct scan *s, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return -1;
    s->p += n;
    return 0;
}

static int skip_value(struct scan *s, int depth) {
    if (depth > MAX_DEPTH) return -1;
    const char *start;
    size_t len;
    int c = peek(s);
    if (c == '"') return string_token(s, &start, &len);
    if (c == '{') return skip_container(s, depth, 1);
    if (c == '[') return skip_container(s, depth, 0);
    if (c == 't') return skip_literal(s, "true");
    if (c == 'f') return skip_literal(s, "false");
    if (c == 'n') return skip_literal(s, "null");
    if (c == '-' || (c >= '0' && c <= '9')) {
        while (s->p < s->end && is_number_char((unsigned char)*s->p)) s->p++;
        return 0;
    }
    return -1;
}

/* The raw text of one field's value: a number as written, or a string's content. */
struct field {
    const char *text;
    size_t len;
    int present;
};

/* Find "price" and "timestamp" among the keys of the top-level object. NULL on success, else
 * what is wrong. A key given twice makes the source ambiguous: refused. */
static const char *find_fields(const char *buf, size_t n, struct field *price, struct field *timestamp) {
    struct scan s = {buf, buf + n};
    memset(price, 0, sizeof *price);
    memset(timestamp, 0, sizeof *timestamp);
    skip_ws(&s);
    if (peek(&s) != '{') return "not a JSON object";
    s.p++;
    skip_ws(&s);
    if (peek(&s) == '}') {
        s.p++;
    } else {
        for (;;) {
            skip_ws(&s);
            const char *key;
            size_t key_len;
            if (string_token(&s, &key, &key_len) != 0) return "malformed JSON (a key)";
            skip_ws(&s);
            if (peek(&s) != ':') return "malformed JSON (no ':' after a key)";
            s.p++;
            skip_ws(&s);
            struct field *f = NULL;
            if (key_len == 5 && memcmp(key, "price", 5) == 0) f = price;
            if (key_len == 9 && memcmp(key, "timestamp", 9) == 0) f = timestamp;
            if (f && f->present) return "a field is given twice";
            const char *value = s.p;
            if (f && peek(&s) == '"') {
                if (string_token(&s, &f->text, &f->len) != 0) return "malformed JSON (a string)";
                f->present = 1;
            } else {
                if (skip_value(&s, 1) != 0) return "malformed JSON (a value)";
                if (f) {
                    int c = (unsigned char)*value;
                    if (c != '-' && (c < '0' || c > '9')) return "a field is neither a number nor a string";
                    f->text = value;
                    f->len = (size_t)(s.p - value);
                    f->present = 1;
                }
            }
            skip_ws(&s);
            int c = peek(&s);
            if (c != ',' && c != '}') return "malformed JSON (expected ',' or '}')";
            s.p++;
            if (c == '}') break;
        }
    }
    skip_ws(&s);
    if (s.p != s.end) return "malformed JSON (text after the object)";
    if (!price->present) return "no \"price\" field";
    if (!timestamp->present) return "no \"timestamp\" field";
    return NULL;
}

/* ------------------------------------------------------------------ exact decimals */

static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* A JSON number (exactly its grammar: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?) times 10^decimals,
 * rounded half away from zero, as an integer of magnitude below 2^127. NULL on success. */
static const char *scale_decimal(const char *t, size_t n, int decimals, i128 *out) {
    size_t i = 0;
    int negative = 0;
    if (i < n && t[i] == '-') {
        negative = 1;
        i++;
    }
    size_t int_start = i;
    if (i < n && t[i] == '0') {
        i++;
    } else if (i < n && is_digit(t[i]) && t[i] != '0') {
        while (i < n && is_digit(t[i])) i++;
    } else {
        return "not a decimal number";
    }
    size_t int_end = i, frac_start = i, frac_end = i;
    if (i < n && t[i] == '.') {
        frac_start = ++i;
        while (i < n && is_digit(t[i])) i++;
        frac_end = i;
        if (frac_end == frac_start) return "no digit after the decimal point";
    }
    long long exponent = 0;
    if (i < n && (t[i] == 'e' || t[i] == 'E')) {
        int exp_negative = 0;
        i++;
        if (i < n && (t[i] == '+' || t[i] == '-')) exp_negative = t[i++] == '-';
        if (i >= n || !is_digit(t[i])) return "no digit in the exponent";
        while (i < n && is_digit(t[i])) {
            if (exponent < 1000000) exponent = exponent * 10 + (t[i] - '0');
            i++;
        }
        if (exp_negative) exponent = -exponent;
    }
    if (i != n) return "not a decimal number";

    /* the digits (integer part then fraction) without leading zeros: value = D x 10^shift */
    size_t int_len = int_end - int_start, frac_len = frac_end - frac_start;
    char *digits = malloc(int_len + frac_len + 1);
    if (!digits) return "out of memory";
    memcpy(digits, t + int_start, int_len);
    memcpy(digits + int_len, t + frac_start, frac_len);
    long long m = (long long)(int_len + frac_len);
    const char *d = digits;
    while (m > 0 && *d == '0') {
        d++;
        m--;
    }
    long long shift = (long long)decimals + exponent - (long long)frac_len;
    /* `keep`: how many digits the scaled integer has (the rest are rounded off) */
    long long keep = m > 0 ? m + shift : 0;
    u128 v = 0;
    const char *error = NULL;
    if (m > 0 && keep > 39) error = "out of range";
    for (long long k = 0; !error && k < keep; k++) {
        unsigned digit = k < m ? (unsigned)(d[k] - '0') : 0;
        if (v > (I128_MAX - digit) / 10) error = "out of range";
        else v = v * 10 + digit;
    }
    /* half away from zero: the magnitude goes up when the first digit dropped is 5 or more */
    if (!error && m > 0 && keep < m && keep >= 0 && d[keep] >= '5') {
        if (v == I128_MAX) error = "out of range";
        else v++;
    }
    free(digits);
    if (error) return error;
    *out = negative ? -(i128)v : (i128)v;
    return NULL;
}

/* Unix seconds: a plain non-negative integer (no sign, fraction or exponent) below 2^64. */
static const char *parse_timestamp(const char *t, size_t n, uint64_t *out) {
    if (n == 0 || (t[0] == '0' && n > 1)) return "the timestamp is not an integer";
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(t[i])) return "the timestamp is not an integer (unix seconds)";
        unsigned digit = (unsigned)(t[i] - '0');
        if (v > (UINT64_MAX - digit) / 10) return "the timestamp is out of range";
        v = v * 10 + digit;
    }
    *out = v;
    return NULL;
}

/* ------------------------------------------------------------------ sources */

/* The whole file, NUL-terminated; NULL (with `*why`) if unreadable or too large. */
static char *read_file(const char *path, size_t *len, const char **why) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        *why = "cannot open the file";
        return NULL;
    }
    char *buf = malloc(MAX_FILE_BYTES + 1);
    if (!buf) {
        fclose(f);
        *why = "out of memory";
        return NULL;
    }
    size_t n = fread(buf, 1, MAX_FILE_BYTES + 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || n > MAX_FILE_BYTES) {
        free(buf);
        *why = failed ? "cannot read the file" : "larger than 1 MiB";
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* One source: its scaled price and timestamp; NULL on success, else why it is skipped. */
static const char *read_source(const char *dir, const char *name, int decimals, i128 *price,
                               uint64_t *timestamp) {
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return "path too long";
    size_t len = 0;
    const char *why = NULL;
    char *buf = read_file(path, &len, &why);
    if (!buf) return why;
    struct field p, t;
    why = find_fields(buf, len, &p, &t);
    if (!why) {
        const char *bad_price = scale_decimal(p.text, p.len, decimals, price);
        if (bad_price) {
            static char message[96];
            snprintf(message, sizeof message, "the price: %s", bad_price);
            why = message;
        }
    }
    if (!why) why = parse_timestamp(t.text, t.len, timestamp);
    free(buf);
    return why;
}

/* ------------------------------------------------------------------ output */

static int cmp_i128(const void *a, const void *b) {
    i128 x = *(const i128 *)a, y = *(const i128 *)b;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* `v` with `decimals` decimal places, e.g. -1234.50000000. */
static void format_decimal(i128 v, int decimals, char *out, size_t size) {
    u128 magnitude = v < 0 ? (u128)0 - (u128)v : (u128)v;
    char digits[64];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(magnitude % 10));
        magnitude /= 10;
    } while (magnitude != 0);
    while (n <= decimals) digits[n++] = '0'; /* at least one digit before the point */
    size_t o = 0;
    if (v < 0 && o + 1 < size) out[o++] = '-';
    for (int i = n - 1; i >= 0 && o + 2 < size; i--) {
        out[o++] = digits[i];
        if (i == decimals && decimals > 0) out[o++] = '.';
    }
    out[o] = '\0';
}

static FILE *open_out(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    return f;
}

/* A decimal argument in [min, max], or -1. */
static long long parse_arg(const char *s, long long min, long long max) {
    if (!*s) return -1;
    long long v = 0;
    for (const char *c = s; *c; c++) {
        if (!is_digit(*c) || v > max) return -1;
        v = v * 10 + (*c - '0');
    }
    return v < min || v > max ? -1 : v;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: pricefeed DECIMALS BUCKET_SECS   (e.g. pricefeed 8 60)\n");
        return 1;
    }
    long long decimals = parse_arg(argv[1], 0, MAX_DECIMALS);
    if (decimals < 0) {
        fprintf(stderr, "pricefeed: DECIMALS must be an integer in 0..%d, not %s\n", MAX_DECIMALS, argv[1]);
        return 1;
    }
    long long bucket = parse_arg(argv[2], 1, 1000000000LL);
    if (bucket < 0) {
        fprintf(stderr, "pricefeed: BUCKET_SECS must be an integer in 1..1000000000, not %s\n", argv[2]);
        return 1;
    }
    const char *in = getenv("IEXEC_IN");
    if (!in || !*in) in = "/iexec_in";
    const char *out = getenv("IEXEC_OUT");
    if (!out || !*out) out = "/iexec_out";
    const char *count = getenv("IEXEC_INPUT_FILES_NUMBER");
    long long sources = count ? parse_arg(count, 0, 100000) : 0;
    if (sources < 0) {
        fprintf(stderr, "pricefeed: IEXEC_INPUT_FILES_NUMBER is not a count: %s\n", count);
        return 1;
    }
    if (sources == 0) {
        fprintf(stderr, "pricefeed: no input files: give each source's URL as an input file\n");
        return 3;
    }

    i128 *prices = malloc((size_t)sources * sizeof *prices);
    uint64_t *times = malloc((size_t)sources * sizeof *times);
    if (!prices || !times) {
        fprintf(stderr, "pricefeed: out of memory\n");
        return 2;
    }
    size_t used = 0;
    for (long long n = 1; n <= sources; n++) {
        char var[64];
        snprintf(var, sizeof var, "IEXEC_INPUT_FILE_NAME_%lld", n);
        const char *name = getenv(var);
        const char *why = !name || !*name ? "no file name" : NULL;
        if (!why) why = read_source(in, name, (int)decimals, &prices[used], &times[used]);
        if (why) {
            fprintf(stderr, "pricefeed: skipping source %lld (%s): %s\n", n, name ? name : "?", why);
            continue;
        }
        used++;
    }
    size_t skipped = (size_t)sources - used;
    if (used * 2 <= (size_t)sources) {
        fprintf(stderr,
                "pricefeed: only %zu of %lld sources are usable; more than half are needed, no value "
                "computed\n",
                used, sources);
        return 3;
    }

    qsort(prices, used, sizeof *prices, cmp_i128);
    qsort(times, used, sizeof *times, cmp_u64);
    i128 value = prices[(used - 1) / 2];
    uint64_t timestamp = times[(used - 1) / 2] / (uint64_t)bucket * (uint64_t)bucket;

    char text[96];
    format_decimal(value, (int)decimals, text, sizeof text);
    FILE *result = open_out(out, "result.txt");
    fprintf(result, "%s at %llu (median of %zu sources, %zu skipped)\n", text, (unsigned long long)timestamp,
            used, skipped);
    if (fclose(result) != 0) return 2;

    /* abi.encode(int256 value, uint256 timestamp): two big-endian words, the value's two's
     * complement sign-extended from 128 to 256 bits */
    u128 low = (u128)value;
    uint64_t high = value < 0 ? UINT64_MAX : 0;
    FILE *computed = open_out(out, "computed.json");
    fprintf(computed,
            "{\"deterministic-output-path\":\"/iexec_out/result.txt\","
            "\"callback-data\":\"0x%016llx%016llx%016llx%016llx%048d%016llx\"}\n",
            (unsigned long long)high, (unsigned long long)high, (unsigned long long)(low >> 64),
            (unsigned long long)low, 0, (unsigned long long)timestamp);
    if (fclose(computed) != 0) return 2;
    return 0;
}
