// files: exercises wasi-libc's file API against the host's preopens: lists a directory, reads a file
// with stdio, writes one, and tries to leave the grant. Usage: files DIR (a guest path like /data).
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *dir = argv[1];
  char path[512];
  DIR *d = opendir(dir);
  if (!d) { printf("opendir %s: %s\n", dir, strerror(errno)); return 1; }
  struct dirent *e;
  int count = 0;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) printf("file %s %lld\n", e->d_name, (long long)st.st_size);
    count++;
  }
  closedir(d);
  printf("entries %d\n", count);
  snprintf(path, sizeof path, "%s/in.txt", dir);
  FILE *f = fopen(path, "r");
  char line[256];
  if (f) { while (fgets(line, sizeof line, f)) printf("read: %s", line); fclose(f); }
  else printf("fopen in.txt: %s\n", strerror(errno));
  snprintf(path, sizeof path, "%s/out.txt", dir);
  f = fopen(path, "w");
  if (f) { fprintf(f, "from C\n"); fclose(f); printf("wrote out.txt\n"); }
  else printf("fopen out.txt for writing: %s\n", strerror(errno));
  snprintf(path, sizeof path, "%s/../../etc/passwd", dir);
  f = fopen(path, "r");
  printf("escape: %s\n", f ? "opened" : strerror(errno));
  return 0;
}
