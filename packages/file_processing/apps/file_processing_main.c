/* file_processing_main.c — placeholder until the CLI lands. */
#include <stdio.h>
int main(void) {
  fputs("file-processing: not implemented yet\n", stderr);
  return 2;
}
