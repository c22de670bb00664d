/* The worker's container self-check and the hostile apps of the tests, in one static binary
 * (no libc in the image: it is the image's only file). Built by `make -C crates/runtime/src/oci`
 * into selfcheck.x86_64, which is committed and embedded by the runtime.
 *
 *   selfcheck              checks the sandbox from inside: /iexec_out writable, /iexec_in and /
 *                          read-only, no network, environment present; writes a result
 *   selfcheck echo WORDS   writes WORDS and the determinism aids (TZ, SOURCE_DATE_EPOCH, seed,
 *                          hostname) to /iexec_out/result.txt: a deterministic app
 *   selfcheck fork-bomb | mem-bomb | net | write-root | sleep | big-output | exit N
 *                          the hostile behaviours the tests contain
 *   selfcheck clock        writes the wall clock: a non-deterministic app
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int write_file(const char *path, const char *text) {
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static int computed(const char *file) {
	char json[256];
	snprintf(json, sizeof json, "{\"deterministic-output-path\":\"/iexec_out/%s\"}\n", file);
	return write_file("/iexec_out/computed.json", json);
}

static const char *env(const char *name) {
	const char *v = getenv(name);
	return v ? v : "";
}

static int network_reachable(void) {
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return 0;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
	inet_pton(AF_INET, "10.0.2.3", &a.sin_addr);
	int ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
	close(s);
	/* any interface besides loopback? */
	return ok || access("/sys/class/net/eth0", F_OK) == 0;
}

static int self_check(void) {
	int bad = 0;
	if (write_file("/iexec_out/probe", "x") != 0) {
		fprintf(stderr, "selfcheck: /iexec_out is not writable: %s\n", strerror(errno));
		bad = 1;
	}
	unlink("/iexec_out/probe");
	if (write_file("/iexec_in/probe", "x") == 0) {
		fprintf(stderr, "selfcheck: /iexec_in is writable\n");
		bad = 1;
	}
	if (write_file("/probe", "x") == 0) {
		fprintf(stderr, "selfcheck: the root filesystem is writable\n");
		bad = 1;
	}
	if (write_file("/tmp/probe", "x") != 0) {
		fprintf(stderr, "selfcheck: /tmp is not writable: %s\n", strerror(errno));
		bad = 1;
	}
	if (network_reachable()) {
		fprintf(stderr, "selfcheck: the container has a network\n");
		bad = 1;
	}
	if (strcmp(env("IEXEC_OUT"), "/iexec_out") != 0) {
		fprintf(stderr, "selfcheck: IEXEC_OUT is not set\n");
		bad = 1;
	}
	if (bad)
		return 1;
	write_file("/iexec_out/result.txt", "selfcheck ok\n");
	computed("result.txt");
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 2)
		return self_check();
	const char *mode = argv[1];
	if (!strcmp(mode, "echo")) {
		FILE *f = fopen("/iexec_out/result.txt", "w");
		if (!f)
			return 2;
		for (int i = 2; i < argc; i++)
			fprintf(f, "%s%s", argv[i], i + 1 < argc ? " " : "\n");
		char host[256] = "";
		gethostname(host, sizeof host - 1);
		fprintf(f, "TZ=%s\nSOURCE_DATE_EPOCH=%s\nDEXEC_SEED=%s\nhostname=%s\ntask=%s\n",
			env("TZ"), env("SOURCE_DATE_EPOCH"), env("DEXEC_SEED"), host,
			env("IEXEC_TASK_ID"));
		fclose(f);
		return computed("result.txt") ? 2 : 0;
	}
	if (!strcmp(mode, "fork-bomb")) {
		for (;;)
			fork();
	}
	if (!strcmp(mode, "mem-bomb")) {
		for (;;) {
			char *p = malloc(16 << 20);
			if (p)
				memset(p, 1, 16 << 20);
		}
	}
	if (!strcmp(mode, "net")) {
		if (network_reachable()) {
			puts("connected");
			write_file("/iexec_out/result.txt", "network reachable\n");
			computed("result.txt");
			return 0;
		}
		fprintf(stderr, "no network\n");
		return 3;
	}
	if (!strcmp(mode, "write-root")) {
		if (write_file("/etc/owned", "owned\n") == 0 || write_file("/owned", "owned\n") == 0) {
			write_file("/iexec_out/result.txt", "root filesystem written\n");
			computed("result.txt");
			return 0;
		}
		fprintf(stderr, "read-only root: %s\n", strerror(errno));
		return 4;
	}
	if (!strcmp(mode, "sleep")) {
		for (;;)
			sleep(1000);
	}
	if (!strcmp(mode, "big-output")) {
		/* 1 GiB in 1 MiB writes */
		static char chunk[1 << 20];
		memset(chunk, 'x', sizeof chunk);
		int fd = open("/iexec_out/big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			return 5;
		for (int i = 0; i < 1024; i++)
			if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk) {
				fprintf(stderr, "write %d MiB: %s\n", i, strerror(errno));
				return 6;
			}
		close(fd);
		return computed("big") ? 2 : 0;
	}
	if (!strcmp(mode, "clock")) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		char text[64];
		snprintf(text, sizeof text, "%lld.%09ld\n", (long long)now.tv_sec, now.tv_nsec);
		write_file("/iexec_out/result.txt", text);
		return computed("result.txt") ? 2 : 0;
	}
	if (!strcmp(mode, "exit") && argc > 2)
		return atoi(argv[2]);
	fprintf(stderr, "selfcheck: unknown mode %s\n", mode);
	return 64;
}
