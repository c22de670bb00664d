/* callback: an oracle-style app for callback deals.
 *
 * Usage: callback N   (N: unsigned decimal integer below 2^64)
 *
 * Writes computed.json with "callback-data" = abi.encode(uint256(N * N)), i.e. "0x" followed by
 * 64 hex digits (the square as a big-endian 256-bit word), and a human-readable result.txt.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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
    if (argc < 2) {
        fprintf(stderr, "usage: callback N\n");
        return 1;
    }
    char *end = NULL;
    errno = 0;
    uint64_t n = strtoull(argv[1], &end, 10);
    if (errno != 0 || end == argv[1] || *end != '\0' || argv[1][0] == '-') {
        fprintf(stderr, "callback: not an unsigned 64-bit integer: %s\n", argv[1]);
        return 1;
    }
    unsigned __int128 square = (unsigned __int128)n * n;
    uint64_t hi = (uint64_t)(square >> 64);
    uint64_t lo = (uint64_t)square;

    const char *out = getenv("IEXEC_OUT");
    if (!out || !*out) out = "/iexec_out";

    FILE *result = open_out(out, "result.txt");
    fprintf(result, "%" PRIu64 "^2 = 0x%016" PRIx64 "%016" PRIx64 "\n", n, hi, lo);
    if (fclose(result) != 0) return 2;

    /* abi.encode(uint256): one 32-byte big-endian word; the top 16 bytes are zero here */
    FILE *computed = open_out(out, "computed.json");
    fprintf(computed,
            "{\"deterministic-output-path\":\"/iexec_out/result.txt\","
            "\"callback-data\":\"0x%032d%016" PRIx64 "%016" PRIx64 "\"}\n",
            0, hi, lo);
    if (fclose(computed) != 0) return 2;
    return 0;
}
