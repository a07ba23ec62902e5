/* The floor for parsing: libyaml's event parser over every file named in argv[1..] (or listed
 * one per line on stdin), doing nothing with the events. beamsync's own parsing is compared
 * against this in scripts/bench.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

static int parse_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); return 1; }
    yaml_parser_t parser;
    yaml_event_t event;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int done = 0, status = 0;
    while (!done) {
        if (!yaml_parser_parse(&parser, &event)) { fprintf(stderr, "%s: parse error\n", path); status = 1; break; }
        done = (event.type == YAML_STREAM_END_EVENT);
        yaml_event_delete(&event);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    return status;
}

int main(int argc, char **argv) {
    int failures = 0;
    char line[4096];
    if (argc > 1) {
        for (int i = 1; i < argc; i++) failures += parse_file(argv[i]);
    } else {
        while (fgets(line, sizeof line, stdin)) {
            line[strcspn(line, "\n")] = 0;
            if (*line) failures += parse_file(line);
        }
    }
    return failures ? 1 : 0;
}
