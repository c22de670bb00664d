/* forever: an app that never finishes its work.
 *
 * It never writes a result: it waits forever, the way a buggy or hostile app would to keep a
 * worker busy and make its task expire. The mode (first argument) says how it waits:
 *
 *   sleep   (default) sleep(1) in a loop: poll_oneoff on a clock
 *   stdin   read stdin in a loop, as if waiting for input that never comes
 *   spin    a busy loop with no host call at all
 *
 * dexec's runtime serves sleeps from a virtual clock (they return at once) and gives an empty
 * stdin, so every mode ends the same way on every worker: out of fuel, a deterministic error
 * result. Once an hour of virtual time it prints how long it has slept, so the captured stdout
 * shows the sleeps returning.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void sleep_forever(void) {
    for (unsigned long long seconds = 1;; seconds++) {
        sleep(1);
        if (seconds % 3600 == 0) {
            printf("forever: slept %llu h\n", seconds / 3600);
            fflush(stdout); /* it never exits, so nothing else would flush */
        }
    }
}

static void read_forever(void) {
    char buf[4096];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n > 0) fwrite(buf, 1, (size_t)n, stdout); /* echo anything that ever comes */
    }
}

static void spin_forever(void) {
    /* volatile: the compiler must not prove the loop endless and drop it */
    volatile unsigned long long turns = 0;
    for (;;) turns++;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "sleep";
    if (strcmp(mode, "sleep") == 0) sleep_forever();
    if (strcmp(mode, "stdin") == 0) read_forever();
    if (strcmp(mode, "spin") == 0) spin_forever();
    fprintf(stderr, "forever: unknown mode %s (sleep, stdin or spin)\n", mode);
    return 2;
}
