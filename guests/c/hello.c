// hello: a C guest (clang --target=wasm32-wasi with Debian's wasi-libc), proving any wasm32-wasi toolchain
// works unchanged. Prints a greeting with EVENT_ID and its arguments, then upper-cases stdin to stdout.
// Exits 4 when the first argument is "fail".
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  const char *id = getenv("EVENT_ID");
  printf("hello from C, event %s, %d args\n", id ? id : "(none)", argc - 1);
  for (int i = 1; i < argc; i++) printf("arg %d: %s\n", i, argv[i]);
  if (argc > 1 && strcmp(argv[1], "fail") == 0) {
    fprintf(stderr, "hello: asked to fail\n");
    return 4;
  }
  FILE *f = fopen("/etc/passwd", "r");
  printf("fopen /etc/passwd: %s\n", f ? "opened" : "refused");
  int c;
  while ((c = getchar()) != EOF) putchar(toupper(c));
  return 0;
}
