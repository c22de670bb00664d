/* pi: Monte-Carlo estimate of pi, a deterministic compute-heavy kernel.
 *
 * Usage: pi [ITERATIONS] [SEED]   (defaults: 1000000, 1)
 *
 * Points are drawn with an integer PRNG (splitmix64) seeded by SEED and tested with integer
 * arithmetic only, so every platform counts the same hits; the work grows linearly with
 * ITERATIONS. Writes the estimate to $IEXEC_OUT/result.txt and points computed.json at it.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
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

int main(int argc, char **argv) {
    uint64_t iterations = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000ull;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1ull;
    if (iterations == 0) {
        fprintf(stderr, "pi: ITERATIONS must be a positive integer\n");
        return 1;
    }

    uint64_t state = seed;
    uint64_t inside = 0;
    for (uint64_t i = 0; i < iterations; i++) {
        uint64_t r = splitmix64(&state);
        /* two 31-bit coordinates in [0, 2^31): x^2 + y^2 < 2^62 fits in 64 bits */
        uint64_t x = r & 0x7FFFFFFFull;
        uint64_t y = (r >> 32) & 0x7FFFFFFFull;
        inside += (x * x + y * y) < (1ull << 62);
    }

    /* 4 * inside / iterations with 9 decimals, integer arithmetic only */
    uint64_t scaled = (uint64_t)(((unsigned __int128)inside * 4000000000ull) / iterations);
    const char *out = getenv("IEXEC_OUT");
    if (!out || !*out) out = "/iexec_out";

    FILE *result = open_out(out, "result.txt");
    fprintf(result, "pi ~= %" PRIu64 ".%09" PRIu64 " (%" PRIu64 " of %" PRIu64 " points, seed %" PRIu64 ")\n",
            (uint64_t)(scaled / 1000000000u), (uint64_t)(scaled % 1000000000u), inside, iterations, seed);
    if (fclose(result) != 0) return 2;

    FILE *computed = open_out(out, "computed.json");
    fputs("{\"deterministic-output-path\":\"/iexec_out/result.txt\"}\n", computed);
    if (fclose(computed) != 0) return 2;
    return 0;
}
