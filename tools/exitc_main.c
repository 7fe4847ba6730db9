/* exitc OUT.pack SCRIPT|DIR...: the command line only (tests link the rest without this main). */
#include <stdio.h>
#include "tools/exitc_api.h"

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: exitc OUT.pack FILE.exits|DIR...\n"
                        "  compiles exit scripts (a directory: its *.exits files, in name order) into one pack;\n"
                        "  exit status 0 when the pack was written, script errors included (each is a failing\n"
                        "  test inside it), 2 on usage, I/O or environment errors\n");
        return 2;
    }
    return exitc_compile((const char *const *)argv + 2, argc - 2, argv[1], stderr);
}
