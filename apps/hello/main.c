/* hello: the smallest dexec app.
 *
 * Writes "Hello, <args>!" (the arguments joined by spaces, "World" when there are none) to
 * $IEXEC_OUT/result.txt and points computed.json at it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(int argc, char **argv) {
    const char *out = getenv("IEXEC_OUT");
    if (!out || !*out) out = "/iexec_out";

    FILE *result = open_out(out, "result.txt");
    fputs("Hello, ", result);
    if (argc < 2) {
        fputs("World", result);
    }
    for (int i = 1; i < argc; i++) {
        if (i > 1) fputc(' ', result);
        fputs(argv[i], result);
    }
    fputs("!\n", result);
    if (fclose(result) != 0) return 2;

    FILE *computed = open_out(out, "computed.json");
    fputs("{\"deterministic-output-path\":\"/iexec_out/result.txt\"}\n", computed);
    if (fclose(computed) != 0) return 2;

    printf("hello: wrote %s/result.txt\n", out);
    return 0;
}
