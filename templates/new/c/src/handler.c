// __NAME__: one event in on stdin, NDJSON records out on stdout (one row each in the sink).
// Here: a record {line, text, length} for every non-blank line of the event body.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void json_string(const char *s, size_t n) {
  putchar('"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"') fputs("\\\"", stdout);
    else if (c == '\\') fputs("\\\\", stdout);
    else if (c == '\t') fputs("\\t", stdout);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

static int blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) if (!isspace((unsigned char)s[i])) return 0;
  return 1;
}

int main(void) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  long n = 0;
  while ((len = getline(&line, &cap, stdin)) != -1) {
    n++;
    if (len > 0 && line[len - 1] == '\n') len--;
    if (len > 0 && line[len - 1] == '\r') len--;
    if (blank(line, (size_t)len)) continue;
    printf("{\"line\":%ld,\"text\":", n);
    json_string(line, (size_t)len);
    printf(",\"length\":%ld}\n", (long)len);
  }
  free(line);
  if (ferror(stdin)) {
    fprintf(stderr, "__NAME__: cannot read the event body\n");
    return 1;
  }
  return fflush(stdout) == 0 ? 0 : 1;
}
