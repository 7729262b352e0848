// fdbomb (hostile): opens one granted file again and again and never closes it, as a guest trying to
// exhaust the host's file descriptors would. Usage: fdbomb FILE [hold]. Prints
// "opened N, then errno E (message)"; with "hold" it then sleeps a second holding every fd it got, so
// the host can count its own descriptors meanwhile.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  int n = 0, err = 0;
  for (;;) {
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) { err = errno; break; }
    if (++n >= 1000000) break;  // a host without a limit: stop before taking the whole machine
  }
  printf("opened %d, then errno %d (%s)\n", n, err, strerror(err));
  fflush(stdout);
  if (argc > 2 && strcmp(argv[2], "hold") == 0) sleep(1);
  return 0;
}
