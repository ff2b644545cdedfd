/* gen_officers.c — placeholder until the generator lands. */
#include <stdio.h>
int main(void) {
  fputs("fp-gen-officers: not implemented yet\n", stderr);
  return 2;
}
